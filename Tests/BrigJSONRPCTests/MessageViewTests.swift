import Testing

@testable import BrigJSONRPC

private func parse(_ text: String) -> Result<MessageView, MessageError> {
    Array(text.utf8).withUnsafeBufferPointer { MessageView.parse($0) }
}

private func parseBytes(_ bytes: [UInt8]) -> Result<MessageView, MessageError> {
    bytes.withUnsafeBufferPointer { MessageView.parse($0) }
}

@Suite("MessageView")
struct MessageViewTests {
    @Test("a request: kind, raw id, method, params range")
    func request() throws {
        let text = #"{"jsonrpc":"2.0","id":7,"method":"tools/call","params":{"name":"x","arguments":{}}}"#
        let view = try parse(text).get()
        #expect(view.kind == .request)
        #expect(view.id == "7")
        #expect(view.method == "tools/call")
        let range = try #require(view.params)
        let bytes = Array(text.utf8)[range]
        #expect(String(decoding: bytes, as: UTF8.self) == #"{"name":"x","arguments":{}}"#)
    }

    @Test("string ids keep their quotes, escaped methods are decoded")
    func stringID() throws {
        let view = try parse(#"{ "id" : "a\"b", "method":"tools\/list", "jsonrpc":"2.0" }"#).get()
        #expect(view.id == #""a\"b""#)
        #expect(view.method == "tools/list")
    }

    @Test("member names and values written with escapes are read decoded, as the peer decodes them")
    func escapedMembers() throws {
        let view = try parse(#"{"\u006asonrpc":"\u0032.0","\u0069\u0064":"\u0031","\u0072esult":{"a":1}}"#).get()
        #expect(view.kind == .response)
        #expect(view.id == #""1""#)
        let text = Array(#"{"\u006asonrpc":"\u0032.0","\u0069\u0064":"\u0031","\u0072esult":{"a":1}}"#.utf8)
        #expect(view.result.map { String(decoding: text[$0], as: UTF8.self) } == #"{"a":1}"#)
        let request = try parse(#"{"jsonrpc":"2.0","id":7,"\u006dethod":"tools/call","\u0070arams":{}}"#).get()
        #expect(request.kind == .request && request.method == "tools/call" && request.params != nil)
        // Not every escape makes the version: "2.1" spelled with escapes is still refused.
        #expect(throws: MessageError.self) { try parse(#"{"jsonrpc":"\u0032.1","id":1,"result":{}}"#).get() }
        #expect(throws: MessageError.self) { try parse(#"{"jsonrpc":2.0,"id":1,"result":{}}"#).get() }
    }

    @Test("notifications, results and errors")
    func kinds() throws {
        #expect(try parse(#"{"jsonrpc":"2.0","method":"notifications/initialized"}"#).get().kind == .notification)
        #expect(try parse(#"{"jsonrpc":"2.0","id":1,"result":{}}"#).get().kind == .response)
        #expect(try parse(#"{"jsonrpc":"2.0","id":1,"error":{"code":-1,"message":"m"}}"#).get().kind == .error)
    }

    @Test("a batch exposes every member")
    func batch() throws {
        let view = try parse(#"[{"jsonrpc":"2.0","id":1,"method":"a"},{"jsonrpc":"2.0","method":"b"}]"#).get()
        #expect(view.kind == .batch)
        #expect(view.members.map(\.method) == ["a", "b"])
        #expect(view.members.map(\.kind) == [.request, .notification])
    }

    @Test("2026-07-28 requests with _meta pass as requests")
    func modernEra() throws {
        let view = try parse(#"{"jsonrpc":"2.0","id":"d1","method":"server/discover","params":{"_meta":{"io.modelcontextprotocol/protocolVersion":"2026-07-28"}}}"#).get()
        #expect(view.kind == .request && view.method == "server/discover")
    }

    @Test(
        "parse errors are -32700 and keep the id when it was read",
        arguments: [
            ("not json", -32700, nil as String?),
            (#"{"jsonrpc":"2.0","id":5,"method":"x""#, -32700, "5"),
            (#"{"jsonrpc":"2.0","id":5,"method":"x"} trailing"#, -32700, "5"),
            (#"{"jsonrpc":"2.0","id":1,"method":"a",}"#, -32700, "1"),
            (#"{"jsonrpc":"2.0","id":007,"method":"a"}"#, -32700, nil),
            (#"{"jsonrpc":"2.0","id":12 ,"method":"a""#, -32700, "12"),
            (#"{"a":01}"#, -32700, nil),
            (#"{"a":"\x"}"#, -32700, nil),
            ("{\"a\":\"tab\there\"}", -32700, nil),
        ])
    func parseErrors(text: String, code: Int, id: String?) {
        guard case .failure(let error) = parse(text) else {
            Issue.record("accepted: \(text)")
            return
        }
        #expect(error.code == code)
        #expect(error.id == id)
    }

    @Test(
        "JSON that is not JSON-RPC is -32600",
        arguments: [
            #"{"id":1,"method":"a"}"#,
            #"{"jsonrpc":"1.0","id":1,"method":"a"}"#,
            #"{"jsonrpc":"2.0","id":null,"method":"a"}"#,
            #"{"jsonrpc":"2.0","id":1,"method":5}"#,
            #"{"jsonrpc":"2.0","id":1,"method":"a","params":3}"#,
            #"{"jsonrpc":"2.0","id":1}"#,
            #"{"jsonrpc":"2.0","result":{}}"#,
            #"{"jsonrpc":"2.0","id":1,"result":{},"error":{}}"#,
            #"[]"#,
            #"42"#,
            #"[1]"#,
        ])
    func invalidRequests(text: String) {
        guard case .failure(let error) = parse(text) else {
            Issue.record("accepted: \(text)")
            return
        }
        #expect(error.code == -32600)
    }

    @Test("invalid UTF-8 inside a string is a parse error")
    func invalidUTF8() {
        let prefix = Array(#"{"jsonrpc":"2.0","id":3,"method":"a","params":{"t":""#.utf8)
        // The last: an escape inside a sequence (e6 9c, then \\, then ac) is no 本 (the fuzzer's
        // reference recognizer once read it as one).
        for bad: [UInt8] in [
            [0xFF], [0xC0, 0x80], [0xED, 0xA0, 0x80], [0xE2, 0x82], [0xF5, 0x80, 0x80, 0x80],
            [0xE6, 0x9C, 0x5C, 0x5C, 0xAC],
        ] {
            let line = prefix + bad + Array(#""}}"#.utf8)
            guard case .failure(let error) = parseBytes(line) else {
                Issue.record("accepted \(bad)")
                continue
            }
            #expect(error.code == -32700)
            #expect(error.id == "3")
        }
        let good = prefix + Array("héllo €𝄞".utf8) + Array(#""}}"#.utf8)
        #expect((try? parseBytes(good).get()) != nil)
    }

    @Test("deep nesting is refused without exhausting the stack")
    func deepNesting() {
        let line = [UInt8](repeating: UInt8(ascii: "["), count: 200_000)
        guard case .failure(let error) = parseBytes(line) else {
            Issue.record("accepted")
            return
        }
        #expect(error.code == -32700 || error.code == -32600)
        let object = Array(#"{"jsonrpc":"2.0","id":1,"method":"a","params":"#.utf8) + [UInt8](repeating: UInt8(ascii: "["), count: 100_000)
        guard case .failure(let e2) = parseBytes(object) else {
            Issue.record("accepted")
            return
        }
        #expect(e2.code == -32600)
        #expect(e2.id == "1")
        // Within the limit, deep nesting is fine.
        let ok =
            Array(#"{"jsonrpc":"2.0","id":2,"method":"a","params":"#.utf8) + [UInt8](repeating: UInt8(ascii: "["), count: 200)
            + [UInt8](repeating: UInt8(ascii: "]"), count: 200) + [UInt8(ascii: "}")]
        #expect((try? parseBytes(ok).get())?.id == "2")
    }

    /// Caught by fuzz-jsonrpc (Tests/fuzz/regressions/fuzz-jsonrpc/batch-257-levels): a batch
    /// member's values were scanned as if the member were the top level, so a batch could nest
    /// one level deeper than the tree parser (and a single message) allows.
    @Test("a batch member is held to the nesting limit of the whole line")
    func batchNestingLimit() throws {
        func batch(levels arrays: Int) -> [UInt8] {
            Array(#"[{"jsonrpc":"2.0","id":1,"method":"x","params":"#.utf8) + [UInt8](repeating: UInt8(ascii: "["), count: arrays)
                + [UInt8](repeating: UInt8(ascii: "]"), count: arrays) + Array("}]".utf8)
        }
        // The batch and the member take two levels: 254 arrays make 256 levels, 255 make 257.
        let deepest = batch(levels: JSONScanner.maximumDepth - 2)
        #expect((try? parseBytes(deepest).get())?.kind == .batch)
        #expect(deepest.withUnsafeBufferPointer { (try? JSONValue.parse($0)) } != nil)
        let tooDeep = batch(levels: JSONScanner.maximumDepth - 1)
        #expect(tooDeep.withUnsafeBufferPointer { (try? JSONValue.parse($0)) } == nil)
        guard case .failure(let error) = parseBytes(tooDeep) else {
            Issue.record("a batch nesting 257 levels was accepted")
            return
        }
        #expect(error.code == -32600)
    }

    @Test("the id can be read from the prefix of an oversized line")
    func idFromPrefix() {
        let prefix = Array(#"{"jsonrpc":"2.0","id":"big-1","method":"tools/call","params":{"data":"aaaa"#.utf8)
        #expect(prefix.withUnsafeBufferPointer { MessageView.idFromPrefix($0) } == #""big-1""#)
    }

    @Test("string decoding handles escapes and surrogate pairs")
    func unescape() throws {
        let view = try parse(#"{"jsonrpc":"2.0","method":"a\u00e9\ud834\udd1e\n"}"#).get()
        #expect(view.method == "aé𝄞\n")
    }
}

@Suite("JSONWriter")
struct JSONWriterTests {
    @Test("error responses are valid JSON-RPC that brig's own parser accepts")
    func errorResponse() throws {
        let bytes = JSONWriter.errorResponse(id: #""x\"y""#, code: -32602, message: "Unknown tool: \"a\"\n", data: #"{"rule":"r"}"#)
        #expect(bytes.last == 0x0A)
        let view = try parseBytes(Array(bytes.dropLast())).get()
        #expect(view.kind == .error)
        #expect(view.id == #""x\"y""#)
    }

    @Test("control characters are escaped")
    func escaping() {
        #expect(JSONWriter.quoted("a\u{01}\t\"\\") == #""a\u0001\t\"\\""#)
    }
}

@Suite("InFlightTable")
struct InFlightTableTests {
    @Test("responses retire requests")
    func retire() {
        let table = InFlightTable(capacity: 8)
        table.insert(id: "1", method: "tools/call")
        #expect(table.lookup(id: "1")?.method == "tools/call")
        #expect(table.remove(id: "1")?.method == "tools/call")
        #expect(table.remove(id: "1") == nil)
    }

    @Test("the table stays bounded and forgets the oldest")
    func bounded() {
        let table = InFlightTable(capacity: 100)
        for i in 0..<10_000 { table.insert(id: "\(i)", method: "m") }
        #expect(table.count == 100)
        #expect(table.lookup(id: "0") == nil)
        #expect(table.lookup(id: "9999") != nil)
        #expect(table.evictedCount == 9_900)
        // Answered requests do not accumulate either.
        for i in 0..<100_000 {
            table.insert(id: "r\(i)", method: "m")
            _ = table.remove(id: "r\(i)")
        }
        // The first insert evicted one old entry; every later one was answered.
        #expect(table.count == 99)
    }
}

@Suite("LineReader")
struct LineReaderTests {
    private func collect(_ chunks: [[UInt8]], max: Int) -> [String] {
        let reader = LineReader(maximumLineBytes: max)
        var out: [String] = []
        let sink: (LineReader.Event) -> Void = { event in
            switch event {
            case .line(let l): out.append("L:" + String(decoding: l, as: UTF8.self))
            case .oversized(let p, let n): out.append("O:\(n):" + String(decoding: p.prefix(4), as: UTF8.self))
            }
        }
        for c in chunks { reader.feed(c, sink) }
        reader.finish(sink)
        return out
    }

    @Test("lines split across chunks are joined; a final unterminated line is delivered")
    func framing() {
        let out = collect([Array("ab".utf8), Array("c\nde\n\nf".utf8), Array("g".utf8)], max: 100)
        #expect(out == ["L:abc", "L:de", "L:", "L:fg"])
    }

    @Test("an oversized line is reported once with its length and the stream recovers")
    func oversized() {
        let big = [UInt8](repeating: UInt8(ascii: "x"), count: 300_000)
        let out = collect([Array("ok\n".utf8), Array(big.prefix(100_000)), Array(big.suffix(200_000)) + Array("\nnext\n".utf8)], max: 1000)
        #expect(out == ["L:ok", "O:300000:xxxx", "L:next"])
    }

    @Test("a line just at the limit passes, one byte more does not")
    func boundary() {
        let line = [UInt8](repeating: UInt8(ascii: "y"), count: 1000)
        #expect(collect([line + [0x0A]], max: 1000).first?.hasPrefix("L:") == true)
        #expect(collect([line + [0x79, 0x0A]], max: 1000).first?.hasPrefix("O:1001") == true)
    }
}

@Suite("JSONValue")
struct JSONValueTests {
    @Test("parse and write round-trip keeps member order and number text")
    func roundTrip() throws {
        let text = #"{"b":1.50,"a":[true,false,null,"x\n\u00e9"],"c":{}}"#
        let value = try JSONValue.parse(text)
        #expect(value["b"] == .number("1.50"))
        #expect(value["a"]?.arrayValue?.count == 4)
        #expect(value.jsonText == #"{"b":1.50,"a":[true,false,null,"x\né"],"c":{}}"#)
        #expect(try JSONValue.parse(value.jsonText) == value)
    }

    @Test("invalid texts are refused", arguments: ["{", "[1,]", "tru", "\"\\q\"", "1 2"])
    func invalid(text: String) {
        #expect(throws: JSONScanner.Failure.self) { try JSONValue.parse(text) }
    }
}
