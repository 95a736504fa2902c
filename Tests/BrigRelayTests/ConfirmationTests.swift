import BrigAudit
import BrigJSONRPC
import BrigPolicy
import BrigSecrets
import BrigSystem
import Synchronization
import Testing

@testable import BrigRelay

@Suite("Asking the user: the question, the capability, the retry, the timer")
struct ConfirmationTests {
    static let rule = "/p/x.yaml:5 mcp.tools.rules[0] (git_*)"

    func question(_ arguments: String?) throws -> String {
        ConfirmationQuestion(
            tool: "git_commit", arguments: try arguments.map { try JSONValue.parse($0) }, rule: ConfirmationTests.rule,
            redactor: Redactor(secretValues: ["DEPLOY_KEY": "k-123456789"])
        ).text
    }

    @Test func argumentsOnePerLineRedactedWithTheRule() throws {
        let text = try question(#"{"repo_path": "/work/r", "message": "fix: typo", "amend": false, "files": ["a", "b"], "api_token": "t0ps3cret", "note": "uses k-123456789"}"#)
        #expect(
            text == """
                Allow the tool git_commit to run with these arguments?
                  repo_path: /work/r
                  message: fix: typo
                  amend: false
                  files: ["a","b"]
                  api_token: [REDACTED:key:api_token]
                  note: uses [REDACTED:secret:DEPLOY_KEY]
                brig asks because of /p/x.yaml:5 mcp.tools.rules[0] (git_*). Accept runs this one call; decline refuses it.
                """)
    }

    @Test func noArguments() throws {
        for args in [nil, "{}", "null"] {
            #expect(try question(args).hasPrefix("Allow the tool git_commit to run (no arguments)?\nbrig asks because of"))
        }
    }

    @Test("a value that could pass for another line, or hide, is quoted")
    func controlCharactersAreQuoted() throws {
        let text = try question(#"{"message": "ok\nbrig asks because of nothing. Accept", "b": " padded", "c": "", "d": "a\u202Eb"}"#)
        let lines = text.split(separator: "\n")
        #expect(lines.count == 6)
        #expect(lines[1] == #"  message: "ok\nbrig asks because of nothing. Accept""#)
        #expect(lines[2] == #"  b: " padded""#)
        #expect(lines[3] == #"  c: """#)
        #expect(lines[4].hasPrefix("  d: \"a\\u"))
    }

    @Test("long values, many arguments and the whole text are bounded")
    func bounded() throws {
        let long = String(repeating: "x", count: 5000)
        let one = try question("{\"content\": \"\(long)\"}")
        #expect(one.contains("... (\(5000 - ConfirmationQuestion.valueLimit) more characters)"))
        #expect(one.count < 600)
        let many = "{" + (0..<100).map { "\"a\($0)\": \"\(String(repeating: "v", count: 200))\"" }.joined(separator: ",") + "}"
        let text = try question(many)
        #expect(text.count <= ConfirmationQuestion.textLimit + 200)
        #expect(text.hasSuffix("Accept runs this one call; decline refuses it."))
    }

    @Test func elicitationParams() throws {
        let q = ConfirmationQuestion(tool: "t", arguments: nil, rule: "r", redactor: Redactor())
        let legacy = try JSONValue.parse(q.elicitationParams(modern: false))
        #expect(legacy["mode"] == nil && legacy["message"]?.stringValue == q.text)
        #expect(legacy["requestedSchema"] == (try JSONValue.parse(#"{"type":"object","properties":{}}"#)))
        #expect(try JSONValue.parse(q.elicitationParams(modern: true))["mode"] == .string("form"))
    }

    @Test(
        "form elicitation: elicitation {} (before modes) or with form; url alone cannot confirm",
        arguments: [
            (#"{"elicitation": {}}"#, true), (#"{"elicitation": {"form": {}}}"#, true),
            (#"{"elicitation": {"form": {}, "url": {}}}"#, true), (#"{"elicitation": {"url": {}}}"#, false),
            (#"{"sampling": {}}"#, false), (#"{"elicitation": true}"#, false), (#"{}"#, false),
        ])
    func capability(capabilities: String, expected: Bool) throws {
        #expect(Confirmations.declaresFormElicitation(try JSONValue.parse(capabilities)) == expected)
    }

    @Test func answers() throws {
        #expect(Confirmations.answer(of: try JSONValue.parse(#"{"action":"accept","content":{}}"#)) == .accept)
        #expect(Confirmations.answer(of: try JSONValue.parse(#"{"action":"decline"}"#)) == .decline)
        #expect(Confirmations.answer(of: try JSONValue.parse(#"{"action":"cancel"}"#)) == .cancel)
        #expect(Confirmations.answer(of: try JSONValue.parse(#"{"action":"yes"}"#)) == .error)
        #expect(Confirmations.answer(of: nil) == .error)
    }

    @Test("the retry loses brig's input response, and keeps the rest byte for byte in order")
    func withoutInputResponse() throws {
        func strip(_ line: String, _ key: String) -> String? {
            Array(line.utf8).withUnsafeBufferPointer { Relay.withoutInputResponse($0, key: key) }.map { String(decoding: $0, as: UTF8.self) }
        }
        #expect(
            strip(
                #"{"jsonrpc":"2.0","id":3,"method":"tools/call","params":{"name":"w","inputResponses":{"brig-ask-1":{"action":"accept"},"s":{"action":"decline"}},"requestState":"x"}}"#,
                "brig-ask-1")
                == #"{"jsonrpc":"2.0","id":3,"method":"tools/call","params":{"name":"w","inputResponses":{"s":{"action":"decline"}},"requestState":"x"}}"#)
        #expect(
            strip(#"{"jsonrpc":"2.0","id":3,"method":"tools/call","params":{"name":"w","inputResponses":{"brig-ask-1":{"action":"accept"}}}}"#, "brig-ask-1")
                == #"{"jsonrpc":"2.0","id":3,"method":"tools/call","params":{"name":"w"}}"#)
        #expect(strip("not json", "k") == nil)
    }

    @Test("ids and keys carry a random nonce; a response is brig's only with it")
    func ownIDs() {
        let a = Confirmations(redactor: Redactor()), b = Confirmations(redactor: Redactor())
        #expect(a.prefix != b.prefix && a.prefix.hasPrefix("brig-ask-"))
        #expect(a.isOwnID("\"" + a.prefix + "1\"") && !a.isOwnID("\"" + b.prefix + "1\"") && !a.isOwnID("\"brig-ask-1\"") && !a.isOwnID("1"))
        #expect(a.isOwnKey(a.prefix + "9") && !a.isOwnKey("server-1"))
    }

    func held(_ c: Confirmations, seconds: Double) -> Confirmations.HeldCall {
        let now = MonotonicClock.nanoseconds()
        return Confirmations.HeldCall(
            callID: "1", line: [], tool: "t", question: c.question(tool: "t", arguments: nil, rule: "r"),
            decision: Decision(allowed: true, enforced: true, category: .allowed, rule: "r", reason: ""),
            timeoutSeconds: seconds, askedAt: now, deadline: now + UInt64(seconds * 1e9))
    }

    @Test("the timer expires a held call at its deadline, once; an answered call never expires")
    func timer() async throws {
        let c = Confirmations(redactor: Redactor())
        let expired = Mutex<[String]>([])
        let short = try #require(c.hold(held(c, seconds: 0.2)) { id, _ in expired.withLock { $0.append(id) } })
        let answered = try #require(c.hold(held(c, seconds: 0.3)) { id, _ in expired.withLock { $0.append(id) } })
        #expect(c.takeHeld(rawID: "\"" + answered + "\"") != nil)
        #expect(c.takeHeld(rawID: "\"" + answered + "\"") == nil)
        let long = try #require(c.hold(held(c, seconds: 60)) { id, _ in expired.withLock { $0.append(id) } })
        try await Task.sleep(for: .milliseconds(900))
        #expect(expired.withLock { $0 } == [short])
        // The host goes away: what is still held is handed back, and nothing more is held.
        #expect(c.hostClosedInput().map(\.0) == [long])
        #expect(c.hold(held(c, seconds: 1)) { _, _ in } == nil)
    }

    @Test("2026-07-28: an issued question is taken once; an accepted call is remembered for its retries")
    func issued() throws {
        let c = Confirmations(redactor: Redactor())
        let now = MonotonicClock.nanoseconds()
        let key = try #require(
            c.issue(
                Confirmations.IssuedQuestion(
                    tool: "t", question: c.question(tool: "t", arguments: nil, rule: "r"),
                    timeoutSeconds: 5, askedAt: now, deadline: now + 5_000_000_000)))
        #expect(c.isOwnKey(key))
        #expect(c.takeIssued(key: key) != nil && c.takeIssued(key: key) == nil)
        let call = Confirmations.callIdentity(tool: "t", arguments: try JSONValue.parse(#"{"a":1}"#))
        #expect(!c.isApproved(call))
        c.approve(call, forSeconds: 5)
        #expect(c.isApproved(call) && !c.isApproved(Confirmations.callIdentity(tool: "t", arguments: nil)))
    }

    @Test func denialReasonsSayWhy() {
        func reason(_ a: ConfirmationAnswer) -> String { a.denialReason(tool: "t", rule: "R", timeoutSeconds: 1.5, detail: nil) }
        #expect(reason(.decline) == "the user declined the call to t (rule R asks first)")
        #expect(reason(.timeout) == "no answer from the user within 1.5 s (ask_timeout; rule R asks first)")
        #expect(reason(.noCapability).contains("did not declare the elicitation capability"))
        #expect(reason(.closed) == "the host closed its input before the user answered about t (rule R asks first)")
        #expect(reason(.cancel).contains("dismissed"))
    }
}
