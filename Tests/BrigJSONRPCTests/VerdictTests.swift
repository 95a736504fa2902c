import BrigJSONRPC
import Testing

@Suite("Verdict: rewrites and replies")
struct VerdictTests {
    @Test("a rewritten result is the response's line with the tree written once, and parses back to it")
    func rewrittenResult() throws {
        let tree = try JSONValue.parse(#"{"tools":[{"name":"a","description":"x\u0001y é"}],"n":1.50}"#)
        let rewrite = Rewrite.result(id: #""L""#, tree)
        var out: [UInt8] = [0x41]
        rewrite.append(to: &out)
        #expect(out.first == 0x41 && out.last == 0x0A)
        let line = rewrite.bytes
        #expect(Array(out.dropFirst().dropLast()) == line)
        #expect(String(decoding: line, as: UTF8.self) == #"{"jsonrpc":"2.0","id":"L","result":"# + tree.jsonText + "}")
        let back = try line.withUnsafeBufferPointer { buf -> JSONValue in
            guard case .success(let view) = MessageView.parse(buf), let range = view.result else { throw VerdictTestFailure() }
            #expect(view.kind == .response && view.id == #""L""#)
            return try JSONValue.parse(buf, range: range)
        }
        #expect(back == tree)
        #expect(Rewrite.line(Array("[1]".utf8)).bytes == Array("[1]".utf8))
    }

    @Test("replies gather whole lines and the requests they answer; a drop has none")
    func replies() {
        var r = Replies(to: .host)
        #expect(r.isEmpty && r.recipient == .host)
        r.add(Array("a\n".utf8), answering: "1")
        r.add(Array("b\n".utf8))
        #expect(r.lines == Array("a\nb\n".utf8) && r.answered == ["1"] && !r.isEmpty)
        #expect(Verdict.drop.replies?.isEmpty == true)
        #expect(Verdict.forward.replies == nil)
        #expect(Verdict.rewrite(.line([0x31])).replies?.isEmpty == true)
        let one = Replies(Array("c\n".utf8), answering: "2")
        #expect(one.recipient == .sender && one.answered == ["2"])
    }
}

struct VerdictTestFailure: Error {}
