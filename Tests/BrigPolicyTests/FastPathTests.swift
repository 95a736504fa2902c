import BrigJSONRPC
import BrigProfile
import Testing

@testable import BrigPolicy

@Suite("First-match lookup of tool rules")
struct NameGlobListTests {
    static func linear(_ globs: [NameGlob], _ name: String) -> Int? {
        globs.firstIndex { $0.matches(name) }
    }

    @Test("filed globs give the linear scan's answer, for names no glob matches too")
    func agreesWithLinearScan() {
        var rng = SplitMix(seed: 4)
        func pick(_ n: Int) -> Int { Int(rng.next() % UInt64(n)) }
        let pieces = ["", "*", "a", "b", "ab", "r", "read_", "_", "é", "/", "x"]
        let names = ["", "a", "b", "ab", "ba", "read_file", "read_", "r", "é", "éa", "a/b", "xyz", "_", "aab", "unlisted"]
        for _ in 0..<300 {
            var patterns: [String] = []
            for _ in 0..<pick(13) {
                var p = ""
                for _ in 0..<pick(5) { p += pieces[pick(pieces.count)] }
                patterns.append(p)
            }
            let globs = patterns.map(NameGlob.init)
            let list = NameGlobList(globs)
            for name in names {
                #expect(list.firstMatch(name) == NameGlobListTests.linear(globs, name), "patterns \(patterns), name \(name)")
            }
        }
    }

    @Test("a leading star is tried for every name, in its place in the order")
    func leadingStarKeepsOrder() {
        let list = NameGlobList(["echo_*", "*delete*", "echo"].map(NameGlob.init))
        #expect(list.firstMatch("echo") == 2)
        #expect(list.firstMatch("echo_delete") == 0)
        #expect(list.firstMatch("bulk_delete") == 1)
        #expect(list.firstMatch("") == nil)
        #expect(list.firstMatch("unlisted") == nil)
        #expect(NameGlobList(["", "*"].map(NameGlob.init)).firstMatch("") == 0)
        #expect(NameGlobList(["x", "*"].map(NameGlob.init)).firstMatch("") == 1)
        #expect(NameGlobList([]).firstMatch("x") == nil)
    }

    @Test("the engine's lookup is the first matching rule of the 50-rule bench policy")
    func benchPolicy() throws {
        var yaml = "mcp:\n  tools:\n    default: deny\n    rules:\n"
        for verb in ["read", "write", "delete", "exec"] {
            for noun in ["file", "dir", "repo", "db"] { yaml += "      - {name: \"\(verb)_\(noun)*\", allow: \(verb != "delete")}\n" }
        }
        yaml += "      - {name: \"*_secret\", allow: false}\n      - {name: echo, allow: true}\n"
        let e = try engine(yaml)
        let globs = e.toolRules.map(\.glob)
        for name in ["echo", "echo2", "read_file", "read_file_secret", "x_secret", "exec_db_x", "", "delete_repo", "nothing"] {
            #expect(e.firstToolRuleIndex(name) == NameGlobListTests.linear(globs, name), "\(name)")
        }
    }
}

@Suite("Policy params read without a tree")
struct PolicyParamsTests {
    static let yaml = "mcp:\n  protocol_versions: [\"2025-06-18\", \"2026-07-28\"]\n" + rules
    static let unpinned = "mcp:\n" + rules
    static let rules = """
          tools:
            default: deny
            rules:
              - name: "read_*"
                args:
                  path: {under: ["$WORKDIR"]}
                  mode: {enum: ["r", "rb"], optional: true}
              - name: "count"
                args:
                  n: {type: integer, min: 1, max: 10}
                  opts: {type: object, optional: true}
                  "K": {type: string, optional: true}
              - name: "free"
                allow: true
              - name: "gone"
                allow: false
        """

    /// `params` texts: present, missing, wrong-type, duplicated and escaped members, nested values.
    static let cases: [String] = [
        #"{"name": "read_file", "arguments": {"path": "/work/w/a.txt"}}"#,
        #"{"arguments": {"path": "/etc/passwd", "other": [1, 2, {"x": 3}]}, "name": "read_file"}"#,
        #"{"name": "read_file", "arguments": {"mode": "w", "path": "/work/w/a"}}"#,
        #"{"name": "read_file", "arguments": {"path": 7}}"#,
        #"{"name": "read_file", "arguments": {}}"#,
        #"{"name": "read_file"}"#,
        #"{"name": "read_file", "arguments": ["path"]}"#,
        #"{"name": "read_file", "arguments": "path"}"#,
        #"{"name": "read_file", "arguments": null}"#,
        #"{"name": "read_file", "arguments": {"path": "/work/w/a", "path": "/etc/x"}}"#,
        #"{"name": "read_file", "arguments": {"path": "/etc/x", "path": "/work/w/a"}}"#,
        #"{"name": "read_file", "arguments": {"pa\u0074h": "\/work\/w\/b"}}"#,
        #"{"name": "read_file", "arguments": {"path": "/work/w/\u00e9\n\"q\""}}"#,
        #"{"n\u0061me": "read_file", "arguments": {"path": "/etc/x"}}"#,
        #"{"name": "read_file", "name": "gone", "arguments": {"path": "/work/w/a"}}"#,
        #"{"name": "read_file", "arguments": {"path": "/work/w/a"}, "arguments": {"path": "/etc"}}"#,
        #"{"name": "count", "arguments": {"n": 3, "opts": {"deep": {"deeper": [true, null, 1.5e3]}}}}"#,
        #"{"name": "count", "arguments": {"n": 3.5}}"#,
        #"{"name": "count", "arguments": {"n": -0}}"#,
        #"{"name": "count", "arguments": {"n": 12345678901234567890}}"#,
        #"{"name": "count", "arguments": {"n": "3"}}"#,
        #"{"name": "count", "arguments": {"n": 3, "opts": []}}"#,
        #"{"name": "count", "arguments": {"n": 3, "\u212A": 5}}"#,
        #"{"name": "count", "arguments": {"n": 3, "K": "k"}}"#,
        #"{"name": "free", "arguments": {"anything": {"at": "all"}}}"#,
        #"{"name": "gone", "arguments": {"path": "/work/w"}}"#,
        #"{"name": "unlisted", "arguments": {"path": "/work/w"}}"#,
        #"{"name": 5, "arguments": {"path": "/work/w"}}"#,
        #"{"arguments": {"path": "/work/w"}}"#,
        #"{}"#,
        #"[]"#,
        #"["read_file", {"path": "/etc"}]"#,
        #"{"name": "read_file", "arguments": {"path": "/work/w/a"}, "_meta": {"io.modelcontextprotocol/protocolVersion": "2024-11-05"}}"#,
        #"{"_meta": {"io.modelcontextprotocol/protocolVersion": "2026-07-28", "progressToken": 1}, "name": "free"}"#,
        #"{"_meta": {"io.modelcontextprotocol/protocolVersion": 2026}, "name": "free"}"#,
        #"{"protocolVersion": "2024-11-05", "capabilities": {}, "clientInfo": {"name": "c", "version": "1"}}"#,
        #"{"uri": "file:///work/w/a", "_meta": {}}"#,
        // More arguments than LineParams keeps from its first walk: a later lookup walks again.
        #"{"name": "read_file", "arguments": {"a1": 1, "a2": 2, "a3": 3, "a4": 4, "a5": 5, "a6": 6, "a7": 7, "a8": 8, "path": "/etc/x"}}"#,
        #"{"name": "read_file", "arguments": {"a1": 1, "a2": 2, "a3": 3, "a4": 4, "a5": 5, "a6": 6, "a7": 7, "a8": 8, "a9": 9, "path": "/work/w/x", "path": "/etc"}}"#,
        #"{"name": "read_file", "arguments": {"path": "/work/w/x", "a2": 2, "a3": 3, "a4": 4, "a5": 5, "a6": 6, "a7": 7, "a8": 8, "a9": 9, "mode": "w"}}"#,
        #"{"name": "count", "arguments": {"a1": 1, "a2": 2, "a3": 3, "a4": 4, "a5": 5, "a6": 6, "a7": 7, "n": 4, "n": 40, "opts": 1}}"#,
        #"{"arguments": {"path": "/etc"}, "name": "read_file", "arguments": {"path": "/work/w/a"}}"#,
        #"{"name": "read_file", "arguments": {"path": "/work/w/a"}, "name": "gone", "arguments": {"path": "/etc"}}"#,
    ]

    static let methods = ["tools/call", "initialize", "resources/read", "prompts/get", "ping", "x/unknown"]

    static func withLine<T>(_ text: String, _ body: (LineParams) -> T) -> T {
        let bytes = Array(text.utf8)
        return bytes.withUnsafeBufferPointer { body(LineParams(line: $0, range: 0..<bytes.count)) }
    }

    @Test(
        "decisions read from the line equal decisions read from the tree",
        arguments: [true, false], methods)
    func sameDecisions(pinnedVersions: Bool, method: String) throws {
        let yaml = pinnedVersions ? PolicyParamsTests.yaml : PolicyParamsTests.unpinned
        // Two engines, so that rate buckets and caches evolve alike on both sides.
        let whole = try engine(yaml), partial = try engine(yaml)
        // Without pinned versions, only these methods' params were ever read.
        let readBefore = pinnedVersions || ["tools/call", "initialize", "resources/read", "prompts/get"].contains(method)
        for text in PolicyParamsTests.cases {
            let expected = whole.evaluate(method: method, params: readBefore ? json(text) : nil, direction: .hostToServer)
            // What the relay does: the engine picks what it reads (for a call without pinned
            // versions, only `name` and `arguments`, and the walk ends at `arguments`).
            let bytes = Array(text.utf8)
            let got = bytes.withUnsafeBufferPointer { line in
                let params = partial.lineParams(method: method, line: line, range: 0..<line.count)
                #expect((params != nil) == readBefore, "\(method) reads params")
                return partial.evaluate(method: method, reading: params, direction: .hostToServer)
            }
            #expect(got == expected, "\(method) \(text)")
        }
    }

    @Test("every member and argument read from the line is the tree's")
    func sameMembers() {
        let names = ["path", "mode", "n", "opts", "K", "\u{212A}", "other", "missing", "anything", "", "pa\u{301}th"]
            .map(JSONScanner.KeyBytes.init)
        for text in PolicyParamsTests.cases {
            let tree = json(text)
            PolicyParamsTests.withLine(text) { params in
                for member in ParamsMember.allCases {
                    #expect(params.value(of: member) == tree.value(of: member), "\(member) in \(text)")
                    #expect(params.string(of: member) == tree.string(of: member), "\(member) in \(text)")
                }
                for name in names {
                    #expect(params.argument(name) == tree.argument(name), "\(name.text) in \(text)")
                }
            }
        }
    }

    @Test("a member is found by its decoded key, escapes and canonical equivalence included")
    func keyComparison() {
        let cases: [(String, String, Bool)] = [
            (#""name""#, "name", true), (#""n\u0061me""#, "name", true), (#""nam""#, "name", false),
            (#""names""#, "name", false), (#""""#, "", true), (#""\u212A""#, "K", true), (#""K""#, "\u{212A}", true),
            (#""é""#, "e\u{301}", true), (#""\u00e9""#, "é", true), (#""a\"b""#, "a\"b", true), (#""x""#, "é", false),
        ]
        for (token, key, expected) in cases {
            let got = Array(token.utf8).withUnsafeBufferPointer { buf in
                var scanner = JSONScanner(buf)
                guard let t = try? scanner.scanString() else { return !expected }
                return scanner.keyEquals(t, JSONScanner.KeyBytes(key))
            }
            #expect(got == expected, "\(token) vs \(key)")
        }
    }

    @Test("what a value's raw bytes prove, check agrees with; the common cases are proven")
    func rawProof() throws {
        let constraints = [
            "{type: string, max_length: 5}", "{max_length: 3}", "{type: string}", "{type: integer, min: 0}",
            "{type: number, min: -1.5, max: 10}", "{min: 1, max: 10}", "{type: integer}", "{enum: [a, \"7\"]}",
            "{pattern: \"^a\"}", "{type: boolean}", "{under: [/x]}", "{prefix: a, max_length: 9}", "{type: object}",
        ]
        var yaml = "mcp:\n  tools:\n    rules:\n      - name: t\n        allow: true\n        args:\n"
        for (i, c) in constraints.enumerated() { yaml += "          a\(i): \(c)\n" }
        let rule = try engine(yaml).toolRules[0]
        let values = [
            #""abc""#, #""abcdef""#, #""ab\ncd""#, #""\u00e9\u00e9""#, #""ééé""#, #""\ud83d\ude00x""#, #""""#,
            "0", "-0", "7", "-7", "11", "1.5", "1e2", "123456789012345", "-123456789012345", "1234567890123456",
            "true", "null", "[1]", "{}",
        ]
        var proven: Set<String> = []
        for (name, constraint) in rule.args {
            for text in values {
                let raw = Array(text.utf8)
                guard raw.withUnsafeBufferPointer(constraint.passes(raw:)) else { continue }
                proven.insert("\(name) \(text)")
                #expect(constraint.check(json(text), workdir: "/work/w") == nil, "\(name) \(text)")
            }
        }
        for expected in [#"a0 "abc""#, #"a1 "abc""#, #"a2 "abcdef""#, "a3 7", "a3 -0", "a4 7", "a5 7", "a6 -7"] {
            #expect(proven.contains(expected), "\(expected)")
        }
        // Escapes make the raw text longer than the value: no proof, `check` decides.
        for refused in [
            #"a0 "abcdef""#, #"a0 "ab\ncd""#, #"a1 "abcdef""#, "a3 -7", "a3 1.5", "a5 11", "a6 1234567890123456",
            "a7 7", #"a8 "abc""#, #"a11 "abc""#, "a12 {}",
        ] {
            #expect(!proven.contains(refused), "\(refused)")
        }
    }

    @Test(
        "numbers convert as Double(text) does",
        arguments: [
            "0", "-0", "7", "-7", "123456789012345", "-123456789012345", "1234567890123456", "9007199254740993",
            "12345678901234567890", "1.5", "-2.25e3", "1E2", "0.1", "-",
        ])
    func numbers(text: String) {
        let fast = CompiledConstraint.double(text), slow = Double(text)
        #expect(fast == slow && fast?.sign == slow?.sign, "\(text)")
    }
}
