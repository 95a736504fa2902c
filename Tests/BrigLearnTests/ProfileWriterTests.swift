import BrigProfile
import BrigSandbox
import BrigSystem
import Testing

@testable import BrigLearn

@Suite("ProfileWriter")
struct ProfileWriterTests {
    let writer = ProfileWriter(
        context: .init(
            base: "default", home: "/home/u", workdir: "/work/p", tmpdir: "/tmp/brig-x",
            baseDenyList: true))

    @Test(
        "paths map to the grant they belong to",
        arguments: [
            ("/tmp/brig-x/a/b", "$TMPDIR"),
            ("/work/p/src/x.py", "$WORKDIR"),
            ("/usr/lib/python3/x.so", "/usr"),
            ("/lib/x86_64-linux-gnu/libc.so.6", "/lib"),
            ("/etc/ssl/certs/ca.pem", "/etc/ssl"),
            ("/etc/hosts", "/etc/hosts"),
            ("/dev/urandom", "/dev/urandom"),
            ("/home/u/.cache/uv/archive/x/y.py", "/home/u/.cache/uv"),
            ("/home/u/.local/share/uv/tools/t/bin/t", "/home/u/.local/share/uv"),
            ("/home/u/.pyenv/versions/3.11.7/lib/python3.11/os.py", "/home/u/.pyenv/versions/3.11.7"),
            ("/home/u/.gitconfig", "/home/u/.gitconfig"),
            ("/srv/app/node_modules/pkg/dist/index.js", "/srv/app/node_modules"),
            ("/proc/cpuinfo", "/proc/cpuinfo"),
        ])
    func anchors(path: String, expected: String) {
        #expect(writer.anchor(path) == expected)
    }

    @Test("brig's own grants and other processes' /proc are never written", arguments: ["/proc/self/maps", "/proc/4242/environ", "/proc/thread-self/x"])
    func skipped(path: String) {
        #expect(writer.anchor(path) == nil)
    }

    @Test("three siblings collapse into their parent, never into a home or a top-level directory")
    func collapsing() {
        let three: [String: (Int, String)] = ["/srv/data/a": (1, "a"), "/srv/data/b": (2, "b"), "/srv/data/c": (3, "c")]
        #expect(Array(writer.collapse(three).keys) == ["/srv/data"])
        let home: [String: (Int, String)] = ["/home/u/a": (1, ""), "/home/u/b": (1, ""), "/home/u/c": (1, "")]
        #expect(Set(writer.collapse(home).keys) == Set(home.keys))
        let top: [String: (Int, String)] = ["/etc/a": (1, ""), "/etc/b": (1, ""), "/etc/c": (1, "")]
        #expect(Set(writer.collapse(top).keys) == Set(top.keys))
        let covered: [String: (Int, String)] = ["/usr": (1, ""), "/usr/lib/x": (1, "")]
        #expect(Array(writer.collapse(covered).keys) == ["/usr"])
    }

    @Test("lexical normalization")
    func normalization() {
        #expect(FileSystem.normalize("/a/./b//c/../d") == "/a/b/d")
        #expect(FileSystem.normalize("/../..") == "/")
    }

    @Test("a session with nothing observed gives network none and an empty tool allow-list")
    func empty() {
        let r = writer.write(Observations(), name: "x")
        #expect(r.network == "none")
        #expect(r.yaml.contains("inherit: false"))
        #expect(r.yaml.contains("rules: []"))
        #expect(r.yaml.contains("extends: default"))
    }
}

@Suite("learned allow-lists")
struct LearnedHostsTests {
    @Test func hostsBecomeAllowRules() {
        let uses: [Observations.HostUse] = [
            .init(host: "API.github.com", port: 443), .init(host: "api.github.com", port: 80),
            .init(host: "db.internal", port: 5432), .init(host: "10.0.0.5", port: 5432), .init(host: "::1", port: 8080),
            .init(host: "files.example", port: 443), .init(host: "files.example", port: 8443),
        ]
        #expect(
            ProfileWriter.allowRules(uses) == ["10.0.0.5:5432", "[::1]:8080", "api.github.com", "db.internal:5432", "files.example", "files.example:8443"])
    }

    @Test func learnModeLetsEverythingThrough() {
        // Every spelling parsed (a rule that did not would silently narrow what learn mode sees).
        #expect(Learner.everything.allow.count == 3)
        #expect(Learner.everything.decide(host: "anything.example", port: 22).allowed)
        #expect(Learner.everything.decide(host: "127.0.0.1", port: 5432).allowed)
        #expect(Learner.everything.decide(host: "::1", port: 5432).allowed)
    }
}
