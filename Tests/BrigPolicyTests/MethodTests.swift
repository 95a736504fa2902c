import BrigJSONRPC
import BrigProfile
import Dispatch
import Synchronization
import Testing

@testable import BrigPolicy

@Suite("Methods, versions, rates, modes")
struct MethodTests {
    @Test func noPolicyAllowsEverything() throws {
        let e = try PolicyEngine(policy: MCPPolicy(), context: PolicyContext())
        for m in ["initialize", "tools/call", "sampling/createMessage", "x/unknown", "notifications/progress"] {
            let d = e.method(m, "{\"name\": \"rm\"}")
            #expect(d.allowed && d.enforced && d.category == .allowed, "\(m): \(d)")
            #expect(d.rule == "built-in allow")
        }
        #expect(e.toolVisible("anything") && e.resourceVisible("file:///etc/passwd") && e.promptVisible("p"))
        #expect(!e.isPermissive && e.acceptedProtocolVersions == nil)
    }

    @Test func exactBeatsGlobAndLongestGlobWins() throws {
        let e = try engine(
            """
            mcp:
              default: deny
              methods:
                "resources/*": allow
                "resources/read": deny
                "*": deny
                "tools/*": deny
                "tools/li*": allow
            """)
        #expect(e.method("resources/list").allowed)
        let read = e.method("resources/read", "{\"uri\": \"file:///a\"}")
        #expect(!read.allowed && read.category == .method)
        #expect(read.rule == "/p/x.yaml:6 mcp.methods[\"resources/read\"]")
        #expect(read.reason == "method resources/read is denied (rule mcp.methods[\"resources/read\"])")
        #expect(read.subject == "file:///a")
        #expect(e.method("tools/list").allowed)  // tools/li* (9) beats tools/* (7) and * (1)
        #expect(!e.method("tools/call", "{\"name\": \"t\"}").allowed)
        #expect(e.method("resources/templates/list").allowed)  // * in method globs crosses /
        #expect(!e.method("ping").allowed)
        #expect(e.method("ping").rule.hasSuffix("mcp.methods[\"*\"]"))
    }

    @Test func defaultDenyAndBothDirections() throws {
        let e = try engine(
            """
            mcp:
              default: deny
              methods: {"initialize": allow, "tools/*": allow, "sampling/createMessage": deny, "notifications/*": allow}
            """)
        let d = e.method("completion/complete")
        #expect(!d.allowed && d.category == .method && d.rule == "/p/x.yaml:3 mcp.default")
        #expect(d.reason == "method completion/complete is denied by mcp.default")
        let s = e.method("sampling/createMessage", "{}", .serverToHost)
        #expect(!s.allowed && s.category == .method)
        #expect(e.method("notifications/progress", "{}", .serverToHost).allowed)
        #expect(!e.method("roots/list", nil, .serverToHost).allowed)
        // Unknown methods go through the globs (and the cache) too.
        #expect(e.method("tools/new-thing").allowed)
        #expect(e.method("tools/new-thing").allowed)
        #expect(!e.method("vendor/x").allowed)
    }

    @Test func protocolVersions() throws {
        let e = try engine("mcp:\n  protocol_versions: [\"2025-06-18\", \"2026-07-28\"]\n")
        #expect(e.acceptedProtocolVersions == ["2025-06-18", "2026-07-28"])
        #expect(e.method("initialize", "{\"protocolVersion\": \"2025-06-18\"}").allowed)
        let old = e.method("initialize", "{\"protocolVersion\": \"2024-11-05\"}")
        #expect(!old.allowed && old.category == .protocolVersion)
        #expect(old.reason.contains("\"2024-11-05\" is not accepted"))
        #expect(old.rule == "/p/x.yaml:3 mcp.protocol_versions")
        #expect(!e.method("initialize", "{\"protocolVersion\": 7}").allowed)
        let meta = #"{"name": "t", "_meta": {"io.modelcontextprotocol/protocolVersion": "2026-07-28"}}"#
        #expect(e.method("tools/call", meta).allowed)
        let bad = #"{"_meta": {"io.modelcontextprotocol/protocolVersion": "2025-11-25"}}"#
        #expect(e.method("tools/list", bad).category == .protocolVersion)
        #expect(e.method("tools/list", "{}").allowed)  // no _meta: legacy era, version fixed at initialize
    }

    @Test func methodRatesTrip() throws {
        let clock = TestClock()
        let e = try engine("mcp:\n  rate: {\"tools/list\": 3/min, \"tools/*\": 100/min, \"*\": 5/sec}\n", clock: clock)
        for _ in 0..<3 { #expect(e.method("tools/list").allowed) }
        let d = e.method("tools/list")
        #expect(!d.allowed && d.category == .rate)
        #expect(d.reason == "rate 3/min exceeded (rule mcp.rate[\"tools/list\"])")
        // Only the most specific key and * apply: tools/call is under tools/* and * (5/sec, 3 spent... refunded?)
        // * had 5 tokens: 3 list calls spent 3; the refused 4th was refunded to *.
        #expect(e.call("a").allowed)
        #expect(e.call("b").allowed)
        let star = e.call("c")
        #expect(!star.allowed && star.category == .rate && star.rule.hasSuffix("mcp.rate[\"*\"]"))
        // Refill: 20 s give 1 tools/list token back (3/min) and * refills fully.
        clock.advance(20)
        #expect(e.method("tools/list").allowed)
        #expect(!e.method("tools/list").allowed)
        // Server-to-host messages are not rate limited.
        for _ in 0..<10 { #expect(e.method("notifications/progress", "{}", .serverToHost).allowed) }
    }

    @Test func deniedMessagesDoNotSpendTokensButPermissiveOnesDo() throws {
        let e = try engine("mcp:\n  methods: {\"ping\": deny}\n  rate: {\"*\": 2/min}\n")
        for _ in 0..<5 { #expect(e.method("ping").category == .method) }
        #expect(e.method("tools/list").allowed)
        #expect(e.method("tools/list").allowed)
        #expect(e.method("tools/list").category == .rate)

        let p = try engine("mcp:\n  mode: permissive\n  methods: {\"ping\": deny}\n  rate: {\"*\": 2/min}\n")
        #expect(p.isPermissive)
        let d = p.method("ping")
        #expect(!d.allowed && !d.enforced && !d.blocks && d.category == .method)
        #expect(p.method("tools/list").allowed)  // the second token
        let r = p.method("tools/list")
        #expect(!r.allowed && !r.enforced && r.category == .rate)
    }

    @Test func permissiveFromOverrides() throws {
        var o = ProfileOverrides()
        o.permissive = true
        let e = try engine("mcp:\n  tools: {default: deny}\n", overrides: o)
        let d = e.call("x")
        #expect(e.isPermissive && !d.allowed && !d.enforced && d.category == .tool)
        #expect(d.reason == "tool x is not allowed (no rule names it; mcp.tools.default is deny)")
    }

    @Test func maxMessageBytes() throws {
        let e = try engine("mcp:\n  max_message_bytes: 16MiB\n")
        #expect(e.maxMessageBytes == 16 << 20)
    }

    @Test func bucketsHoldUnderConcurrentCallers() throws {
        let e = try engine("mcp:\n  rate: {\"tools/call\": 1000/hour}\n")
        let allowed = Atomic<Int>(0)
        DispatchQueue.concurrentPerform(iterations: 4) { _ in
            for _ in 0..<600 where e.call("t").allowed { allowed.add(1, ordering: .relaxed) }
        }
        #expect(allowed.load(ordering: .relaxed) == 1000)
    }

    @Test func numericEnum() throws {
        let e = try engine("mcp:\n  tools:\n    rules:\n      - {name: t, args: {level: {enum: [\"1\", \"2\", \"debug\"]}}}\n")
        #expect(e.call("t", #"{"level": 2}"#).allowed)
        #expect(e.call("t", #"{"level": 2.0}"#).allowed)
        #expect(e.call("t", #"{"level": "debug"}"#).allowed)
        #expect(e.call("t", #"{"level": 3}"#).category == .arguments)
        #expect(e.call("t", #"{"level": true}"#).category == .arguments)
    }

    @Test func unknownRoleWithNoRolesDefined() {
        #expect(throws: PolicyError("unknown role \"reader\" (mcp.roles defines none)")) {
            try engine("mcp: {}", context: PolicyContext(roles: ["reader"]))
        }
    }

    @Test func nameGlobs() {
        let cases: [(String, String, Bool)] = [
            ("read_*", "read_file", true), ("read_*", "read_", true), ("read_*", "xread_file", false),
            ("*delete*", "delete", true), ("*delete*", "bulk_delete_all", true), ("*delete*", "delet", false),
            ("a*b*c", "abc", true), ("a*b*c", "aXbYc", true), ("a*b*c", "acb", false), ("a*b*c", "abcc", true),
            ("a*a", "a", false), ("a*a", "aa", true), ("*", "", true), ("x", "x", true), ("x", "xx", false),
            ("**", "a/b", true), ("*/list", "tools/list", true), ("*/list", "list", false),
        ]
        for (p, s, expected) in cases {
            #expect(NameGlob(p).matches(s) == expected, "\(p) ~ \(s)")
        }
    }
}
