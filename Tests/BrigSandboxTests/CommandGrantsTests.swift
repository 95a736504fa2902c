import BrigSystem
import Testing

@testable import BrigSandbox

#if canImport(Glibc)
@preconcurrency import Glibc
#endif

/// `/bin/sh` on this machine: what the command needs to start, checked against the files.
@Suite("command grants: /bin/sh and scripts")
struct CommandGrantsTests {
    static func grants(_ executable: String, _ arguments: [String] = [], cwd: String = "/") -> [CommandGrants.Grant] {
        CommandGrants(
            executable: executable, arguments: arguments.isEmpty ? [executable] : arguments, home: "/root",
            searchPath: "/usr/bin:/bin", workingDirectory: cwd
        ).grants
    }

    /// The PT_INTERP text as it sits in the file: the path, then a NUL, within the first pages.
    static func fileNames(_ interpreter: String, in path: String) -> Bool {
        let head = Array((FileSystem.read(path) ?? []).prefix(8192))
        let needle = Array(interpreter.utf8) + [0]
        guard head.count >= needle.count else { return false }
        return (0...(head.count - needle.count)).contains { Array(head[$0..<($0 + needle.count)]) == needle }
    }

    @Test("/bin/sh: the command, the file it resolves to, the dynamic loader and its file, all executable")
    func binSh() throws {
        let real = FileSystem.realpath("/bin/sh")
        try #require(real != "/bin/sh", "on Debian /bin/sh is a symlink (to dash)")
        let g = Self.grants("/bin/sh")
        #expect(g.first == CommandGrants.Grant(path: "/bin/sh", exec: true, reason: "the command"))
        #expect(g.contains { $0.path == real && $0.exec }, "\(g)")
        #expect(FileSystem.isRegularFile(real))

        let loader = try #require(ELF.interpreter(of: real))
        #expect(loader.hasPrefix("/") && FileSystem.exists(loader), "\(loader)")
        #expect(Self.fileNames(loader, in: real), "\(real) names \(loader) as its interpreter")
        #if arch(x86_64)
        #expect(loader == "/lib64/ld-linux-x86-64.so.2")  // the x86-64 psABI's loader path
        #endif
        #expect(g.contains { $0.path == loader && $0.exec })
        let realLoader = FileSystem.realpath(loader)
        if realLoader != loader { #expect(g.contains { $0.path == realLoader && $0.exec }, "\(g)") }
        #expect(Set(g.map(\.path)) == Set(["/bin/sh", real, loader, realLoader]), "nothing else: \(g.map(\.path))")
    }

    @Test("never the root or a top-level directory, though sh is an interpreter installed in /bin")
    func nothingBroad() {
        for command in ["/bin/sh", "/usr/bin/dash", "/usr/bin/env"] {
            let paths = Self.grants(command).map(\.path)
            for broad in ["/", "/usr", "/bin", "/lib64", "/root", ""] { #expect(!paths.contains(broad), "\(command): \(paths)") }
        }
    }

    @Test("sh given a script: the script's directory, readable only")
    func scriptArgument() {
        let s = Scratch()
        defer { s.remove() }
        let script = s.file("tools/run.sh")
        let g = Self.grants("/bin/sh", ["sh", "-e", "tools/run.sh"], cwd: s.root)
        #expect(
            g.contains(CommandGrants.Grant(path: s.root + "/tools", exec: false, reason: "the directory of the script tools/run.sh")),
            "\(g)")
        #expect(!g.contains { $0.path == script })
        let missing = Self.grants("/bin/sh", ["sh", "tools/missing.sh"], cwd: s.root)
        #expect(!missing.contains { $0.path.hasPrefix(s.root) }, "a script that is not there grants nothing")
    }

    @Test("a script directly in /tmp: the script alone, never /tmp")
    func shallowScript() throws {
        let script = try #require(makeTempFile("/tmp/brig-grant-XXXXXX"))
        defer { unlink(script) }
        let g = Self.grants("/bin/sh", ["sh", script])
        #expect(g.contains { $0.path == script && !$0.exec }, "\(g)")
        #expect(!g.contains { $0.path == "/tmp" })
    }

    @Test("#!/bin/sh and #!/usr/bin/env sh: the script and, through env, the shell it names")
    func shebang() {
        let s = Scratch()
        defer { s.remove() }
        let direct = s.file("direct")
        _ = FileSystem.write(direct, Array("#!/bin/sh\necho hi\n".utf8))
        let viaEnv = s.file("via-env")
        _ = FileSystem.write(viaEnv, Array("#!/usr/bin/env sh\necho hi\n".utf8))
        let real = FileSystem.realpath("/bin/sh")

        let g = Self.grants(direct)
        #expect(g.first?.path == direct)
        #expect(g.contains(CommandGrants.Grant(path: "/bin/sh", exec: true, reason: "the interpreter of \(direct)")), "\(g)")
        #expect(g.contains { $0.path == real && $0.exec })

        let e = Self.grants(viaEnv)
        #expect(e.contains(CommandGrants.Grant(path: "/usr/bin/env", exec: true, reason: "the interpreter of \(viaEnv)")), "\(e)")
        // The search path is /usr/bin first: sh is found there.
        #expect(e.contains { $0.path == "/usr/bin/sh" && $0.exec }, "\(e)")
        #expect(e.contains { $0.path == real && $0.exec })
    }
}
