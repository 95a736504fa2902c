import Testing

@testable import BrigJSONRPC

@Suite("Members of a valid object, read without a tree")
struct MemberScanTests {
    /// Each member as `forEachMember` and `validValue` see it, keys decoded.
    static func members(_ text: String) throws -> [(String, JSONValue?)] {
        let bytes = Array(text.utf8)
        return try bytes.withUnsafeBufferPointer { buf throws(JSONScanner.Failure) in
            let reader = JSONScanner(buf)
            var scanner = reader
            var out: [(String, JSONValue?)] = []
            var at = 0
            while buf[at] != UInt8(ascii: "{") { at += 1 }
            try scanner.forEachMember(ofValidObjectAt: at) { key, value in
                out.append((reader.decodeString(key), reader.validValue(value)))
                return true
            }
            return out
        }
    }

    @Test(
        "every member, key and value, is the tree's",
        arguments: [
            #"{}"#,
            #"  { }"#,
            #"{"a":1}"#,
            #"{ "a" : -1.5e+3 , "b":true,"c" :false, "d": null ,"e":0}"#,
            #"{"s":"plain","t":"q\"uote","u":"back\\","v":"back\\\"slash\\\\","w":"\u00e9\n\t\/","x":""}"#,
            #"{"n\u0061me":"x","\"k\"":1,"\\":2,"é":3}"#,
            #"{"o":{"a":[1,{"b":"}]"}],"c":"[{"},"p":[[],{},"]",["\""]],"q":{}}"#,
            #"{"deep":{"a":{"b":{"c":[1,[2,[3,{"d":"e\\"}]]]}}},"after":"yes"}"#,
            #"{"dup":1,"dup":2}"#,
            "{\"ws\"\t:\n[ 1 ,\r\n 2 ] ,\"z\":\"tab\\there\"}",
        ])
    func agreesWithTree(text: String) throws {
        let tree = try JSONValue.parse(text)
        let expected = try #require(tree.objectValue)
        let got = try MemberScanTests.members(text)
        #expect(got.map(\.0) == expected.map(\.0))
        #expect(got.map { $0.1?.jsonText } == expected.map { $0.1.jsonText })
    }

    @Test("the walk stops when asked, and reports a value that is not an object")
    func stopsAndRefuses() throws {
        let bytes = Array(#"{"a":"x","b":{"c":1},"d":3}"#.utf8)
        try bytes.withUnsafeBufferPointer { buf throws(JSONScanner.Failure) in
            let reader = JSONScanner(buf)
            var scanner = reader
            var seen: [String] = []
            try scanner.forEachMember(ofValidObjectAt: 0) { key, _ in
                seen.append(reader.decodeString(key))
                return seen.count < 2
            }
            #expect(seen == ["a", "b"])
            #expect(reader.validString(at: 5) == "x")
            #expect(reader.validString(at: 4) == nil)
        }
        for text in ["[1]", "\"s\"", "{\"a\" 1}", "{\"a\":1 \"b\":2}", "{\"a\":1", "{"] {
            let input = Array(text.utf8)
            let failed = input.withUnsafeBufferPointer { buf in
                var scanner = JSONScanner(buf)
                do throws(JSONScanner.Failure) {
                    try scanner.forEachMember(ofValidObjectAt: 0) { _, _ in true }
                    return false
                } catch {
                    return true
                }
            }
            #expect(failed, "\(text)")
        }
    }

    @Test("truncated input stays inside the buffer")
    func truncated() {
        for text in [#"{"a":"unterminated"#, #"{"a":{"b":[1,2"#, #"{"a":tr"#, #"{"a\"#, #"{"a":"x\"#] {
            let bytes = Array(text.utf8)
            bytes.withUnsafeBufferPointer { buf in
                let reader = JSONScanner(buf)
                var scanner = reader
                try? scanner.forEachMember(ofValidObjectAt: 0) { _, value in
                    #expect(value.upperBound <= buf.count)
                    _ = reader.validValue(value)
                    return true
                }
            }
        }
    }
}
