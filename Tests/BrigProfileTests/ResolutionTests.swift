import Foundation
import Testing

@testable import BrigProfile

@Suite("extends, variables, overrides")
struct ResolutionTests {
    // MARK: extends

    @Test func mergingRules() throws {
        let dir = try makeTempDir()
        defer { cleanup(dir) }
        try write(
            """
            version: 1
            description: base
            sandbox:
              syscalls: {default_action: allow, deny: [ptrace, "@mount"], on_deny: kill}
              capabilities: [chown]
              filesystem: {read: [/usr, /etc/ssl], write: ["$TMPDIR"], exec: [/usr]}
              network: {connect: [443]}
              rlimits: {nofile: 100, nproc: 10}
              env:
                allow: [PATH]
                set: {A: "1", B: "2"}
                secrets: {T: {file: /s/t}}
              require: [seccomp]
              namespaces: [pid]
              user: auto
            """, to: dir + "/base.yaml")
        try write(
            """
            version: 1
            extends: base.yaml
            sandbox:
              syscalls: {deny: [bpf, ptrace], on_deny: errno}
              capabilities: [CAP_CHOWN, kill]
              filesystem: {read: [/opt, /usr], write: ["$WORKDIR"]}
              network: none
              rlimits: {nofile: 200, core: 0}
              env:
                allow: [HOME, PATH]
                set: {B: "3"}
                secrets: {U: {file: /s/u}}
              require: [landlock, seccomp]
              namespaces: [net]
              user: keep
            """, to: dir + "/child.yaml")
        let p = try ProfileLoader.load(dir + "/child.yaml", context: testContext)
        #expect(p.name == "child")
        #expect(p.description == nil)  // name and description belong to the file
        #expect(p.source == dir + "/child.yaml")
        #expect(p.chain == [dir + "/base.yaml", dir + "/child.yaml"])
        let s = p.sandbox
        #expect(s.syscallDefault == .allow)  // inherited scalar
        #expect(s.denyAction == .errno)  // overridden scalar
        #expect(s.denySyscalls == ["ptrace", "@mount", "bpf"])
        #expect(s.capabilities == [.chown, .kill])
        #expect(s.readPaths == ["/usr", "/etc/ssl", "/opt"])
        #expect(s.writePaths == ["/tmp/brig-1", "/work/w"])
        #expect(s.execPaths == ["/usr"])
        #expect(s.network == NetworkPolicy.none)  // replaced as a whole
        #expect(s.rlimits == [.nofile: 200, .nproc: 10, .core: 0])
        #expect(s.envAllow == ["PATH", "HOME"])
        #expect(s.envSet == ["A": "1", "B": "3"])
        #expect(s.secrets == ["T": "/s/t", "U": "/s/u"])
        #expect(s.require == [.seccomp, .landlock])
        #expect(s.namespaces == [.pid, .net])
        #expect(s.user == .keep)
    }

    @Test func networkPortsReplaceNotMerge() throws {
        let p = try load(
            """
            version: 1
            extends: default
            sandbox:
              network: {bind: [8080]}
            """)
        #expect(p.sandbox.network == .ports(connect: [], bind: [8080]))
    }

    @Test func threeLevelsAndBuiltinParent() throws {
        let dir = try makeTempDir()
        defer { cleanup(dir) }
        try write("version: 1\nextends: offline\nsandbox:\n  filesystem: {read: [/data]}\n", to: dir + "/mid.yml")
        try write("version: 1\nname: leaf-server\nextends: \"$WORKDIR/mid.yml\"\n", to: dir + "/leaf.yaml")
        let ctx = ProfileContext(home: "/home/u", workdir: dir, tmpdir: "/tmp/t", environment: [:])
        let p = try ProfileLoader.load(dir + "/leaf.yaml", context: ctx)
        #expect(p.name == "leaf-server")
        #expect(p.chain == ["builtin:default", "builtin:offline", dir + "/mid.yml", dir + "/leaf.yaml"])
        #expect(p.sandbox.network == NetworkPolicy.none)
        #expect(p.sandbox.readPaths.contains("/data"))
        #expect(p.sandbox.readPaths.contains("/usr"))
        #expect(p.sandbox.denySyscalls == ["@default-deny"])
    }

    @Test func relativeExtendsFromRelativeSource() throws {
        let dir = try makeTempDir()
        defer { cleanup(dir) }
        try FileManager.default.createDirectory(atPath: dir + "/sub", withIntermediateDirectories: true)
        try write("version: 1\nsandbox:\n  user: keep\n", to: dir + "/sub/base.yaml")
        let p = try ProfileLoader.load(
            yaml: "version: 1\nextends: base.yaml\n", source: dir + "/sub/x.yaml",
            context: testContext)
        #expect(p.sandbox.user == .keep)
        #expect(p.chain == [dir + "/sub/base.yaml", dir + "/sub/x.yaml"])
    }

    // MARK: variables

    @Test func expansionAndNormalization() throws {
        let p = try load(
            """
            version: 1
            sandbox:
              filesystem:
                read:
                  - "$WORKDIR/../x"
                  - "${HOME}/a//b/./c/"
                  - "~/.config"
                  - "~"
                  - /usr/../../etc/./ssl
                  - "$TMPDIR"
                  - "/a/$$b/x$"
                write: ["${WORKDIR}x", "/work/x/"]
              env:
                set: {P: "$HOME:${TMPDIR}:$$HOME", Q: "~/not-a-path-prefix-in-values"}
            """)
        #expect(
            p.sandbox.readPaths == [
                "/work/x", "/home/u/a/b/c", "/home/u/.config", "/home/u", "/etc/ssl",
                "/tmp/brig-1", "/a/$b/x$",
            ])
        #expect(p.sandbox.writePaths == ["/work/wx", "/work/x"])
        #expect(p.sandbox.envSet["P"] == "/home/u:/tmp/brig-1:$HOME")
        #expect(p.sandbox.envSet["Q"] == "/home/u/not-a-path-prefix-in-values")
    }

    @Test func xdgVariables() throws {
        let yaml = """
            version: 1
            sandbox:
              filesystem:
                read: ["$XDG_CONFIG_HOME/a", "$XDG_CACHE_HOME", "${XDG_DATA_HOME}", "$XDG_STATE_HOME", "$XDG_RUNTIME_DIR/bus", /usr]
              env:
                set: {RT: "$XDG_RUNTIME_DIR", K: v}
                secrets: {S: {file: "$XDG_RUNTIME_DIR/s"}}
            """
        // Defaults from HOME; XDG_RUNTIME_DIR unset drops the entries that use it.
        let p = try load(yaml)
        #expect(
            p.sandbox.readPaths == [
                "/home/u/.config/a", "/home/u/.cache", "/home/u/.local/share",
                "/home/u/.local/state", "/usr",
            ])
        #expect(p.sandbox.envSet == ["K": "v"])
        #expect(p.sandbox.secrets.isEmpty)
        // From the environment; relative values are ignored per the XDG spec.
        let ctx = ProfileContext(
            home: "/home/u", workdir: "/w", tmpdir: "/t",
            environment: [
                "XDG_CONFIG_HOME": "/cfg", "XDG_CACHE_HOME": "relative", "XDG_DATA_HOME": "/data",
                "XDG_STATE_HOME": "", "XDG_RUNTIME_DIR": "/run/user/1000",
            ])
        let q = try load(yaml, context: ctx)
        #expect(
            q.sandbox.readPaths == [
                "/cfg/a", "/home/u/.cache", "/data", "/home/u/.local/state",
                "/run/user/1000/bus", "/usr",
            ])
        #expect(q.sandbox.envSet == ["RT": "/run/user/1000", "K": "v"])
        #expect(q.sandbox.secrets == ["S": "/run/user/1000/s"])
    }

    @Test func relativeWorkdirIsResolved() throws {
        let ctx = ProfileContext(home: "/h", workdir: "sub/../proj", tmpdir: "/t", environment: [:])
        let p = try load("version: 1\nsandbox:\n  filesystem: {write: [\"$WORKDIR\"]}\n", context: ctx)
        #expect(p.sandbox.writePaths == [FileManager.default.currentDirectoryPath + "/proj"])
    }

    @Test func normalize() {
        #expect(normalizePath("/") == "/")
        #expect(normalizePath("/..") == "/")
        #expect(normalizePath("//a///b/") == "/a/b")
        #expect(normalizePath("/a/./b/../c") == "/a/c")
        #expect(normalizePath("/a/b/../../..") == "/")
    }

    // MARK: overrides

    @Test func overridesApplyLast() throws {
        var o = ProfileOverrides()
        o.readPaths = ["/data", "~/docs", "rel/dir"]
        o.writePaths = ["$WORKDIR/out", "/tmp/brig-1"]
        o.network = "443, 80"
        o.env = ["FOO", "BAR_*", "X=a=b", "PATH=/bin", "EMPTY="]
        let p = try ProfileLoader.load("offline", context: testContext, overrides: o)
        let s = p.sandbox
        let cwd = FileManager.default.currentDirectoryPath
        #expect(s.readPaths.suffix(4) == ["/data", "/home/u/docs", normalizePath(cwd + "/rel/dir"), "/work/w/out"])
        #expect(s.writePaths == ["/work/w", "/tmp/brig-1", "/dev/null", "/work/w/out"])
        #expect(s.network == .ports(connect: [443, 80], bind: []))
        #expect(s.envAllow.suffix(2) == ["FOO", "BAR_*"])
        #expect(s.envSet["X"] == "a=b")
        #expect(s.envSet["PATH"] == "/bin")
        #expect(s.envSet["EMPTY"] == "")
        #expect(s.envSet["TMPDIR"] == "/tmp/brig-1")

        var n = ProfileOverrides()
        n.network = "all"
        #expect(try ProfileLoader.load("strict", context: testContext, overrides: n).sandbox.network == .all)
        n.network = "none"
        #expect(try ProfileLoader.load("default", context: testContext, overrides: n).sandbox.network == NetworkPolicy.none)
    }

    @Test(arguments: [
        ("net", "https://api.github.com", "--net: https://api.github.com: "),
        ("net", "443,0", "--net: port 0 is not 1-65535"),
        ("net", "", "--net: an empty entry in \"\""),
        ("net", "!169.254.169.254", "--net: only deny rules in \"!169.254.169.254\""),
        ("net", "+api.github.com", "--net: +api.github.com adds to the profile's allow-list, and this profile has none"),
        ("ro", "$NOPE/x", "--ro: unknown variable $NOPE"),
        ("rw", "", "--rw: empty path"),
        ("env", "1BAD", "--env: \"1BAD\" is not a variable name or * glob"),
        ("env", "A B=c", "--env: \"A B\" is not a variable name"),
    ])
    func overrideErrors(_ flag: String, _ value: String, _ expected: String) throws {
        var o = ProfileOverrides()
        switch flag {
        case "net": o.network = value
        case "ro": o.readPaths = [value]
        case "rw": o.writePaths = [value]
        default: o.env = [value]
        }
        let error = try #require(loadError("version: 1\n", overrides: o))
        #expect(error.description.hasPrefix(expected), "got: \(error.description)")
        #expect(error.file.isEmpty)
    }
}
