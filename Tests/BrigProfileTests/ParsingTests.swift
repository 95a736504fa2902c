import BrigSystem
import Testing

@testable import BrigProfile

@Suite("Parsing")
struct ParsingTests {
    @Test func everyKeyParses() throws {
        let p = try load(
            """
            version: 1
            name: my-server
            description: "A test server"
            sandbox:
              syscalls:
                default_action: deny
                deny: [ptrace, "@mount"]
                allow: [read, write, "@basic-io", read]
                on_deny: kill
              capabilities: [net_bind_service, CAP_NET_RAW, Cap_Chown]
              filesystem:
                read:  [/usr, /etc/ssl, "$HOME/.cache/uv"]
                write: ["$WORKDIR", "$TMPDIR"]
                exec:  [/usr]
              network: {connect: [443, 80, 443], bind: [8080]}
              rlimits: {nofile: 1024, nproc: 512, as: 8GiB, fsize: 1GiB, core: 0, cpu: unlimited, stack: 8MiB, memlock: 64KiB, data: 1TiB}
              env:
                allow: [PATH, HOME, LANG, "LC_*", TZ]
                set: {PYTHONUNBUFFERED: "1", DEBUG: 0, CACHE: "$HOME/.cache"}
                secrets: {GITHUB_TOKEN: {file: "~/.config/brig/github.token"}}
              require: [seccomp, seccomp_notify, landlock, landlock_net, landlock_scope, no_new_privs, namespaces]
              namespaces: [pid, ipc, uts, net]
              user: "1000:1000"
            """)
        #expect(p.name == "my-server")
        #expect(p.description == "A test server")
        #expect(p.source == testSource)
        #expect(p.chain == [testSource])
        let s = p.sandbox
        #expect(s.syscallDefault == .deny)
        #expect(s.denySyscalls == ["ptrace", "@mount"])
        #expect(s.allowSyscalls == ["read", "write", "@basic-io"])
        #expect(s.denyAction == .kill)
        #expect(s.capabilities == [.netBindService, .netRaw, .chown])
        #expect(s.readPaths == ["/usr", "/etc/ssl", "/home/u/.cache/uv"])
        #expect(s.writePaths == ["/work/w", "/tmp/brig-1"])
        #expect(s.execPaths == ["/usr"])
        #expect(s.network == .ports(connect: [443, 80], bind: [8080]))
        let limits: [ResourceLimit: UInt64] = [
            .nofile: 1024, .nproc: 512, .addressSpace: 8 << 30, .fsize: 1 << 30, .core: 0,
            .cpu: UInt64.max, .stack: 8 << 20, .memlock: 64 << 10, .data: 1 << 40,
        ]
        #expect(s.rlimits == limits)
        #expect(s.envAllow == ["PATH", "HOME", "LANG", "LC_*", "TZ"])
        #expect(s.envSet == ["PYTHONUNBUFFERED": "1", "DEBUG": "0", "CACHE": "/home/u/.cache"])
        #expect(s.secrets == ["GITHUB_TOKEN": "/home/u/.config/brig/github.token"])
        #expect(
            s.require == [.seccomp, .seccompNotify, .landlock, .landlockNet, .landlockScope, .noNewPrivs, .namespaces])
        #expect(s.namespaces == [.pid, .ipc, .uts, .net])
        #expect(s.user == .ids(uid: 1000, gid: 1000))
    }

    @Test func minimalProfileIsEmpty() throws {
        let p = try load("version: 1\n")
        #expect(p.name == "p")  // the file's stem
        #expect(p.description == nil)
        #expect(p.sandbox == SandboxProfile())
        #expect(p.sandbox.network == .none)
        #expect(p.sandbox.readPaths.isEmpty && p.sandbox.writePaths.isEmpty && p.sandbox.envAllow.isEmpty)
        #expect(p.sandbox.user == nil)
    }

    @Test func emptySectionsAndLists() throws {
        let p = try load(
            """
            version: 1
            sandbox:
              syscalls:
              filesystem:
                read:
              env: {}
              capabilities: []
            """)
        #expect(p.sandbox == SandboxProfile())
    }

    @Test(arguments: [
        ("none", NetworkPolicy.none),
        ("all", NetworkPolicy.all),
        ("{connect: [443]}", NetworkPolicy.ports(connect: [443], bind: [])),
        ("{bind: [8080]}", NetworkPolicy.ports(connect: [], bind: [8080])),
        ("{}", NetworkPolicy.ports(connect: [], bind: [])),
    ])
    func networkForms(_ text: String, _ expected: NetworkPolicy) throws {
        let p = try load("version: 1\nsandbox:\n  network: \(text)\n")
        #expect(p.sandbox.network == expected)
    }

    @Test(arguments: ["auto", "keep", "nobody", "www-data", "_svc", "1000", "1000:100", "0:0"])
    func userForms(_ user: String) throws {
        let p = try load("version: 1\nsandbox:\n  user: \"\(user)\"\n")
        #expect(p.sandbox.user == UserSpec(user))
        #expect(p.sandbox.user?.description == (user.contains(":") || !user.allSatisfy(\.isNumber) ? user : "\(user):\(user)"))
    }

    @Test func onDenyDefaultsToErrno() throws {
        let p = try load("version: 1\nsandbox:\n  syscalls: {default_action: deny, allow: [read]}\n")
        #expect(p.sandbox.denyAction == .errno)
        #expect(p.sandbox.syscallDefault == .deny)
    }

    @Test("Sizes in a profile read as on the command line (BrigSystem.ByteSize)")
    func sizes() throws {
        let p = try load("version: 1\nsandbox:\n  rlimits: {as: 1.5GiB, fsize: 64M, stack: 8MB, core: unlimited}\n")
        #expect(p.sandbox.rlimits[.addressSpace] == 3 << 29)
        #expect(p.sandbox.rlimits[.fsize] == 64 << 20)
        #expect(p.sandbox.rlimits[.stack] == 8_000_000)
        #expect(p.sandbox.rlimits[.core] == UInt64.max)
        #expect(throws: ProfileError.self) { try load("version: 1\nsandbox:\n  rlimits: {as: -1}\n") }
        #expect(throws: ProfileError.self) { try load("version: 1\nsandbox:\n  rlimits: {as: 99999999999TiB}\n") }
    }

    @Test func globs() {
        #expect(globMatch("LC_*", "LC_ALL"))
        #expect(globMatch("LC_*", "LC_"))
        #expect(!globMatch("LC_*", "LANG"))
        #expect(globMatch("*", "ANYTHING"))
        #expect(globMatch("PATH", "PATH"))
        #expect(!globMatch("PATH", "PATHX"))
        #expect(globMatch("*_TOKEN", "GITHUB_TOKEN"))
        #expect(globMatch("A*B*C", "AxxBxxC"))
        #expect(!globMatch("A*B*C", "AxxBxx"))
        #expect(!globMatch("npm_config_*", "NPM_CONFIG_X"))  // case-sensitive
    }

    @Test func suggestions() {
        #expect(suggest("netwrk", Vocabulary.sandboxKeys) == "network")
        #expect(suggest("filesytem", Vocabulary.sandboxKeys) == "filesystem")
        #expect(suggest("zzz", Vocabulary.sandboxKeys) == nil)
        #expect(editDistance("ab", "ba") == 1)
    }

    @Test func errorDescriptionShapes() {
        #expect(
            ProfileError(file: "/a.yaml", line: 3, key: "sandbox.user", message: "bad").description
                == "/a.yaml:3: sandbox.user: bad")
        #expect(
            ProfileError(file: "/a.yaml", line: 0, key: "", message: "cannot read").description
                == "/a.yaml: cannot read")
        #expect(ProfileError(file: "", line: 0, key: "--net", message: "bad").description == "--net: bad")
        #expect(ProfileError(file: "f", line: 1, key: "", message: "two\nlines").description == "f:1: two lines")
    }
}
