import Foundation
import Testing

@testable import BrigProfile

@Suite("The mcp: section")
struct MCPSectionTests {
    static let full = """
        version: 1
        mcp:
          default: allow
          methods:
            "tools/call": allow
            "resources/*": allow
            "sampling/createMessage": deny
          tools:
            default: deny
            rules:
              - name: "read_*"
                allow: true
                scopes: ["fs:read"]
                args:
                  path:  {under: ["$WORKDIR"]}
                  mode:  {enum: ["r", "rb"]}
                  query: {pattern: "^SELECT ", max_length: 10000}
                  n:     {type: integer, min: 1, max: 5}
                  files: {max_items: 3, each: {prefix: "$HOME/"}}
                  force: {equals: false, optional: true}
                rate: 30/min
              - name: "*delete*"
                allow: false
          resources: {allow: ["file://$WORKDIR/**"], deny: ["**/.env", "**/.ssh/**"]}
          prompts:   {allow: ["*"]}
          protocol_versions: ["2025-06-18", "2025-11-25", "2026-07-28"]
          max_message_bytes: 16MiB
          rate: {"tools/call": 120/min, "*": 1000/min}
          roles: {reader: ["fs:read"], writer: ["fs:read", "fs:write"]}
          auth:
            token_env: BRIG_TOKEN
            jwt: {public_key: "keys/issuer.pem", issuer: "https://id.example", audience: "brig", scopes_claim: "scope"}
          mode: permissive
        """

    @Test func defaultIsAllowAllEnforce() throws {
        let p = try load("version: 1\n").mcp
        var expected = MCPPolicy()
        expected.workdir = "/work/w"
        #expect(p == expected)
        #expect(p.defaultAction == .allow && p.toolDefault == .allow && p.mode == .enforce)
        #expect(p.methods.isEmpty && p.toolRules.isEmpty && p.auth == nil && p.protocolVersions == nil)
        #expect(try load("version: 1\nmcp:\n").mcp.mode == .enforce)
        #expect(try load("version: 1\nmcp: {}\n").mcp.workdir == "/work/w")
    }

    @Test func fullExample() throws {
        let p = try load(MCPSectionTests.full).mcp
        #expect(p.defaultAction == .allow && p.defaultSource == "/tmp/p.yaml:3 mcp.default")
        #expect(p.methods.map(\.pattern) == ["tools/call", "resources/*", "sampling/createMessage"])
        #expect(
            p.methods[2]
                == MCPMethodRule(
                    pattern: "sampling/createMessage", action: .deny,
                    source: "/tmp/p.yaml:7 mcp.methods[\"sampling/createMessage\"]"))
        #expect(p.toolDefault == .deny)
        #expect(p.toolRules.count == 2)
        let r = p.toolRules[0]
        #expect(r.name == "read_*" && r.allow && r.scopes == ["fs:read"] && r.rate == MCPRate(count: 30, seconds: 60))
        #expect(r.source == "/tmp/p.yaml:11 mcp.tools.rules[0]")
        #expect(r.args.map(\.name) == ["path", "mode", "query", "n", "files", "force"])
        #expect(r.args[0].constraint.under == ["/work/w"])
        #expect(r.args[0].source == "/tmp/p.yaml:15 mcp.tools.rules[0].args.path")
        #expect(r.args[1].constraint.enumValues == ["r", "rb"])
        #expect(r.args[2].constraint.pattern == "^SELECT " && r.args[2].constraint.maxLength == 10000)
        #expect(r.args[3].constraint.type == .integer && r.args[3].constraint.min == 1 && r.args[3].constraint.max == 5)
        #expect(r.args[4].constraint.maxItems == 3 && r.args[4].constraint.each?.prefix == "/home/u/")
        #expect(r.args[4].constraint.impliedType == .array)
        #expect(r.args[5].constraint.equals == false && r.args[5].constraint.optional)
        #expect(!p.toolRules[1].allow && p.toolRules[1].name == "*delete*")
        #expect(p.resources.allow.map(\.pattern) == ["file:///work/w/**"])
        #expect(p.resources.deny.map(\.pattern) == ["**/.env", "**/.ssh/**"])
        #expect(p.resources.deny[1].source == "/tmp/p.yaml:24 mcp.resources.deny[1]")
        #expect(p.prompts.allow.map(\.pattern) == ["*"] && p.prompts.deny.isEmpty)
        #expect(p.protocolVersions == ["2025-06-18", "2025-11-25", "2026-07-28"])
        #expect(p.maxMessageBytes == 16 << 20)
        #expect(p.rates.map(\.pattern) == ["tools/call", "*"] && p.rates[1].rate == MCPRate(count: 1000, seconds: 60))
        #expect(p.roles == ["reader": ["fs:read"], "writer": ["fs:read", "fs:write"]])
        #expect(p.auth?.tokenEnv == "BRIG_TOKEN")
        #expect(
            p.auth?.jwt
                == MCPJWTSettings(
                    publicKey: "/tmp/keys/issuer.pem", issuer: "https://id.example",
                    audience: "brig", scopesClaim: "scope"))
        #expect(p.mode == .permissive)
    }

    @Test func rates() {
        #expect(MCPRate.parse("30/min") == MCPRate(count: 30, seconds: 60))
        #expect(MCPRate.parse("5/s") == MCPRate(count: 5, seconds: 1))
        #expect(MCPRate.parse("5 / sec") == MCPRate(count: 5, seconds: 1))
        #expect(MCPRate.parse("2/h") == MCPRate(count: 2, seconds: 3600))
        #expect(MCPRate.parse("1/m")?.description == "1/min")
        for bad in ["0/min", "-1/s", "10", "10/day", "x/min", "1.5/s", "/min", "10/min/s"] {
            #expect(MCPRate.parse(bad) == nil, "\(bad)")
        }
    }

    @Test func extendsMerging() throws {
        let dir = try makeTempDir()
        defer { cleanup(dir) }
        try write(
            """
            version: 1
            mcp:
              default: deny
              methods: {"tools/call": allow, "ping": allow}
              tools:
                default: deny
                rules: [{name: "a*", allow: true}, {name: "b", allow: false}]
              resources: {allow: ["file:///a/**"], deny: ["**/.env"]}
              prompts: {deny: ["x"]}
              rate: {"*": 10/sec, "tools/call": 5/sec}
              roles: {reader: [r], writer: [w]}
              protocol_versions: ["2025-06-18"]
              mode: permissive
            """, to: dir + "/base.yaml")
        try write(
            """
            version: 1
            extends: ./base.yaml
            mcp:
              methods: {"ping": deny, "tools/list": allow}
              tools:
                rules: [{name: "a1", allow: false}]
              resources: {allow: ["file:///b/**"]}
              prompts: {allow: ["y*"]}
              rate: {"tools/call": 1/sec}
              roles: {writer: [w, r]}
              mode: enforce
            """, to: dir + "/child.yaml")
        let p = try ProfileLoader.load(dir + "/child.yaml", context: testContext).mcp
        #expect(p.defaultAction == .deny && p.defaultSource == dir + "/base.yaml:3 mcp.default")
        #expect(p.methods.map { "\($0.pattern)=\($0.action)" } == ["ping=deny", "tools/list=allow", "tools/call=allow"])
        #expect(p.toolDefault == .deny)
        #expect(p.toolRules.map(\.name) == ["a1", "a*", "b"])
        #expect(p.resources.allow.map(\.pattern) == ["file:///a/**", "file:///b/**"])
        #expect(p.resources.deny.map(\.pattern) == ["**/.env"])
        #expect(p.prompts.allow.map(\.pattern) == ["y*"] && p.prompts.deny.map(\.pattern) == ["x"])
        #expect(p.rates.map { "\($0.pattern)=\($0.rate)" } == ["tools/call=1/sec", "*=10/sec"])
        #expect(p.roles == ["reader": ["r"], "writer": ["w", "r"]])
        #expect(p.protocolVersions == ["2025-06-18"])
        #expect(p.mode == .enforce)
    }

    @Test func commandLineOverrides() throws {
        var o = ProfileOverrides()
        o.allowTools = ["read_*"]
        o.denyTools = ["*delete*", "rm"]
        o.permissive = true
        let p = try load("version: 1\nmcp:\n  tools:\n    rules: [{name: x, allow: true}]\n", overrides: o).mcp
        #expect(p.toolRules.map(\.name) == ["*delete*", "rm", "read_*", "x"])
        #expect(p.toolRules.map(\.allow) == [false, false, true, true])
        #expect(p.toolRules[0].source == "--deny-tool *delete*" && p.toolRules[2].source == "--allow-tool read_*")
        #expect(p.mode == .permissive)
        // Also without any mcp: section.
        #expect(try load("version: 1\n", overrides: o).mcp.toolRules.count == 3)
        var bad = ProfileOverrides()
        bad.allowTools = ["a b"]
        #expect(loadError("version: 1\n", overrides: bad)?.description == "--allow-tool: \"a b\" is not a tool name or * glob")
        bad = ProfileOverrides()
        bad.denyTools = [""]
        #expect(loadError("version: 1\n", overrides: bad)?.description == "--deny-tool: \"\" is not a tool name or * glob")
    }

    static let errors: [(String, String)] = [
        ("mcp:\n  defualt: deny\n", "/tmp/p.yaml:3: mcp.defualt: unknown key (did you mean default?); expected one of: default, methods"),
        ("mcp:\n  default: block\n", "/tmp/p.yaml:3: mcp.default: expected allow or deny, got \"block\""),
        ("mcp:\n  mode: audit\n", "/tmp/p.yaml:3: mcp.mode: expected enforce or permissive, got \"audit\""),
        ("mcp:\n  methods: {\"tools/call\": yes}\n", "/tmp/p.yaml:3: mcp.methods[\"tools/call\"]: expected allow or deny, got \"yes\""),
        (
            "mcp:\n  methods: {\"tools/[a]\": allow}\n",
            "/tmp/p.yaml:3: mcp.methods[\"tools/[a]\"]: bad method glob \"tools/[a]\": \"[\" is not allowed (only * is special)"
        ),
        (
            "mcp:\n  tools:\n    rules:\n      - {name: \"read file\", allow: true}\n",
            "/tmp/p.yaml:5: mcp.tools.rules[0].name: bad tool glob \"read file\": a space or control character is not allowed"
        ),
        (
            "mcp:\n  tools:\n    rules:\n      - {name: \"a?\", allow: true}\n",
            "/tmp/p.yaml:5: mcp.tools.rules[0].name: bad tool glob \"a?\""
        ),
        (
            "mcp:\n  tools:\n    rules:\n      - {allow: true}\n",
            "/tmp/p.yaml:5: mcp.tools.rules[0].name: missing (every rule names a tool or a * glob)"
        ),
        (
            "mcp:\n  tools:\n    rules:\n      - {name: x}\n",
            "/tmp/p.yaml:5: mcp.tools.rules[0].allow: missing (a rule without conditions must say allow: true or allow: false)"
        ),
        (
            "mcp:\n  tools:\n    rules:\n      - {name: x, allow: maybe}\n",
            "/tmp/p.yaml:5: mcp.tools.rules[0].allow: expected true or false, got \"maybe\""
        ),
        (
            "mcp:\n  tools:\n    rules:\n      - {name: x, alow: true}\n",
            "/tmp/p.yaml:5: mcp.tools.rules[0].alow: unknown key (did you mean allow?)"
        ),
        ("mcp:\n  tools:\n    rulez: []\n", "/tmp/p.yaml:4: mcp.tools.rulez: unknown key (did you mean rules?)"),
        (
            "mcp:\n  tools:\n    rules:\n      - name: q\n        args:\n          sql: {pattern: \"([a-z\"}\n",
            "/tmp/p.yaml:7: mcp.tools.rules[0].args.sql.pattern: invalid regular expression \"([a-z\""
        ),
        (
            "mcp:\n  tools:\n    rules:\n      - name: q\n        args:\n          sql: {patern: x}\n",
            "/tmp/p.yaml:7: mcp.tools.rules[0].args.sql.patern: unknown key (did you mean pattern?)"
        ),
        (
            "mcp:\n  tools:\n    rules:\n      - name: q\n        args:\n          path: {under: [relative/dir]}\n",
            "/tmp/p.yaml:7: mcp.tools.rules[0].args.path.under: \"relative/dir\" is not an absolute path"
        ),
        (
            "mcp:\n  tools:\n    rules:\n      - name: q\n        args:\n          path: {under: [\"$WORKDIRX\"]}\n",
            "/tmp/p.yaml:7: mcp.tools.rules[0].args.path.under: unknown variable $WORKDIRX"
        ),
        (
            "mcp:\n  tools:\n    rules:\n      - name: q\n        args:\n          n: {min: 1, pattern: x}\n",
            "/tmp/p.yaml:7: mcp.tools.rules[0].args.n.min: applies to number values, but this argument is string (from pattern)"
        ),
        (
            "mcp:\n  tools:\n    rules:\n      - name: q\n        args:\n          n: {type: boolean, max_length: 3}\n",
            "/tmp/p.yaml:7: mcp.tools.rules[0].args.n.max_length: applies to string values, but this argument is boolean"
        ),
        (
            "mcp:\n  tools:\n    rules:\n      - name: q\n        args:\n          n: {type: float}\n",
            "/tmp/p.yaml:7: mcp.tools.rules[0].args.n.type: expected string, number, integer, boolean, array, or object, got \"float\""
        ),
        (
            "mcp:\n  tools:\n    rules:\n      - name: q\n        args:\n          n: {min: 5, max: 1}\n",
            "/tmp/p.yaml:7: mcp.tools.rules[0].args.n.min: min 5.0 is greater than max 1.0"
        ),
        (
            "mcp:\n  tools:\n    rules:\n      - name: q\n        args:\n          n: {max_length: -1}\n",
            "/tmp/p.yaml:7: mcp.tools.rules[0].args.n.max_length: expected a whole number >= 0, got \"-1\""
        ),
        (
            "mcp:\n  tools:\n    rules:\n      - name: q\n        args:\n          n: {each: {pattern: \"(\"}}\n",
            "/tmp/p.yaml:7: mcp.tools.rules[0].args.n.each.pattern: invalid regular expression"
        ),
        (
            "mcp:\n  tools:\n    rules:\n      - name: q\n        args:\n          n: {enum: []}\n",
            "/tmp/p.yaml:7: mcp.tools.rules[0].args.n.enum: empty list"
        ),
        (
            "mcp:\n  tools:\n    rules:\n      - name: q\n        rate: 10/day\n",
            "/tmp/p.yaml:6: mcp.tools.rules[0].rate: expected a rate like 30/min (N/sec, N/s, N/min, N/m, N/hour or N/h, N >= 1), got \"10/day\""
        ),
        ("mcp:\n  rate: {\"tools/call\": fast}\n", "/tmp/p.yaml:3: mcp.rate[\"tools/call\"]: expected a rate like 30/min"),
        ("mcp:\n  rate: {\"tools/call\": 0/s}\n", "/tmp/p.yaml:3: mcp.rate[\"tools/call\"]: expected a rate like 30/min"),
        (
            "mcp:\n  resources: {allow: [\"file:///a/***\"]}\n",
            "/tmp/p.yaml:3: mcp.resources.allow: bad URI glob \"file:///a/***\": *** (use ** to match across /)"
        ),
        ("mcp:\n  resources: {alow: []}\n", "/tmp/p.yaml:3: mcp.resources.alow: unknown key (did you mean allow?)"),
        ("mcp:\n  resources: {allow: [\"$NOPE/x\"]}\n", "/tmp/p.yaml:3: mcp.resources.allow: unknown variable $NOPE"),
        ("mcp:\n  prompts: {deny: [\"a b\"]}\n", "/tmp/p.yaml:3: mcp.prompts.deny: bad prompt glob \"a b\""),
        (
            "mcp:\n  protocol_versions: [\"2025\"]\n",
            "/tmp/p.yaml:3: mcp.protocol_versions: \"2025\" is not a protocol version (expected YYYY-MM-DD, e.g. 2025-11-25)"
        ),
        ("mcp:\n  protocol_versions: []\n", "/tmp/p.yaml:3: mcp.protocol_versions: empty list"),
        (
            "mcp:\n  max_message_bytes: 16 megs\n",
            "/tmp/p.yaml:3: mcp.max_message_bytes: expected a size like 16MiB, 16M or 16MB, got \"16 megs\""
        ),
        ("mcp:\n  roles: {reader: [\"fs read\"]}\n", "/tmp/p.yaml:3: mcp.roles.reader: \"fs read\" is not a scope (non-empty, no spaces)"),
        ("mcp:\n  roles: {reader: fs:read}\n", "/tmp/p.yaml:3: mcp.roles.reader: expected a list, got \"fs:read\""),
        ("mcp:\n  auth: {token_env: T}\n", "/tmp/p.yaml:3: mcp.auth.jwt: missing"),
        ("mcp:\n  auth: {jwt: {public_key: k.pem, issuer: i, audience: a}}\n", "/tmp/p.yaml:3: mcp.auth.token_env: missing"),
        ("mcp:\n  auth: {token_env: \"1T\", jwt: {}}\n", "/tmp/p.yaml:3: mcp.auth.token_env: \"1T\" is not a variable name"),
        (
            "mcp:\n  auth:\n    token_env: T\n    jwt: {public_key: k.pem, issuer: i}\n",
            "/tmp/p.yaml:5: mcp.auth.jwt.audience: missing (tokens minted for another service must not be accepted)"
        ),
        ("mcp:\n  auth:\n    token_env: T\n    jwt: {issuer: i, audience: a}\n", "/tmp/p.yaml:5: mcp.auth.jwt.public_key: missing (or jwks: FILE)"),
        (
            "mcp:\n  auth:\n    token_env: T\n    jwt: {public_key: a, jwks: b, issuer: i, audience: a}\n",
            "/tmp/p.yaml:5: mcp.auth.jwt: give public_key or jwks, not both"
        ),
        (
            "mcp:\n  auth:\n    token_env: T\n    jwt: {public_key: a, issuer: i, audience: a, algorithm: RS256}\n",
            "/tmp/p.yaml:5: mcp.auth.jwt.algorithm: unknown key"
        ),
        ("mcp: [a]\n", "/tmp/p.yaml:2: mcp: expected a mapping, got a list"),
    ]

    @Test(arguments: errors)
    func oneLineError(_ yaml: String, _ expected: String) throws {
        let error = try #require(loadError("version: 1\n" + yaml), "expected an error for:\n\(yaml)")
        #expect(error.description.hasPrefix(expected), "got: \(error.description)")
        #expect(!error.description.contains("\n"))
    }
}
