import BrigJSONRPC
import Testing

@testable import BrigPolicy

@Suite("PolicyGate")
struct PolicyGateTests {
    @Test(
        "an input request is recognised by the result's resultType, as the tree reads it",
        arguments: [
            (#"{"resultType":"input_required","inputRequests":{}}"#, true),
            (#"{"inputRequests":{"a":{"method":"x"}},"resultType":"input_required"}"#, true),
            (#"{"resultType":"input_\u0072equired"}"#, true),
            (#"{"result\u0054ype":"input_required"}"#, true),
            (#"{"resultType":"complete","resultType":"input_required"}"#, false),
            (#"{"resultType":"input_required","resultType":"complete"}"#, true),
            (#"{"content":[{"type":"text","text":"resultType: input_required"}]}"#, false),
            (#"{"meta":{"resultType":"input_required"}}"#, false),
            (#"{"resultType":["input_required"]}"#, false),
            (#"{}"#, false),
            (#"[]"#, false),
        ])
    func requiresInput(result: String, expected: Bool) throws {
        let tree = try JSONValue.parse(result)
        #expect((tree["resultType"]?.stringValue == "input_required") == expected)
        let line = Array(result.utf8)
        #expect(line.withUnsafeBufferPointer { PolicyGate.requiresInput($0, 0..<line.count) } == expected)
    }
}

@Suite("PolicyGate verdicts")
struct PolicyGateVerdictTests {
    static let yaml =
        "mcp:\n  tools:\n    default: allow\n    rules:\n      - {name: delete_repo, allow: false}\n  methods: {\"notifications/secret\": deny, \"*\": allow}\n"

    func gate() throws -> PolicyGate { PolicyGate(engine: try engine(Self.yaml)) }

    func inspect(_ gate: PolicyGate, _ text: String) -> PolicyGate.Outcome {
        let line = Array(text.utf8)
        return line.withUnsafeBufferPointer { buf in
            guard case .success(let view) = MessageView.parse(buf) else { return PolicyGate.Outcome(verdict: .drop, decisions: []) }
            return gate.inspect(buf, view: view, direction: .hostToServer)
        }
    }

    static func call(_ id: Int, _ tool: String) -> String {
        #"{"jsonrpc":"2.0","id":\#(id),"method":"tools/call","params":{"name":"\#(tool)","arguments":{}}}"#
    }

    @Test("an allowed call is forwarded; a denied one is answered in the server's place, and retired")
    func single() throws {
        let g = try gate()
        guard case .forward = inspect(g, Self.call(1, "read_file")).verdict else {
            Issue.record("an allowed call was not forwarded")
            return
        }
        let denied = inspect(g, Self.call(2, "delete_repo"))
        guard case .answer(let replies) = denied.verdict else {
            Issue.record("a denied call was not answered: \(denied.verdict)")
            return
        }
        #expect(replies.answered == ["2"] && replies.recipient == .sender)
        let text = String(decoding: replies.lines, as: UTF8.self)
        #expect(text.hasPrefix(#"{"jsonrpc":"2.0","id":2,"error":{"code":-32602,"message":"Unknown tool: delete_repo""#) && text.hasSuffix("}\n"))
        #expect(denied.decisions.count == 1 && !denied.decisions[0].allowed)
    }

    @Test("a denied notification is dropped: no reply, nothing retired")
    func notification() throws {
        let outcome = inspect(try gate(), #"{"jsonrpc":"2.0","method":"notifications/secret"}"#)
        guard case .answer(let replies) = outcome.verdict else {
            Issue.record("a denied notification was not dropped: \(outcome.verdict)")
            return
        }
        #expect(replies.isEmpty)
    }

    @Test("a batch loses its denied members: the rest is rewritten, the denied call answered; all denied is no line at all")
    func batch() throws {
        let g = try gate()
        let mixed = inspect(g, "[" + Self.call(1, "read_file") + "," + Self.call(2, "delete_repo") + "]")
        guard case .rewrite(.line(let kept), let replies) = mixed.verdict else {
            Issue.record("a mixed batch was not rewritten: \(mixed.verdict)")
            return
        }
        #expect(String(decoding: kept, as: UTF8.self) == "[" + Self.call(1, "read_file") + "]")
        #expect(replies.answered == ["2"])
        let denied = inspect(g, "[" + Self.call(3, "delete_repo") + #",{"jsonrpc":"2.0","method":"notifications/secret"}]"#)
        guard case .answer(let all) = denied.verdict else {
            Issue.record("a denied batch was not answered: \(denied.verdict)")
            return
        }
        #expect(all.answered == ["3"] && String(decoding: all.lines, as: UTF8.self).split(separator: "\n").count == 1)
    }

    @Test("a list the content defenses rewrote is filtered from their tree, and keeps their rewrite")
    func rewrittenList() throws {
        let g = try gate()
        let original = #"{"jsonrpc":"2.0","id":7,"result":{"tools":[{"name":"read_file"},{"name":"delete_repo"}]}}"#
        let rewritten = try JSONValue.parse(#"{"tools":[{"name":"read_file","description":"clean"},{"name":"delete_repo"}]}"#)
        let table = InFlightTable()
        table.insert(id: "7", method: MCPMethod.toolsList)
        let request = try #require(table.remove(id: "7"))
        let line = Array(original.utf8)
        var decisions: [Decision] = []
        let verdict = line.withUnsafeBufferPointer { buf -> Verdict in
            guard case .success(let view) = MessageView.parse(buf) else { return .drop }
            return g.inspectResponse(buf, view: view, request: request, after: .rewrite(.result(id: "7", rewritten)), decisions: &decisions)
        }
        guard case .rewrite(let rewrite, _) = verdict else {
            Issue.record("the list was not rewritten: \(verdict)")
            return
        }
        #expect(String(decoding: rewrite.bytes, as: UTF8.self) == #"{"jsonrpc":"2.0","id":7,"result":{"tools":[{"name":"read_file","description":"clean"}]}}"#)
        // Nothing to hide: the content defenses' verdict stands as it came.
        let clean = try JSONValue.parse(#"{"tools":[{"name":"read_file","description":"clean"}]}"#)
        let kept = line.withUnsafeBufferPointer { buf -> Verdict in
            guard case .success(let view) = MessageView.parse(buf) else { return .drop }
            return g.inspectResponse(buf, view: view, request: request, after: .rewrite(.result(id: "7", clean)), decisions: &decisions)
        }
        guard case .rewrite(.result(_, let tree), _) = kept else {
            Issue.record("the content defenses' rewrite was lost: \(kept)")
            return
        }
        #expect(tree == clean)
    }
}
