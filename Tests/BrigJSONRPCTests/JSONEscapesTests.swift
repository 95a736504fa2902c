import Testing

@testable import BrigJSONRPC

/// `JSONEscapes` must decode exactly as the JSON parser (and so the host) does, or a check that
/// reads its output sees other text than the host shows.
@Suite("JSONEscapes")
struct JSONEscapesTests {
    private func decoded(_ text: String) -> [UInt8] {
        Array(text.utf8).withUnsafeBufferPointer { b in JSONEscapes.withDecoded(b) { Array($0) } }
    }

    @Test(
        "each escape form",
        arguments: [
            (#"\u0067hp_x"#, "ghp_x"), (#"a\/b"#, "a/b"), (#"\"q\" \\ \b\f\n\r\t"#, "\"q\" \\ \u{8}\u{C}\n\r\t"),
            (#"\u00e9\u00E9"#, "éé"), (#"\u200b"#, "\u{200B}"), (#"\u001b[31m"#, "\u{1B}[31m"),
            (#"\udb40\udc41"#, "\u{E0041}"), (#"\ud83d\ude00"#, "😀"), (#"\ud83d x"#, "\u{FFFD} x"), (#"\ude00"#, "\u{FFFD}"),
            (#"\u12"#, #"\u12"#), (#"\u12zz"#, #"\u12zz"#), ("end\\", "end\\"), (#"\x"#, "x"), ("no escapes", "no escapes"),
        ])
    func forms(_ text: String, _ expected: String) {
        #expect(decoded(text) == Array(expected.utf8), "\(text)")
    }

    @Test(
        "text whose escapes are only the five short ones is handed over in place",
        arguments: [
            (#"{"a":"plain"}"#, true), (#"{"a":"say \"hi\"\n\tC:\\dir\r"}"#, true), (#"{"a":"\\u0041"}"#, true),
            (#"{"a":"\u0041"}"#, false), (#"{"a":"\/"}"#, false), (#"{"a":"\b"}"#, false), (#"{"a":"\f"}"#, false),
            (#"{"a":"\\\u0041"}"#, false), ("end\\", false),
        ])
    func inPlace(_ text: String, _ expected: Bool) {
        let bytes = Array(text.utf8)
        bytes.withUnsafeBufferPointer { b in
            #expect(JSONEscapes.hasOpaqueEscape(b) == !expected, "\(text)")
            JSONEscapes.withDecoded(b) { #expect(($0.baseAddress == b.baseAddress && $0.count == b.count) == expected) }
        }
    }

    @Test("agrees with the parser on every string the writer escapes, and on every character written as \\u")
    func agreesWithParser() throws {
        var rng = SystemRandomNumberGenerator()
        let pool: [Unicode.Scalar] = [
            "a", "\"", "\\", "/", "\n", "\u{1}", "\u{1F}", "\u{7F}", "é", "\u{200B}", "\u{FEFF}",
            "\u{E0041}", "😀", "日", "\u{2028}",
        ]
        for _ in 0..<300 {
            var s = ""
            for _ in 0..<Int.random(in: 0...24, using: &rng) { s.unicodeScalars.append(pool.randomElement(using: &rng)!) }
            // As the writer escapes it, and with every UTF-16 unit as \uXXXX.
            let forms = [JSONWriter.quoted(s), "\"" + s.utf16.map { "\\u" + hex4($0) }.joined() + "\""]
            for form in forms {
                let parsed = try JSONValue.parse(form)
                #expect(parsed == .string(s))
                var out: [UInt8] = []
                Array(form.utf8).withUnsafeBufferPointer { JSONEscapes.unescape($0, into: &out) }
                #expect(out == Array(("\"" + s + "\"").utf8), "\(form)")
            }
        }
    }

    private func hex4(_ u: UInt16) -> String {
        let h = String(u, radix: 16)
        return String(repeating: "0", count: 4 - h.count) + h
    }
}
