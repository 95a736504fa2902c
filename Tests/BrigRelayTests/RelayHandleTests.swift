import BrigAudit
import BrigContent
import BrigJSONRPC
import BrigProfile
import BrigSystem
import Foundation
import Testing

@testable import BrigRelay

/// `Relay.handle`'s combinations, over real pipes: the message policy alone, the content
/// defenses alone, both together, and malformed input with the policy and the audit trail on.
@Suite("Relay.handle: policy, content and audit combined")
struct RelayHandleTests {
    static func call(_ id: String, _ tool: String, _ arguments: String = "{}", meta: String? = nil) -> String {
        let m = meta.map { ",\"_meta\":\($0)" } ?? ""
        return "{\"jsonrpc\":\"2.0\",\"id\":\(id),\"method\":\"tools/call\",\"params\":{\"name\":\"\(tool)\",\"arguments\":\(arguments)\(m)}}"
    }

    static func textResult(_ id: String, _ text: String) -> String {
        "{\"jsonrpc\":\"2.0\",\"id\":\(id),\"result\":{\"content\":[{\"type\":\"text\",\"text\":\"\(text)\"}]}}"
    }

    static func toolList(_ id: String, _ tools: [(name: String, description: String)]) -> String {
        let items = tools.map { "{\"name\":\"\($0.name)\",\"description\":\"\($0.description)\",\"inputSchema\":{\"type\":\"object\"}}" }
        return "{\"jsonrpc\":\"2.0\",\"id\":\(id),\"result\":{\"tools\":[\(items.joined(separator: ","))]}}"
    }

    static func names(_ list: JSONValue?) -> [String] {
        (list?["result"]?["tools"]?.arrayValue ?? []).compactMap { $0["name"]?.stringValue }
    }

    /// The text of the first content item of a result.
    static func text(_ message: JSONValue?) -> String? {
        message?["result"]?["content"]?.arrayValue?.first?["text"]?.stringValue
    }

    // MARK: 1. Policy only

    @Test("policy: an allowed call passes byte for byte, spacing and key order included")
    func allowedCallPasses() throws {
        let h = RelayHarness(policy: try Fixtures.policy())
        let line = #"{ "method":"tools/call", "jsonrpc":"2.0","params":{"arguments":{"path":"/etc/hosts"},"name":"read_file"},"id":1 }"#
        let out = h.fromHost(line + "\n")
        #expect(out.server == line + "\n")
        #expect(out.host.isEmpty)
        #expect(h.relay.hostRequests.lookup(id: "1")?.method == "tools/call")
    }

    @Test("policy: a tool denied by name never reaches the server; the host gets -32602 Unknown tool with the call's id")
    func deniedByName() throws {
        let h = RelayHarness(policy: try Fixtures.policy())
        let out = h.fromHost(Self.call("\"d-1\"", "delete_repo", #"{"repo":"x"}"#) + "\n")
        #expect(out.server.isEmpty)
        let answers = out.hostMessages
        try #require(answers.count == 1)
        #expect(answers[0]["id"] == .string("d-1"))
        #expect(answers[0]["result"] == nil)
        #expect(answers[0].errorCode == String(MessageError.invalidParams))
        #expect(answers[0]["error"]?["message"]?.stringValue == "Unknown tool: delete_repo")
        #expect(answers[0]["error"]?["data"]?["category"]?.stringValue == "tool")
        // brig answered it: the server's answer is not awaited.
        #expect(h.relay.hostRequests.lookup(id: "\"d-1\"") == nil)
    }

    @Test(
        "policy: a call denied for its arguments is an isError result, with resultType only in the 2026-07-28 era",
        arguments: [
            (nil, false),
            (#"{"io.modelcontextprotocol/protocolVersion":"2025-11-25"}"#, false),
            (#"{"io.modelcontextprotocol/protocolVersion":"2026-07-28"}"#, true),
        ] as [(String?, Bool)])
    func deniedByArguments(meta: String?, modern: Bool) throws {
        let h = RelayHarness(policy: try Fixtures.policy())
        let out = h.fromHost(Self.call("7", "write_file", #"{"path":"/etc/passwd","text":"x"}"#, meta: meta) + "\n")
        #expect(out.server.isEmpty)
        let answers = out.hostMessages
        try #require(answers.count == 1)
        #expect(answers[0]["id"] == .number("7"))
        #expect(answers[0]["error"] == nil)
        #expect(answers[0]["result"]?["isError"] == .bool(true))
        #expect(answers[0]["result"]?["resultType"] == (modern ? .string("complete") : nil))
        #expect(answers[0]["result"]?["_meta"]?["brig/denied"]?["category"]?.stringValue == "arguments")
        #expect(Self.text(answers[0])?.hasPrefix("brig denied this call to write_file") == true)
        // The same tool with an argument the rule allows passes unchanged.
        let allowed = Self.call("8", "write_file", #"{"path":"/work/w/a.txt","text":"x"}"#, meta: meta)
        let next = h.fromHost(allowed + "\n")
        #expect(next.server == allowed + "\n")
        #expect(next.host.isEmpty)
    }

    @Test("policy: a denied tool is removed from a tools/list result; a list without one passes byte for byte")
    func listFiltered() throws {
        let h = RelayHarness(policy: try Fixtures.policy())
        #expect(h.fromHost(#"{"jsonrpc":"2.0","id":3,"method":"tools/list"}"# + "\n").server.isEmpty == false)
        let out = h.fromServer(Self.toolList("3", [("read_file", "reads"), ("delete_repo", "deletes"), ("write_file", "writes")]) + "\n")
        #expect(out.server.isEmpty)
        let list = try #require(out.hostMessages.first)
        #expect(out.hostMessages.count == 1)
        #expect(list["id"] == .number("3"))
        #expect(Self.names(list) == ["read_file", "write_file"])
        #expect(list["result"]?["tools"]?.arrayValue?.first?["description"] == .string("reads"))

        _ = h.fromHost(#"{"jsonrpc":"2.0","id":4,"method":"tools/list"}"# + "\n")
        let clean = Self.toolList("4", [("read_file", "reads")])
        #expect(h.fromServer(clean + "\n").host == clean + "\n")
    }

    @Test("policy: notifications pass both ways byte for byte")
    func notificationsPass() throws {
        let h = RelayHarness(policy: try Fixtures.policy())
        let up = #"{"jsonrpc":"2.0","method":"notifications/initialized"}"# + "\n"
        let cancelled = #"{"jsonrpc":"2.0","method":"notifications/cancelled","params":{"requestId":1,"reason":"x"}}"# + "\n"
        let upOut = h.fromHost(up + cancelled)
        #expect(upOut.server == up + cancelled)
        #expect(upOut.host.isEmpty)
        let down = #"{"jsonrpc":"2.0","method":"notifications/tools/list_changed"}"# + "\n"
        let downOut = h.fromServer(down)
        #expect(downOut.host == down)
        #expect(downOut.server.isEmpty)
    }

    // MARK: 2. Content only

    @Test(
        "content: a secret in a result is redacted on its way to the host",
        arguments: [
            ("token " + Fixtures.githubToken + " here", Fixtures.githubToken, "[REDACTED:github-token]"),
            ("deploy with s3cr3t-value-42 now", "s3cr3t-value-42", "[REDACTED:secret:DEPLOY_KEY]"),
        ])
    func leakRedacted(text: String, secret: String, marker: String) throws {
        let h = RelayHarness(content: try Fixtures.content(leaks: .redact, secrets: ["DEPLOY_KEY": "s3cr3t-value-42"]))
        let request = Self.call("5", "read_file")
        #expect(h.fromHost(request + "\n").server == request + "\n")
        let out = h.fromServer(Self.textResult("5", text) + "\n")
        #expect(out.server.isEmpty)
        #expect(!out.host.contains(secret))
        let answer = try #require(out.hostMessages.first)
        #expect(answer["id"] == .number("5"))
        #expect(Self.text(answer) == text.replacingOccurrences(of: secret, with: marker))
    }

    @Test("content: leaks: block turns a tools/call result with a secret into an isError result")
    func leakBlocked() throws {
        let h = RelayHarness(content: try Fixtures.content(leaks: .block))
        _ = h.fromHost(Self.call("\"b\"", "read_file") + "\n")
        let out = h.fromServer(Self.textResult("\"b\"", "key: " + Fixtures.githubToken) + "\n")
        #expect(!out.host.contains(Fixtures.githubToken))
        let answer = try #require(out.hostMessages.first)
        #expect(answer["id"] == .string("b"))
        #expect(answer["result"]?["isError"] == .bool(true))
        #expect(Self.text(answer)?.hasPrefix("brig withheld this result: it carried a secret") == true)
    }

    @Test(
        "content: hidden characters are removed from a result, raw or escaped",
        arguments: [
            ("pay\u{202E}load and in\u{200D}visible", "payload and invisible"),
            (#"pay\u202Eload and in\u200Dvisible"#, "payload and invisible"),
            ("tag\u{E0041}\u{E0042}s", "tags"),
        ])
    func sanitized(text: String, expected: String) throws {
        let h = RelayHarness(content: try Fixtures.content())
        _ = h.fromHost(Self.call("6", "read_file") + "\n")
        let out = h.fromServer(Self.textResult("6", text) + "\n")
        let answer = try #require(out.hostMessages.first)
        #expect(answer["id"] == .number("6"))
        #expect(Self.text(answer) == expected)
    }

    @Test("content: a clean result passes byte for byte")
    func cleanResultPasses() throws {
        let h = RelayHarness(content: try Fixtures.content(leaks: .block, secrets: ["DEPLOY_KEY": "s3cr3t-value-42"]))
        _ = h.fromHost(Self.call("9", "read_file") + "\n")
        let line = #"{"jsonrpc":"2.0",  "id":9,"result":{ "content":[{"type":"text","text":"all fine, ghp_ is only a prefix"}] } }"#
        let out = h.fromServer(line + "\n")
        #expect(out.host == line + "\n")
        #expect(out.server.isEmpty)
    }

    // MARK: 3. Content and policy

    @Test("content then policy: a rewritten tools/list is still filtered, and the content defenses saw it whole")
    func rewrittenListFiltered() throws {
        let dir = try TempDir()
        defer { dir.remove() }
        let audit = try AuditLog.open(try dir.auditOptions())
        let h = RelayHarness(policy: try Fixtures.policy(), audit: audit, content: try Fixtures.content(secrets: ["DEPLOY_KEY": "s3cr3t-value-42"]))
        _ = h.fromHost(#"{"jsonrpc":"2.0","id":"L","method":"tools/list"}"# + "\n")
        let out = h.fromServer(
            Self.toolList(
                "\"L\"",
                [
                    ("read_file", "reads with " + Fixtures.githubToken), ("delete_repo", "deletes with s3cr3t-value-42"),
                    ("write_file", "wr\u{202E}ites"),
                ]) + "\n")
        audit.close()
        #expect(out.server.isEmpty)
        #expect(out.hostMessages.count == 1)
        let list = try #require(out.hostMessages.first)
        #expect(list["id"] == .string("L"))
        // The policy's filter applied to the rewritten line...
        #expect(Self.names(list) == ["read_file", "write_file"])
        // ... and the rewrite survived the filter.
        let tools = list["result"]?["tools"]?.arrayValue ?? []
        #expect(tools.first?["description"] == .string("reads with [REDACTED:github-token]"))
        #expect(tools.last?["description"] == .string("writes"))
        #expect(!out.host.contains(Fixtures.githubToken) && !out.host.contains("s3cr3t-value-42"))
        // Content first: it found the secret in delete_repo, which the policy then removed.
        let events = try dir.records().filter { $0.action == "leak" }
        let items = Set(events.compactMap { $0["brig"]?["detail"]?["item"]?.stringValue })
        #expect(items == ["tool:read_file", "tool:delete_repo"])
    }

    // MARK: 4. Audit

    @Test("audit: every forwarded message and every refusal has a record, and the chain verifies")
    func everyMessageRecorded() throws {
        let dir = try TempDir()
        defer { dir.remove() }
        let audit = try AuditLog.open(try dir.auditOptions())
        let h = RelayHarness(policy: try Fixtures.policy(), audit: audit)
        let up = h.fromHost(
            [
                Self.call("1", "read_file"), Self.call("2", "delete_repo"), #"{"jsonrpc":"2.0","method":"notifications/initialized"}"#,
                #"{"jsonrpc":"2.0","id":3,"method":"tools/list"}"#,
            ].joined(separator: "\n") + "\n")
        #expect(up.server.split(separator: "\n").count == 3)
        #expect(up.hostMessages.map { $0["id"] } == [.number("2")])
        let down = h.fromServer(
            [
                Self.textResult("1", "ok"), Self.toolList("3", [("read_file", "r"), ("delete_repo", "d")]),
                #"{"jsonrpc":"2.0","method":"notifications/progress","params":{"progressToken":1,"progress":1}}"#,
            ].joined(separator: "\n") + "\n")
        #expect(down.host.split(separator: "\n").count == 3)
        audit.close()

        let records = try dir.records()
        let messages = records.filter { $0.action == "message" }
        let upRecords = messages.filter { $0.direction == "host-to-server" }
        let downRecords = messages.filter { $0.direction == "server-to-host" }
        #expect(upRecords.compactMap { $0["mcp"]?["id"]?.stringValue } == ["1", "2", "3"])
        #expect(upRecords.count == 4)
        #expect(downRecords.count == 3)
        let denied = try #require(upRecords.first { $0["mcp"]?["id"] == .string("2") })
        #expect(denied["mcp"]?["decision"]?["allowed"] == .bool(false))
        #expect(denied["mcp"]?["tool"] == .string("delete_repo"))
        #expect(denied["event"]?["outcome"] == .string("failure"))
        let allowed = try #require(upRecords.first { $0["mcp"]?["id"] == .string("1") })
        #expect(allowed["mcp"]?["decision"]?["allowed"] == .bool(true))
        let response = try #require(downRecords.first { $0["mcp"]?["id"] == .string("1") })
        #expect(response["mcp"]?["method"] == .string("tools/call"))
        #expect(response["mcp"]?["tool"] == .string("read_file"))
        #expect(records.last?.action == "session-end")
        let verification = AuditVerifier.verify(files: [dir.logPath], key: Fixtures.auditKey)
        #expect(verification.isIntact)
    }

    @Test("audit: on_failure: block and an unhealthy log: nothing is forwarded, requests and responses are answered with -32603")
    func unhealthyLogRefuses() async {
        let result = await #expect(processExitsWith: .success, observing: [\.standardErrorContent]) {
            AuditFailure.unhealthyBeforeTheMessages()
        }
        let failures = AuditFailure.failures(in: result?.standardErrorContent ?? [])
        #expect(failures.isEmpty, "\(failures.joined(separator: "\n"))")
    }

    @Test(
        "audit: fsync: always and a record that cannot be written: its message is refused, and answered once",
        arguments: [false, true])
    func lostRecordRefuses(denied: Bool) async {
        let result = await #expect(processExitsWith: .success, observing: [\.standardErrorContent]) { [denied] in
            AuditFailure.recordLostWhileHealthy(denied: denied)
        }
        let failures = AuditFailure.failures(in: result?.standardErrorContent ?? [])
        #expect(failures.isEmpty, "\(failures.joined(separator: "\n"))")
    }

    // MARK: 5. Malformed input, with policy and audit on

    @Test("malformed from the host: never forwarded, answered with the spec's error and the id it had, recorded")
    func malformedFromHost() throws {
        let dir = try TempDir()
        defer { dir.remove() }
        let audit = try AuditLog.open(try dir.auditOptions())
        let h = RelayHarness(policy: try Fixtures.policy(), audit: audit) { $0.maximumMessageBytes = 1024 }
        let big = Self.call("\"big\"", "read_file", "{\"path\":\"" + String(repeating: "a", count: 3000) + "\"}")
        let after = #"{"jsonrpc":"2.0","method":"notifications/initialized"}"#
        let out = h.fromHost(
            [
                "not json at all", #"{"id":7,"method":"tools/call","params":{"name":"read_file","arguments":{}}}"#, big, after,
            ].joined(separator: "\n") + "\n")
        audit.close()
        #expect(out.server == after + "\n")
        let answers = out.hostMessages
        try #require(answers.count == 3)
        #expect(answers[0]["id"] == .null && answers[0].errorCode == String(MessageError.parseError))
        #expect(answers[1]["id"] == .number("7") && answers[1].errorCode == String(MessageError.invalidRequest))
        #expect(answers[2]["id"] == .string("big") && answers[2].errorCode == String(MessageError.invalidRequest))
        #expect(h.relay.hostRequests.lookup(id: "7") == nil)

        let records = try dir.records()
        let malformed = records.filter { $0.action == "malformed-message" }
        #expect(malformed.count == 2)
        #expect(malformed.allSatisfy { $0["brig"]?["detail"]?["direction"] == .string("host-to-server") })
        let oversized = records.filter { $0.action == "oversized-message" }
        #expect(oversized.count == 1)
        #expect(oversized.first?["brig"]?["detail"]?["limit"] == .number("1024"))
        // Only the valid line is a message record.
        #expect(records.filter { $0.action == "message" }.count == 1)
    }

    @Test("malformed from the server: never forwarded, the waiting host request answered with -32603, recorded")
    func malformedFromServer() throws {
        let dir = try TempDir()
        defer { dir.remove() }
        let audit = try AuditLog.open(try dir.auditOptions())
        let h = RelayHarness(policy: try Fixtures.policy(), audit: audit) { $0.maximumMessageBytes = 1024 }
        let calls = ["10", "11", "12"].map { Self.call($0, "read_file") }
        #expect(h.fromHost(calls.joined(separator: "\n") + "\n").server == calls.joined(separator: "\n") + "\n")
        let good = Self.textResult("12", "fine")
        let out = h.fromServer(
            [
                "debug: starting up", #"{"id":10,"result":{"content":[]}}"#, Self.textResult("11", String(repeating: "b", count: 3000)), good,
            ].joined(separator: "\n") + "\n")
        audit.close()
        #expect(out.server.isEmpty)
        let answers = out.hostMessages
        try #require(answers.count == 3)
        #expect(answers[0]["id"] == .number("10") && answers[0].errorCode == String(MessageError.internalError))
        #expect(answers[1]["id"] == .number("11") && answers[1].errorCode == String(MessageError.internalError))
        #expect(out.host.hasSuffix(good + "\n"))
        for id in ["10", "11", "12"] { #expect(h.relay.hostRequests.lookup(id: id) == nil) }

        let records = try dir.records()
        let malformed = records.filter { $0.action == "malformed-message" }
        #expect(malformed.count == 2)
        #expect(malformed.allSatisfy { $0["brig"]?["detail"]?["direction"] == .string("server-to-host") })
        #expect(records.filter { $0.action == "oversized-message" }.count == 1)
        let down = records.filter { $0.action == "message" && $0.direction == "server-to-host" }
        #expect(down.compactMap { $0["mcp"]?["id"]?.stringValue } == ["12"])
    }

    @Test("every content finding is recorded under the audit action that spells its kind (docs/audit.md)")
    func findingActions() {
        let spelled: [ContentFinding.Action: String] = [
            .pinNew: "pin-new", .pinChanged: "pin-changed", .pinRemoved: "pin-removed", .pinError: "pin-error",
            .sanitized: "sanitized", .poisoning: "poisoning", .leak: "leak",
        ]
        #expect(spelled.count == ContentFinding.Action.allCases.count)
        for action in ContentFinding.Action.allCases {
            #expect(AuditAction(action).rawValue == spelled[action], "\(action)")
        }
    }
}
