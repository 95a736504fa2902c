import BrigJSONRPC
import BrigProfile
import Testing

@testable import BrigPolicy

@Suite("Tool rules, arguments, scopes")
struct ToolTests {
    static let yaml = """
        mcp:
          tools:
            default: deny
            rules:
              - name: "read_*"
                allow: true
                scopes: ["fs:read"]
                args:
                  path:  {under: ["$WORKDIR"]}
                  mode:  {enum: ["r", "rb"], optional: true}
                rate: 3/min
              - name: "*delete*"
                allow: false
              - name: "query"
                args:
                  sql: {pattern: "^SELECT ", max_length: 30}
              - name: "read_secret"
                allow: true
              - name: "count"
                args:
                  n: {type: integer, min: 1, max: 10}
                  f: {type: number, max: 0.5, optional: true}
              - name: "toggle"
                args:
                  force: {equals: false}
              - name: "batch"
                args:
                  files: {max_items: 2, each: {under: ["/data"]}}
              - name: "tag"
                args:
                  label: {prefix: "brig-", type: string}
                  meta: {type: object, optional: true}
          roles: {reader: ["fs:read"], writer: ["fs:read", "fs:write"]}
        """

    func reader() throws -> PolicyEngine {
        try engine(ToolTests.yaml, context: PolicyContext(roles: ["reader"]))
    }

    @Test func firstMatchWinsAndDefault() throws {
        let e = try reader()
        let ok = e.call("read_file", #"{"path": "/work/w/a.txt"}"#)
        #expect(ok.allowed && ok.category == .allowed)
        #expect(ok.rule == "/p/x.yaml:6 mcp.tools.rules[0] (read_*)")
        #expect(ok.subject == "read_file" && ok.scopes == ["fs:read"])
        // read_secret is shadowed by read_* (first match wins): it needs a path.
        #expect(e.call("read_secret").category == .arguments)
        let del = e.call("bulk_delete")
        #expect(!del.allowed && del.category == .tool)
        #expect(del.rule == "/p/x.yaml:13 mcp.tools.rules[1] (*delete*)")
        #expect(del.reason == "tool bulk_delete is denied (rule mcp.tools.rules[1])")
        let other = e.call("write_file")
        #expect(!other.allowed && other.category == .tool && other.rule == "/p/x.yaml:4 mcp.tools.default")
        let noName = e.method("tools/call", "{}")
        #expect(!noName.allowed && noName.category == .tool)
        #expect(e.toolVisible("read_x") && !e.toolVisible("bulk_delete") && !e.toolVisible("write_file"))
    }

    @Test func scopesAndRoles() throws {
        let none = try engine(ToolTests.yaml)
        let d = none.call("read_file", #"{"path": "/work/w/a"}"#)
        #expect(!d.allowed && d.category == .scope)
        #expect(d.reason == "tool read_file needs scope fs:read, not granted (rule mcp.tools.rules[0])")
        #expect(!none.toolVisible("read_file"))
        let granted = try engine(ToolTests.yaml, context: PolicyContext(scopes: ["fs:read"]))
        #expect(granted.call("read_file", #"{"path": "/work/w/a"}"#).allowed)
        let writer = try engine(ToolTests.yaml, context: PolicyContext(scopes: ["x"], roles: ["writer"]))
        #expect(writer.call("read_file", #"{"path": "/work/w/a"}"#).scopes == ["fs:read", "fs:write", "x"])
        #expect(throws: PolicyError("unknown role \"admin\"; mcp.roles defines: reader, writer")) {
            try engine(ToolTests.yaml, context: PolicyContext(roles: ["admin"]))
        }
    }

    @Test func missingAndWrongTypeArguments() throws {
        let e = try reader()
        let missing = e.call("read_file")
        #expect(!missing.allowed && missing.category == .arguments)
        #expect(missing.reason == "argument path is missing (rule mcp.tools.rules[0])")
        let wrong = e.call("read_file", #"{"path": 42}"#)
        #expect(wrong.category == .arguments && wrong.reason == "argument path must be a string, got number (rule mcp.tools.rules[0])")
        #expect(e.call("read_file", #"{"path": ["/work/w"]}"#).category == .arguments)
        #expect(e.call("read_file", #"{"path": null}"#).category == .arguments)
        // Optional: absent passes, present must meet the constraint.
        #expect(e.call("read_file", #"{"path": "/work/w/a", "mode": "rb"}"#).allowed)
        let mode = e.call("read_file", #"{"path": "/work/w/a", "mode": "w"}"#)
        #expect(mode.category == .arguments && mode.reason.hasPrefix("argument mode is not one of r, rb"))
        // Arguments that are not an object count as missing.
        #expect(e.method("tools/call", #"{"name": "read_file", "arguments": "x"}"#).category == .arguments)
    }

    @Test func stringConstraints() throws {
        let e = try reader()
        #expect(e.call("query", #"{"sql": "SELECT 1"}"#).allowed)
        let p = e.call("query", #"{"sql": "DROP TABLE x"}"#)
        #expect(p.category == .arguments && p.reason == "argument sql does not match the pattern ^SELECT  (rule mcp.tools.rules[2])")
        let long = e.call("query", #"{"sql": "SELECT 1234567890123456789012345"}"#)
        #expect(long.reason.hasPrefix("argument sql is longer than 30 characters"))
        #expect(e.call("query", #"{"sql": " SELECT 1"}"#).category == .arguments)
        #expect(e.call("tag", #"{"label": "brig-1"}"#).allowed)
        #expect(e.call("tag", #"{"label": "other"}"#).reason.hasPrefix("argument label does not start with \"brig-\""))
        #expect(e.call("tag", #"{"label": "brig-1", "meta": {}}"#).allowed)
        #expect(e.call("tag", #"{"label": "brig-1", "meta": []}"#).reason.hasPrefix("argument meta must be an object, got array"))
    }

    @Test func numberAndBooleanConstraints() throws {
        let e = try reader()
        #expect(e.call("count", #"{"n": 1}"#).allowed)
        #expect(e.call("count", #"{"n": 10, "f": 0.5}"#).allowed)
        #expect(e.call("count", #"{"n": 0}"#).reason.hasPrefix("argument n is 0, below the minimum 1"))
        #expect(e.call("count", #"{"n": 11}"#).reason.hasPrefix("argument n is 11, above the maximum 10"))
        #expect(e.call("count", #"{"n": 2.5}"#).reason.hasPrefix("argument n must be an integer, got 2.5"))
        #expect(e.call("count", #"{"n": "3"}"#).reason.hasPrefix("argument n must be an integer, got string"))
        #expect(e.call("count", #"{"n": 3, "f": 0.75}"#).category == .arguments)
        #expect(e.call("count", #"{"n": 3e0}"#).allowed)
        #expect(e.call("toggle", #"{"force": false}"#).allowed)
        #expect(e.call("toggle", #"{"force": true}"#).reason.hasPrefix("argument force must be false"))
        #expect(e.call("toggle", #"{"force": "false"}"#).reason.hasPrefix("argument force must be a boolean, got string"))
    }

    @Test func arrayConstraints() throws {
        let e = try reader()
        #expect(e.call("batch", #"{"files": ["/data/a", "/data/b/c"]}"#).allowed)
        #expect(e.call("batch", #"{"files": []}"#).allowed)
        #expect(e.call("batch", #"{"files": ["/data/a", "/data/b", "/data/c"]}"#).reason.hasPrefix("argument files has 3 items, more than 2"))
        let item = e.call("batch", #"{"files": ["/data/a", "/data/../etc/passwd"]}"#)
        #expect(item.reason.hasPrefix("argument files item [1] \"/data/../etc/passwd\" resolves to \"/etc/passwd\", outside /data"))
        #expect(e.call("batch", #"{"files": ["/data/a", 3]}"#).reason.hasPrefix("argument files item [1] must be a string, got number"))
        #expect(e.call("batch", #"{"files": "/data/a"}"#).reason.hasPrefix("argument files must be an array, got string"))
    }

    @Test func toolRateTrips() throws {
        let e = try reader()
        for _ in 0..<3 { #expect(e.call("read_a", #"{"path": "/work/w/x"}"#).allowed) }
        // The bucket is the rule's: another tool under read_* shares it.
        let d = e.call("read_b", #"{"path": "/work/w/x"}"#)
        #expect(!d.allowed && d.category == .rate && d.reason == "rate 3/min exceeded (rule mcp.tools.rules[0])")
        // A denied call does not spend (or need) a token.
        #expect(e.call("read_b", #"{"path": "/etc"}"#).category == .arguments)
    }

    @Test func commandLineToolOverrides() throws {
        var o = ProfileOverrides()
        o.allowTools = ["write_*", "bulk_delete"]
        o.denyTools = ["write_secret*"]
        let e = try engine(ToolTests.yaml, context: PolicyContext(roles: ["reader"]), overrides: o)
        let w = e.call("write_file")
        #expect(w.allowed && w.rule == "--allow-tool write_*")
        #expect(e.call("bulk_delete").allowed)  // before the profile's *delete* rule
        let s = e.call("write_secret_key")
        #expect(!s.allowed && s.category == .tool && s.rule == "--deny-tool write_secret*")
        #expect(s.reason == "tool write_secret_key is denied (rule --deny-tool write_secret*)")
        // Same glob on both: deny wins.
        var both = ProfileOverrides()
        both.allowTools = ["x"]
        both.denyTools = ["x"]
        #expect(!(try engine("mcp: {}", overrides: both)).call("x").allowed)
    }

    @Test func fiftyRulePolicyFindsTheRightRule() throws {
        var yaml = "mcp:\n  tools:\n    default: deny\n    rules:\n"
        for i in 0..<49 { yaml += "      - {name: \"tool_\(i)_*\", allow: \(i % 2 == 0)}\n" }
        yaml += "      - {name: \"target\", args: {path: {under: [\"$WORKDIR\"]}}}\n"
        let e = try engine(yaml)
        #expect(e.call("target", #"{"path": "a/b"}"#).allowed)
        #expect(e.call("tool_48_x").allowed && !e.call("tool_47_x").allowed)
        #expect(e.call("target", #"{"path": "a/b"}"#).rule == "/p/x.yaml:55 mcp.tools.rules[49] (target)")
    }
}
