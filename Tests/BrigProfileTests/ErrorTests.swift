import Foundation
import Testing

@testable import BrigProfile

@Suite("Errors name FILE:LINE: KEY")
struct ErrorTests {
    /// (yaml, the exact start of the one-line description)
    static let cases: [(String, String)] = [
        // Unknown keys, with a suggestion when close.
        (
            "version: 1\nsandbox:\n  netwrk: none\n",
            "/tmp/p.yaml:3: sandbox.netwrk: unknown key (did you mean network?); expected one of: syscalls,"
        ),
        ("version: 1\nsandbx: {}\n", "/tmp/p.yaml:2: sandbx: unknown key (did you mean sandbox?)"),
        ("version: 1\nmpc: {}\n", "/tmp/p.yaml:2: mpc: unknown key (did you mean mcp?)"),
        ("version: 1\nsandbox:\n  filesystem: {inherit: maybe}\n", "/tmp/p.yaml:3: sandbox.filesystem.inherit: expected true or false"),
        (
            "version: 1\nsandbox:\n  filesystem:\n    raed: [/usr]\n",
            "/tmp/p.yaml:4: sandbox.filesystem.raed: unknown key (did you mean read?)"
        ),
        (
            "version: 1\nsandbox:\n  syscalls: {default_actoin: deny}\n",
            "/tmp/p.yaml:3: sandbox.syscalls.default_actoin: unknown key (did you mean default_action?)"
        ),
        (
            "version: 1\nsandbox:\n  rlimits:\n    nofiles: 10\n",
            "/tmp/p.yaml:4: sandbox.rlimits.nofiles: unknown key (did you mean nofile?)"
        ),
        (
            "version: 1\nsandbox:\n  network: {conect: [443]}\n",
            "/tmp/p.yaml:3: sandbox.network.conect: unknown key (did you mean connect?)"
        ),
        (
            "version: 1\nsandbox:\n  env:\n    secrets: {T: {flie: /x}}\n",
            "/tmp/p.yaml:4: sandbox.env.secrets.T.flie: unknown key (did you mean file?)"
        ),
        // Wrong types.
        (
            "version: 1\nsandbox:\n  filesystem:\n    read: /usr\n",
            "/tmp/p.yaml:4: sandbox.filesystem.read: expected a list, got \"/usr\""
        ),
        ("version: 1\nsandbox: [a]\n", "/tmp/p.yaml:2: sandbox: expected a mapping, got a list"),
        (
            "version: 1\nsandbox:\n  filesystem:\n    read: [[/usr]]\n",
            "/tmp/p.yaml:4: sandbox.filesystem.read: expected a string, got a list"
        ),
        ("version: 1\nname: [x]\n", "/tmp/p.yaml:2: name: expected a string, got a list"),
        (
            "version: 1\nsandbox:\n  env:\n    set: {A: [1]}\n",
            "/tmp/p.yaml:4: sandbox.env.set.A: expected a string, got a list"
        ),
        (
            "version: 1\nsandbox:\n  env:\n    secrets: {T: /x}\n",
            "/tmp/p.yaml:4: sandbox.env.secrets.T: expected {file: PATH}"
        ),
        (
            "version: 1\nsandbox:\n  env:\n    secrets: {T: {}}\n",
            "/tmp/p.yaml:4: sandbox.env.secrets.T: missing file: PATH"
        ),
        // Bad values.
        (
            "version: 1\nsandbox:\n  network: some\n",
            "/tmp/p.yaml:3: sandbox.network: expected none, all, {allow: [hosts], deny: [hosts]}, or {connect: [ports], bind: [ports]}, got \"some\""
        ),
        (
            "version: 1\nsandbox:\n  network: [443]\n",
            "/tmp/p.yaml:3: sandbox.network: expected none, all, {allow: [hosts], deny: [hosts]}, or {connect: [ports], bind: [ports]}"
        ),
        (
            "version: 1\nsandbox:\n  network:\n    connect: [443, 70000]\n",
            "/tmp/p.yaml:4: sandbox.network.connect: expected a port number 1-65535, got \"70000\""
        ),
        (
            "version: 1\nsandbox:\n  network: {bind: [0]}\n",
            "/tmp/p.yaml:3: sandbox.network.bind: expected a port number 1-65535"
        ),
        (
            "version: 1\nsandbox:\n  rlimits:\n    as: 8 gigs\n",
            "/tmp/p.yaml:4: sandbox.rlimits.as: expected a number, a size like 512MiB, 64K, 1.5GiB or 8MB, or unlimited, got \"8 gigs\""
        ),
        ("version: 1\nsandbox:\n  rlimits: {nofile: -1}\n", "/tmp/p.yaml:3: sandbox.rlimits.nofile: expected a number"),
        (
            "version: 1\nsandbox:\n  capabilities: [net_bind_servce]\n",
            "/tmp/p.yaml:3: sandbox.capabilities: unknown capability \"net_bind_servce\" (did you mean net_bind_service?)"
        ),
        (
            "version: 1\nsandbox:\n  capabilities:\n    - chown\n    - CAP_FOO\n",
            "/tmp/p.yaml:5: sandbox.capabilities: unknown capability \"CAP_FOO\""
        ),
        (
            "version: 1\nsandbox:\n  syscalls: {default_action: block}\n",
            "/tmp/p.yaml:3: sandbox.syscalls.default_action: expected allow or deny, got \"block\""
        ),
        (
            "version: 1\nsandbox:\n  syscalls: {on_deny: trap}\n",
            "/tmp/p.yaml:3: sandbox.syscalls.on_deny: expected errno or kill, got \"trap\""
        ),
        (
            "version: 1\nsandbox:\n  syscalls: {deny: [Ptrace]}\n",
            "/tmp/p.yaml:3: sandbox.syscalls.deny: \"Ptrace\" is not a syscall name or @group"
        ),
        (
            "version: 1\nsandbox:\n  require: [landlok]\n",
            "/tmp/p.yaml:3: sandbox.require: unknown requirement \"landlok\" (did you mean landlock?)"
        ),
        (
            "version: 1\nsandbox:\n  namespaces: [mnt]\n",
            "/tmp/p.yaml:3: sandbox.namespaces: unknown namespace \"mnt\""
        ),
        (
            "version: 1\nsandbox:\n  user: \"Bad User\"\n",
            "/tmp/p.yaml:3: sandbox.user: expected auto, keep, a user name, or UID[:GID], got \"Bad User\""
        ),
        (
            "version: 1\nsandbox:\n  env:\n    allow: [\"A-B\"]\n",
            "/tmp/p.yaml:4: sandbox.env.allow: \"A-B\" is not a variable name or * glob"
        ),
        ("version: 1\nname: \"a b\"\n", "/tmp/p.yaml:2: name: \"a b\" is not a valid name"),
        // Variables and paths.
        (
            "version: 1\nsandbox:\n  filesystem:\n    read:\n      - /usr\n      - \"$HOEM/x\"\n",
            "/tmp/p.yaml:6: sandbox.filesystem.read: unknown variable $HOEM (did you mean $HOME?)"
        ),
        (
            "version: 1\nsandbox:\n  env:\n    set: {A: \"${NOPE}\"}\n",
            "/tmp/p.yaml:4: sandbox.env.set.A: unknown variable $NOPE"
        ),
        (
            "version: 1\nsandbox:\n  env:\n    secrets: {T: {file: \"$SECRETS/t\"}}\n",
            "/tmp/p.yaml:4: sandbox.env.secrets.T.file: unknown variable $SECRETS"
        ),
        (
            "version: 1\nsandbox:\n  filesystem:\n    write: [data/out]\n",
            "/tmp/p.yaml:4: sandbox.filesystem.write: \"data/out\" is not an absolute path"
        ),
        (
            "version: 1\nsandbox:\n  filesystem:\n    read: [\"${HOME\"]\n",
            "/tmp/p.yaml:4: sandbox.filesystem.read: unterminated ${"
        ),
        // Version.
        ("name: x\nsandbox: {}\n", "/tmp/p.yaml:1: version: missing (required, must be 1)"),
        ("\n\nversion: 2\n", "/tmp/p.yaml:3: version: unsupported version \"2\""),
        ("version: one\n", "/tmp/p.yaml:1: version: unsupported version \"one\""),
        ("", "/tmp/p.yaml:1: version: missing"),
        ("- a\n- b\n", "/tmp/p.yaml:1: expected a mapping with version: 1"),
        // YAML syntax.
        ("version: 1\nsandbox:\n  network: [none\n", "/tmp/p.yaml:4: YAML syntax error: "),
        ("version: 1\nsandbox: {\n  user: \"x\n", "/tmp/p.yaml:"),
        ("version: 1\nname: a\nname: b\n", "/tmp/p.yaml:2: name: duplicate key"),
        ("version: 1\n\tname: a\n", "/tmp/p.yaml:2: YAML syntax error: "),
        // Built-ins.
        (
            "version: 1\nextends: defualt\n",
            "/tmp/p.yaml:2: extends: unknown built-in profile \"defualt\" (did you mean default?); built-ins: default, node, offline, python, strict"
        ),
        (
            "version: 1\nextends: ./missing.yaml\n",
            "/tmp/p.yaml:2: extends: cannot read /tmp/missing.yaml: No such file or directory"
        ),
    ]

    @Test(arguments: cases)
    func oneLineError(_ yaml: String, _ expected: String) throws {
        let error = try #require(loadError(yaml), "expected an error for:\n\(yaml)")
        #expect(error.description.hasPrefix(expected), "got: \(error.description)")
        #expect(!error.description.contains("\n"))
        #expect(error.file == testSource)
        #expect(error.line > 0)
    }

    /// Caught by fuzz-profile (Tests/fuzz/regressions/fuzz-profile): a key quoted with a CR LF
    /// pair or a vertical tab was printed with its line break, because the description replaced
    /// only the Characters "\n" and "\r", and "\r\n" is a single Character.
    @Test(arguments: [#""sand\r\nbox": 1"#, #""x\vy": 1"#, #""a\fb\u2028c": 1"#, "\"q\\u0085r\": 1"])
    func keysWithLineBreaksStayOnOneLine(_ entry: String) throws {
        let error = try #require(loadError("version: 1\n" + entry + "\n"))
        #expect(error.description.hasPrefix("/tmp/p.yaml:2: "), "got: \(error.description)")
        let breaksLines = error.description.contains { $0.isNewline }
        #expect(!breaksLines, "got: \(String(reflecting: error.description))")
    }

    @Test func fieldsOfAnError() throws {
        let error = try #require(loadError("version: 1\nsandbox:\n\n  network: nope\n"))
        #expect(error.file == "/tmp/p.yaml")
        #expect(error.line == 4)
        #expect(error.key == "sandbox.network")
        #expect(error.message == "expected none, all, {allow: [hosts], deny: [hosts]}, or {connect: [ports], bind: [ports]}, got \"nope\"")
        #expect(error.description == "/tmp/p.yaml:4: sandbox.network: expected none, all, {allow: [hosts], deny: [hosts]}, or {connect: [ports], bind: [ports]}, got \"nope\"")
    }

    @Test func emptyHomeIsAnError() throws {
        let ctx = ProfileContext(home: "", workdir: "/w", tmpdir: "/t", environment: [:])
        let error = try #require(loadError("version: 1\nsandbox:\n  filesystem: {read: [\"~/x\"]}\n", context: ctx))
        #expect(error.description == "/tmp/p.yaml:3: sandbox.filesystem.read: $HOME is not set")
    }

    @Test func unknownBuiltinByName() throws {
        do {
            _ = try ProfileLoader.load("strcit", context: testContext)
            Issue.record("expected an error")
        } catch {
            #expect(error.description.hasPrefix("builtin:strcit: unknown built-in profile \"strcit\" (did you mean strict?)"))
        }
    }

    @Test func unreadableFile() throws {
        let dir = try makeTempDir()
        defer { cleanup(dir) }
        do {
            _ = try ProfileLoader.load(dir + "/nope.yaml", context: testContext)
            Issue.record("expected an error")
        } catch {
            #expect(error.description == "\(dir)/nope.yaml: cannot read profile: No such file or directory")
        }
        // A directory is unreadable as a profile too.
        do {
            _ = try ProfileLoader.load(dir + "/", context: testContext)
            Issue.record("expected an error")
        } catch {
            #expect(error.description == "\(dir): cannot read profile: Is a directory")
        }
    }

    @Test func extendsCycle() throws {
        let dir = try makeTempDir()
        defer { cleanup(dir) }
        try write("version: 1\nextends: b.yaml\n", to: dir + "/a.yaml")
        try write("version: 1\n# comment\nextends: ./sub/../c.yaml\n", to: dir + "/b.yaml")
        try write("version: 1\nextends: \(dir)/a.yaml\n", to: dir + "/c.yaml")
        do {
            _ = try ProfileLoader.load(dir + "/a.yaml", context: testContext)
            Issue.record("expected an error")
        } catch {
            #expect(error.file == dir + "/c.yaml")
            #expect(error.line == 2)
            #expect(error.key == "extends")
            #expect(error.description == "\(dir)/c.yaml:2: extends: extends cycle: \(dir)/a.yaml -> \(dir)/b.yaml -> \(dir)/c.yaml -> \(dir)/a.yaml")
        }
        // Extending itself.
        try write("version: 1\nextends: self.yaml\n", to: dir + "/self.yaml")
        do {
            _ = try ProfileLoader.load(dir + "/self.yaml", context: testContext)
            Issue.record("expected an error")
        } catch {
            #expect(error.description == "\(dir)/self.yaml:2: extends: extends cycle: \(dir)/self.yaml -> \(dir)/self.yaml")
        }
    }

    @Test func errorsInAParentNameTheParent() throws {
        let dir = try makeTempDir()
        defer { cleanup(dir) }
        try write("version: 1\nsandbox:\n  network: {connect: [x]}\n", to: dir + "/base.yaml")
        try write("version: 1\nextends: base.yaml\n", to: dir + "/child.yaml")
        do {
            _ = try ProfileLoader.load(dir + "/child.yaml", context: testContext)
            Issue.record("expected an error")
        } catch {
            #expect(error.description == "\(dir)/base.yaml:3: sandbox.network.connect: expected a port number 1-65535, got \"x\"")
        }
    }
}
