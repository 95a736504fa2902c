import Testing

@testable import BrigProfile

@Suite("ask: true, ask_timeout and --ask-tool")
struct AskRuleTests {
    @Test func askRulesAndTheirTimeouts() throws {
        let p = try load(
            """
            version: 1
            mcp:
              ask_timeout: 2m
              tools:
                rules:
                  - {name: git_commit, ask: true, ask_timeout: 30s}
                  - {name: "write_*", allow: true, ask: true}
                  - {name: read_file, allow: true}
            """
        ).mcp
        #expect(p.askTimeout == 120)
        #expect(p.toolRules.map(\.ask) == [true, true, false])
        #expect(p.toolRules.map(\.askTimeout) == [30, nil, nil])
        #expect(p.toolRules.allSatisfy { $0.allow })
    }

    @Test(
        "seconds: a number, Ns, Nm; more than 0 and at most a day",
        arguments: [
            ("120", 120.0), ("0.5", 0.5), ("30s", 30.0), ("2m", 120.0), (" 7 ", 7.0), ("86400", 86_400.0),
        ])
    func timeouts(text: String, seconds: Double) {
        #expect(AskTimeout.parse(text) == seconds)
    }

    @Test(arguments: ["", "0", "-1", "1h", "soon", "1e3", "86401", "nan", "s", ".", "2 m"])
    func badTimeouts(text: String) {
        #expect(AskTimeout.parse(text) == nil)
    }

    @Test(
        "errors name FILE:LINE: KEY",
        arguments: [
            (
                "mcp:\n  tools:\n    rules:\n      - {name: x, allow: false, ask: true}\n",
                "/tmp/p.yaml:5: mcp.tools.rules[0].ask: a denied tool is never asked about (ask: true needs allow: true)"
            ),
            (
                "mcp:\n  tools:\n    rules:\n      - {name: x, ask: true, ask_timeout: 0}\n",
                "/tmp/p.yaml:5: mcp.tools.rules[0].ask_timeout: expected a time like 120, 30s, 2m or 0.5"
            ),
            (
                "mcp:\n  tools:\n    rules:\n      - {name: x, allow: true, ask_timeout: 5}\n",
                "/tmp/p.yaml:5: mcp.tools.rules[0].ask_timeout: set without ask: true"
            ),
            (
                "mcp:\n  tools:\n    rules:\n      - {name: x, ask: maybe}\n",
                "/tmp/p.yaml:5: mcp.tools.rules[0].ask: expected true or false"
            ),
            ("mcp:\n  ask_timeout: [1]\n", "/tmp/p.yaml:3: mcp.ask_timeout: expected a string"),
            ("mcp:\n  ask_timeout: 3d\n", "/tmp/p.yaml:3: mcp.ask_timeout: expected a time like 120"),
        ])
    func errors(yaml: String, start: String) throws {
        let error = try #require(loadError("version: 1\n" + yaml))
        #expect(error.description.hasPrefix(start), "\(error.description)")
        #expect(!error.description.contains("\n"))
    }

    @Test("--deny-tool beats --ask-tool, which beats --allow-tool; --ask-timeout replaces mcp.ask_timeout")
    func overrides() throws {
        var o = ProfileOverrides()
        o.allowTools = ["git_*"]
        o.askTools = ["git_*"]
        o.denyTools = ["git_push"]
        o.askTimeout = 5
        let p = try load("version: 1\nmcp:\n  ask_timeout: 60\n  tools:\n    rules:\n      - {name: git_commit, ask: true}\n", overrides: o).mcp
        #expect(p.toolRules.map(\.source) == ["--deny-tool git_push", "--ask-tool git_*", "--allow-tool git_*", "/tmp/p.yaml:6 mcp.tools.rules[0]"])
        #expect(p.toolRules.map(\.ask) == [false, true, false, true])
        #expect(p.askTimeout == 5)
    }
}
