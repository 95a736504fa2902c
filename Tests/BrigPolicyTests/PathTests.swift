import BrigJSONRPC
import BrigProfile
import Testing

@testable import BrigPolicy

@Suite("Paths under a directory; resources; prompts")
struct PathTests {
    static let yaml = """
        mcp:
          tools:
            rules:
              - name: open
                args:
                  path: {under: ["$WORKDIR", "/data/"]}
        """

    /// (argument path, accepted?)
    static let cases: [(String, Bool)] = [
        ("/work/w", true), ("/work/w/", true), ("/work/w/a/b.txt", true), ("/data/x", true),
        ("a/b", true), ("./a", true), (".", true), ("a/../b", true), ("a/./b//c/", true),
        ("file:///work/w/a", true), ("file://localhost/work/w/a", true), ("file:///work/w/a%20b", true),
        ("/work/w/../x", false), ("/work/w/a/../../x", false), ("/work/wx", false), ("/work/w2/a", false),
        ("..", false), ("../w2", false), ("a/../../x", false), ("../w", true),
        ("//work/w/a", true), ("/work//w/./a", true), ("/work/./w/../w/a", true),
        ("/work/w/%2e%2e/x", false), ("/work/w/%2E%2E/%2e%2e/etc", false), ("%2e%2e/x", false),
        ("file:///work/w/%2e%2e/x", false), ("file:///work/w/..%2f..%2fetc", false),
        ("file:///work/w/a%00b", false), ("/work/w/a\u{0}b", false), ("file:///work/w/%zz", false),
        ("file://evil/work/w/a", false), ("~/x", false), ("~root/x", false), ("", false),
        ("/etc/passwd", false), ("/", false), ("/work", false), ("/data", true), ("/data/../work/w/a", true),
    ]

    @Test(arguments: cases)
    func pathTricks(_ path: String, _ accepted: Bool) throws {
        let e = try engine(PathTests.yaml)
        let args = JSONValue.object([("path", .string(path))]).jsonText
        let d = e.call("open", args)
        #expect(d.allowed == accepted, "\(path): \(d.reason)")
        if !accepted { #expect(d.category == .arguments) }
    }

    @Test func refusalReasons() throws {
        let e = try engine(PathTests.yaml)
        func reason(_ p: String) -> String { e.call("open", JSONValue.object([("path", .string(p))]).jsonText).reason }
        #expect(reason("/work/w/../x") == "argument path \"/work/w/../x\" resolves to \"/work/x\", outside /work/w, /data (rule mcp.tools.rules[0])")
        #expect(reason("/work/w/a\u{0}") == "argument path \"/work/w/a\\u{0}\" contains a NUL byte (rule mcp.tools.rules[0])")
        #expect(reason("~/x").contains("starts with ~"))
        #expect(reason("file://h/x").contains("host other than localhost"))
    }

    @Test func relativePathsWithoutWorkdirAreRefused() throws {
        var p = try policy(PathTests.yaml)
        p.workdir = nil
        let e = try PolicyEngine(policy: p, context: PolicyContext())
        let d = e.call("open", #"{"path": "a"}"#)
        #expect(!d.allowed && d.reason.contains("is relative and there is no $WORKDIR"))
        #expect(e.call("open", #"{"path": "/work/w/a"}"#).allowed)
    }

    /// Random paths built from tricky components: whatever is accepted must really lie under
    /// the directory by an independent resolution, and whatever lies under it (with no %) is accepted.
    @Test func randomPathsNeverEscape() throws {
        let e = try engine("mcp:\n  tools:\n    rules:\n      - {name: open, args: {path: {under: [\"/work/w/in\"]}}}\n")
        let parts = ["a", "..", ".", "", "in", "w", "work", "%2e%2e", "%2e", "b%2fc", "...", "in.."]
        var rng = SplitMix(seed: 0x5eed)
        var accepted = 0
        for _ in 0..<5000 {
            let n = Int(rng.next() % 7) + 1
            var comps: [String] = []
            for _ in 0..<n { comps.append(parts[Int(rng.next() % UInt64(parts.count))]) }
            let style = rng.next() % 3
            let path = (style == 0 ? "/" : style == 1 ? "/work/w/in/" : "") + comps.joined(separator: "/")
            let d = e.call("open", JSONValue.object([("path", .string(path))]).jsonText)
            let literal = reference(path, workdir: "/work/w")
            let decoded = reference(path.replacingPercent(), workdir: "/work/w")
            if d.allowed {
                accepted += 1
                #expect(isUnder(literal, "/work/w/in") && isUnder(decoded, "/work/w/in"), "escaped: \(path)")
            } else if !path.contains("%") {
                #expect(!isUnder(literal, "/work/w/in"), "refused although under: \(path)")
            }
        }
        #expect(accepted > 100)  // the generator does reach inside
    }

    /// Stack-based resolution, written independently of PathCheck.
    func reference(_ path: String, workdir: String) -> [String] {
        var stack: [String] = path.hasPrefix("/") ? [] : workdir.split(separator: "/").map(String.init)
        for c in path.split(separator: "/", omittingEmptySubsequences: false) {
            switch c {
            case "", ".": continue
            case "..": _ = stack.popLast()
            default: stack.append(String(c))
            }
        }
        return stack
    }

    func isUnder(_ stack: [String], _ dir: String) -> Bool {
        let d = dir.split(separator: "/").map(String.init)
        return stack.count >= d.count && Array(stack.prefix(d.count)) == d
    }

    @Test func resourcesDenyWinsOverAllow() throws {
        let e = try engine(
            """
            mcp:
              resources: {allow: ["file://$WORKDIR/**", "db://main/*"], deny: ["**/.env", "**/.ssh/**"]}
            """)
        func read(_ uri: String) -> Decision { e.method("resources/read", JSONValue.object([("uri", .string(uri))]).jsonText) }
        #expect(read("file:///work/w/src/main.py").allowed)
        #expect(read("file:///work/w/src/main.py").rule == "/p/x.yaml:3 mcp.resources.allow[0]")
        let env = read("file:///work/w/app/.env")
        #expect(!env.allowed && env.category == .resource && env.rule == "/p/x.yaml:3 mcp.resources.deny[0]")
        #expect(env.reason == "resource file:///work/w/app/.env is denied (rule mcp.resources.deny[0])")
        #expect(!read("file:///work/w/.ssh/id_rsa").allowed)
        #expect(!read("file:///work/w/../x").allowed)
        #expect(!read("file:///work/w/%2e%2e/x").allowed)
        #expect(!read("file:///work/w/a/%2eenv/../.env").allowed)
        let outside = read("file:///etc/passwd")
        #expect(!outside.allowed && outside.reason == "resource file:///etc/passwd matches nothing in mcp.resources.allow")
        #expect(read("db://main/users").allowed)
        #expect(!read("db://main/a/b").allowed)  // * stays within a segment
        #expect(!read("file:///work/w/a%00").allowed)
        #expect(!e.method("resources/read", "{}").allowed)
        #expect(e.method("resources/subscribe", #"{"uri": "file:///etc/x"}"#).category == .resource)
        #expect(e.method("resources/unsubscribe", #"{"uri": "file:///work/w/x"}"#).allowed)
        #expect(e.resourceVisible("file:///work/w/x") && !e.resourceVisible("file:///work/w/.env"))
        #expect(e.method("resources/list").allowed)
    }

    @Test func prompts() throws {
        let e = try engine("mcp:\n  prompts: {allow: [\"code_*\", \"summarize\"], deny: [\"code_admin*\"]}\n")
        #expect(e.method("prompts/get", #"{"name": "code_review"}"#).allowed)
        let d = e.method("prompts/get", #"{"name": "code_admin_reset"}"#)
        #expect(!d.allowed && d.category == .prompt && d.subject == "code_admin_reset")
        #expect(e.method("prompts/get", #"{"name": "other"}"#).category == .prompt)
        #expect(e.promptVisible("summarize") && !e.promptVisible("other") && !e.promptVisible("code_admin"))
        let denyOnly = try engine("mcp:\n  prompts: {deny: [\"*secret*\"]}\n")
        #expect(denyOnly.promptVisible("hello") && !denyOnly.promptVisible("top_secret"))
        let hidden = try engine("mcp:\n  methods: {\"prompts/get\": deny}\n")
        #expect(!hidden.promptVisible("hello"))
    }

    @Test func uriGlobs() {
        let cases: [(String, String, Bool)] = [
            ("file:///w/**", "file:///w/a/b/c", true), ("file:///w/**", "file:///w", false),
            ("file:///w/*", "file:///w/a", true), ("file:///w/*", "file:///w/a/b", false),
            ("**/.env", "file:///a/.env", true), ("**/.env", "file:///a/x.env", false),
            ("**/.ssh/**", "file:///h/.ssh/id", true), ("*.txt", "a.txt", true), ("*.txt", "d/a.txt", false),
            ("a**b**c", "a/x/b/y/c", true), ("a*b", "ab", true),
        ]
        for (p, s, expected) in cases { #expect(URIGlob(p).matches(s) == expected, "\(p) ~ \(s)") }
    }
}

/// A small deterministic generator.
struct SplitMix {
    var state: UInt64
    init(seed: UInt64) { state = seed }
    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
}

extension String {
    /// Test-side %XX decoding for the few escapes the generator uses.
    func replacingPercent() -> String {
        var s = self
        for (k, v) in [("%2e", "."), ("%2E", "."), ("%2f", "/"), ("%2F", "/")] {
            while let r = s.firstRange(of: k) { s.replaceSubrange(r, with: v) }
        }
        return s
    }
}
