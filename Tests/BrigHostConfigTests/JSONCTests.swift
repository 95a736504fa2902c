import Testing

@testable import BrigHostConfig

@Suite("JSONC parsing with exact positions")
struct JSONCTests {
    @Test("comments and trailing commas are accepted, and values keep their source text")
    func commentsAndTrailingCommas() throws {
        let src = """
            // settings
            {
              /* block
                 comment */ "a": 1, // after
              "b": ["x", "y",],
              "c": {"d": true, "e": null,},
            }
            """
        let doc = try document(src)
        #expect(doc.root.members.map(\.key) == ["a", "b", "c"])
        #expect(doc.text(try #require(doc.root["b"]).range) == "[\"x\", \"y\",]")
        #expect(doc.root["b"]?.strings == ["x", "y"])
        #expect(doc.text(try #require(doc.root["c"]?["d"]).range) == "true")
        #expect(doc.line(of: try #require(doc.root.member("c")).keyRange.lowerBound) == 6)
    }

    @Test("a CRLF file counts one line per \\r\\n")
    func crlfLines() throws {
        let doc = try document("{\r\n  \"a\": 1,\r\n  \"b\": 2\r\n}\r\n")
        #expect(doc.line(of: try #require(doc.root.member("b")).keyRange.lowerBound) == 3)
        #expect(doc.text(try #require(doc.root["b"]).range) == "2")
    }

    @Test("unicode: raw UTF-8, escapes and surrogate pairs decode; ranges are byte offsets")
    func unicode() throws {
        let doc = try document("{\"名前\": \"héllo 🚀\", \"e\": \"\\u00e9\\ud83d\\ude80\\n\", \"z\": 0}")
        #expect(doc.root["名前"]?.string == "héllo 🚀")
        #expect(doc.root["e"]?.string == "é🚀\n")
        #expect(doc.text(try #require(doc.root["z"]).range) == "0")
    }

    @Test("a byte-order mark is skipped")
    func byteOrderMark() throws {
        let doc = try JSONCDocument(bytes: [0xEF, 0xBB, 0xBF] + Array("{\"a\": []}".utf8))
        #expect(doc.root["a"]?.elements?.isEmpty == true)
    }

    @Test("duplicate keys: the last one is the value")
    func duplicateKeys() throws {
        let doc = try document("{\"a\": 1, \"a\": 2}")
        #expect(doc.root["a"].map { doc.text($0.range) } == "2")
        #expect(doc.root.members.count == 2)
    }

    @Test("numbers keep their text")
    func numbers() throws {
        let doc = try document("[-0.5e+10, 0, 12]")
        #expect(doc.root.elements?.map { doc.text($0.range) } == ["-0.5e+10", "0", "12"])
    }

    @Test(
        "malformed input names the line and column",
        arguments: [
            ("{\n  \"a\": 1\n  \"b\": 2\n}", 3, 3, "expected ',' or '}'"),  // missing comma
            ("{\n  \"a\": \"open\n}", 2, 13, "control character"),  // line break in a string
            ("{\n  \"a\": 1,\n  /* never closed\n}", 3, 3, "unterminated /* comment"),
            ("{\"a\": 1}\n}", 2, 1, "after the end"),  // extra brace
            ("{\n  \"a\": tru\n}", 2, 8, "expected a value"),
            ("{\n  \"a\": [1, 2\n", 3, 1, "array opened at line 2"),
            ("", 1, 1, "empty"),
            ("{\"a\": \"\\x\"}", 1, 8, "invalid escape"),
            ("{\"a\": \"\\ud800\"}", 1, 14, "lone surrogate"),
            ("{a: 1}", 1, 2, "quoted key"),
        ])
    func malformed(source: String, line: Int, column: Int, message: String) {
        #expect {
            try document(source)
        } throws: { error in
            guard let e = error as? JSONCError else { return false }
            return e.line == line && e.column == column && e.message.contains(message)
        }
    }

    @Test("bytes that are not UTF-8, even in a comment, are refused with their line")
    func notUTF8() {
        #expect {
            try JSONCDocument(bytes: Array("{\n  // caf".utf8) + [0xE9] + Array("\n}".utf8))
        } throws: { error in
            (error as? JSONCError).map { $0.line == 2 && $0.message.contains("not UTF-8") } ?? false
        }
        #expect(JSONCParser.firstInvalidUTF8(Array("é🚀".utf8)) == nil)
        #expect(JSONCParser.firstInvalidUTF8([0x61, 0xED, 0xA0, 0x80]) == 1)  // a surrogate encoded
        #expect(JSONCParser.firstInvalidUTF8([0xC0, 0xAF]) == 0)  // overlong
    }

    @Test("nesting deeper than the limit is an error, not a crash")
    func deepNesting() {
        let deep = String(repeating: "[", count: 10_000) + String(repeating: "]", count: 10_000)
        #expect(throws: JSONCError.self) { try document(deep) }
    }
}
