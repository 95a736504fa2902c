import BrigSystem
import CBrigShim
import Testing

@testable import BrigSandbox

#if canImport(Glibc)
@preconcurrency import Glibc
#endif

/// A child started through the C shim, its output, and its reaped status.
struct Ran {
    var pid: Int32
    var status: WaitStatus
    var output: String
}

enum Spawner {
    static let path = ["PATH=/usr/bin:/bin"]

    static func spec(_ argv: [String], environment: [String] = path, stdout: Int32 = -1) -> SpawnSpec {
        let null = open("/dev/null", O_RDWR | O_CLOEXEC)
        return SpawnSpec(
            executable: argv[0], arguments: argv, environment: environment,
            stdin: null, stdout: stdout >= 0 ? stdout : null, stderr: null)
    }

    static func closeNull(_ spec: SpawnSpec) {
        close(spec.stdin)
        if spec.stderr != spec.stdin { close(spec.stderr) }
    }

    /// Spawns with stdout on a pipe, reads it to the end, reaps the child.
    static func run(_ argv: [String], environment: [String] = path, _ configure: (inout SpawnSpec) -> Void = { _ in })
        throws -> Ran
    {
        let pipe = try POSIX.pipe()
        var spec = spec(argv, environment: environment, stdout: pipe.write)
        configure(&spec)
        defer { closeNull(spec) }
        let child: ChildProcess
        do {
            child = try ChildProcess.spawn(spec)
        } catch {
            close(pipe.write)
            close(pipe.read)
            throw error
        }
        close(pipe.write)
        let output = readToEnd(pipe.read)
        return Ran(pid: child.pid, status: reap(child.pid), output: output)
    }

    /// Expects the spawn to fail, and returns how.
    static func failure(_ argv: [String], _ configure: (inout SpawnSpec) -> Void = { _ in }) -> SpawnError? {
        var spec = spec(argv)
        configure(&spec)
        defer { closeNull(spec) }
        do {
            let child = try ChildProcess.spawn(spec)
            Issue.record("\(argv) started (pid \(child.pid)): \(reap(child.pid))")
            return nil
        } catch {
            return error
        }
    }
}

@Suite("spawn: stages, exit codes, what the child gets", .serialized)
struct ChildProcessTests {
    @Test("/bin/true is reaped with 0, /bin/false with 1")
    func trueAndFalse() throws {
        #expect(try Spawner.run(["/bin/true"]).status == .exited(0))
        #expect(try Spawner.run(["/bin/false"]).status == .exited(1))
    }

    @Test("a missing command fails at exec with ENOENT: exit code 127")
    func missing() throws {
        let e = try #require(Spawner.failure(["/nonexistent/brig-no-such-command"]))
        #expect(e.stage == .exec)
        #expect(e.errno == ENOENT)
        #expect(e.exitCode == 127)
        #expect(e.description == String(cString: strerror(ENOENT)))
    }

    @Test("a file that cannot be run fails at exec: exit code 126")
    func notExecutable() throws {
        let s = Scratch()
        defer { s.remove() }
        let plain = s.file("data.txt")  // mode 0644: not even root may exec it
        let garbage = s.file("garbage")
        chmod(garbage, 0o755)
        let dir = s.dir("dir")
        for (path, expected) in [(plain, EACCES), (garbage, ENOEXEC), (dir, EACCES)] {
            let e = try #require(Spawner.failure([path]))
            #expect(e.stage == .exec && e.errno == expected, "\(path): \(e.stage) \(e.errno)")
            #expect(e.exitCode == 126, "\(path)")
        }
    }

    @Test("a soft limit above its hard limit fails at the rlimits stage: exit code 125")
    func impossibleLimit() throws {
        let e = try #require(
            Spawner.failure(["/bin/true"]) {
                $0.confinement.resourceLimits = [.init(resource: Int32(RLIMIT_NOFILE.rawValue), soft: 100, hard: 50)]
            })
        #expect(e.stage == .rlimits)
        #expect(e.errno == EINVAL)
        #expect(e.exitCode == 125)
        #expect(e.description.contains("(rlimits)"), "\(e)")
    }

    @Test("resource limits reach the command")
    func limitsApplied() throws {
        let r = try Spawner.run(["/bin/sh", "-c", "ulimit -n; ulimit -Hn"]) {
            $0.confinement.resourceLimits = [.init(resource: Int32(RLIMIT_NOFILE.rawValue), soft: 37, hard: 41)]
        }
        #expect(r.status == .exited(0))
        #expect(r.output == "37\n41\n")
    }

    @Test("the working directory: applied, or the chdir stage (125, not 127) when it is missing")
    func workingDirectory() throws {
        let r = try Spawner.run(["/bin/sh", "-c", "pwd"]) { $0.workingDirectory = "/usr/share" }
        #expect(r.output == "/usr/share\n")
        let e = try #require(Spawner.failure(["/bin/true"]) { $0.workingDirectory = "/nonexistent/brig-cwd" })
        #expect(e.stage == .chdir && e.errno == ENOENT)
        #expect(e.exitCode == 125)
    }

    @Test("the environment is exactly the one given")
    func environment() throws {
        let r = try Spawner.run(["/usr/bin/env"], environment: ["BRIG_A=1", "BRIG_B=two words"])
        #expect(r.output == "BRIG_A=1\nBRIG_B=two words\n")
    }

    @Test("a new session by default (the child leads it), the caller's otherwise")
    func session() throws {
        let script = "read pid comm state ppid pgrp session rest < /proc/self/stat; echo $session"
        let own = try Spawner.run(["/bin/sh", "-c", script])
        #expect(own.output == "\(own.pid)\n")
        let shared = try Spawner.run(["/bin/sh", "-c", script]) { $0.newSession = false }
        #expect(shared.output == "\(getsid(0))\n")
    }

    @Test("descriptors other than 0, 1 and 2 do not survive exec, even without O_CLOEXEC")
    func descriptorsClosed() throws {
        let leaked = open("/dev/null", O_RDONLY)  // no O_CLOEXEC on purpose
        try #require(leaked > 2)
        defer { close(leaked) }
        let r = try Spawner.run(["/bin/sh", "-c", "if [ -e /proc/self/fd/\(leaked) ]; then echo open; else echo closed; fi"])
        #expect(r.output == "closed\n")
    }

    @Test("no_new_privs when asked")
    func noNewPrivs() throws {
        let on = try Spawner.run(["/usr/bin/grep", "^NoNewPrivs:", "/proc/self/status"]) { $0.confinement.noNewPrivileges = true }
        #expect(on.output == "NoNewPrivs:\t1\n")
        let mine = String(decoding: FileSystem.read("/proc/self/status") ?? [], as: UTF8.self)
        if mine.contains("NoNewPrivs:\t0") {
            let off = try Spawner.run(["/usr/bin/grep", "^NoNewPrivs:", "/proc/self/status"])
            #expect(off.output == "NoNewPrivs:\t0\n")
        }
    }

    @Test("an invalid seccomp program fails at the seccomp stage")
    func invalidProgram() throws {
        let e = try #require(
            Spawner.failure(["/bin/true"]) {
                $0.confinement.noNewPrivileges = true
                $0.confinement.seccompProgram = [0xFF, 0xFF, 0, 0, 0, 0, 0, 0]  // no such BPF opcode
            })
        #expect(e.stage == .seccomp && e.errno == EINVAL, "\(e.stage) \(e.errno)")
        #expect(e.exitCode == 125)
    }

    @Test("a descriptor that is not a ruleset fails at the Landlock stage")
    func notARuleset() throws {
        let null = open("/dev/null", O_RDONLY | O_CLOEXEC)
        defer { close(null) }
        let e = try #require(
            Spawner.failure(["/bin/true"]) {
                $0.confinement.noNewPrivileges = true
                $0.confinement.landlockRuleset = null
            })
        #expect(e.stage == .landlock && e.errno == EBADFD, "\(e.stage) \(e.errno)")
    }

    @Test("Landlock through spawn: the command runs from /usr but cannot write outside its grants")
    func landlockInTheChild() throws {
        let s = Scratch()
        defer { s.remove() }
        let target = s.root + "/made-by-touch"
        var rules = Landlock.Rules()
        rules.exec = ["/usr"]
        let ruleset = try Landlock.build(rules)
        defer { close(ruleset.fd) }
        let confined = try Spawner.run(["/usr/bin/touch", target]) {
            $0.confinement.noNewPrivileges = true
            $0.confinement.landlockRuleset = ruleset.fd
        }
        #expect(confined.status == .exited(1))
        #expect(!FileSystem.exists(target))
        let free = try Spawner.run(["/usr/bin/touch", target])
        #expect(free.status == .exited(0))
        #expect(FileSystem.exists(target))
    }

    static func mkdirProgram(kill: Bool, report: Bool) throws -> SeccompProgram {
        var s = SeccompProgram.Settings()
        s.deny = ["mkdir", "mkdirat"]
        s.killOnDeny = kill
        s.report = report
        return try SeccompProgram.compile(s)
    }

    @Test("seccomp through spawn, on_deny: kill: mkdir dies of SIGSYS and makes nothing")
    func seccompKill() throws {
        let s = Scratch()
        defer { s.remove() }
        let program = try Self.mkdirProgram(kill: true, report: false)
        let r = try Spawner.run(["/usr/bin/mkdir", s.root + "/d"]) {
            $0.confinement.noNewPrivileges = true
            $0.confinement.seccompProgram = program.main
            $0.confinement.resourceLimits = [.init(resource: Int32(RLIMIT_CORE.rawValue), soft: 0, hard: 0)]
        }
        #expect(r.status == .signaled(SIGSYS))
        #expect(!FileSystem.exists(s.root + "/d"))
    }

    @Test("seccomp through spawn, reporting: brig's listener receives mkdir and answers EPERM")
    func seccompListener() throws {
        try #require(brig_seccomp_notify_supported() != 0)
        let s = Scratch()
        defer { s.remove() }
        let program = try Self.mkdirProgram(kill: false, report: true)
        var spec = Spawner.spec(["/usr/bin/mkdir", s.root + "/d"])
        defer { Spawner.closeNull(spec) }
        spec.confinement.noNewPrivileges = true
        spec.confinement.seccompProgram = program.main
        spec.confinement.seccompListener = true
        let child = try ChildProcess.spawn(spec)
        #expect(child.seccompListener >= 0)
        var answered = false
        if child.seccompListener >= 0 {
            var pfd = pollfd(fd: child.seccompListener, events: Int16(POLLIN), revents: 0)
            if poll(&pfd, 1, 20_000) == 1 {
                var note = brig_notification_swift()
                let rc = Seccomp.receive(child.seccompListener, &note)
                #expect(rc == 0)
                #expect(
                    [SeccompProgram.number(of: "mkdir"), SeccompProgram.number(of: "mkdirat")].contains(note.nr),
                    "\(SeccompProgram.name(of: note.nr))")
                #expect(Int32(bitPattern: note.pid) == child.pid)
                answered = Seccomp.respond(child.seccompListener, id: note.id, error: EPERM) == 0
            } else {
                kill(child.pid, SIGKILL)
            }
            close(child.seccompListener)
        }
        #expect(answered, "no notification within 20 s")
        #expect(reap(child.pid) == .exited(1), "mkdir reports the EPERM and fails")
        #expect(!FileSystem.exists(s.root + "/d"))
    }
}

@Suite("spawn: exit codes of SpawnError")
struct SpawnErrorTests {
    @Test("127 for a missing command, 126 for one that cannot run, 125 for brig's own stages")
    func exitCodes() {
        #expect(SpawnError(errno: ENOENT, stage: .exec).exitCode == 127)
        for e in [EACCES, ENOEXEC, EPERM, ETXTBSY, ENOTDIR] {
            #expect(SpawnError(errno: e, stage: .exec).exitCode == 126, "errno \(e)")
        }
        for stage: SpawnError.Stage in [.none, .signals, .stdio, .rlimits, .chdir, .landlock, .seccomp, .clone, .view] {
            #expect(SpawnError(errno: ENOENT, stage: stage).exitCode == 125, "\(stage)")
        }
    }

    @Test("stages carry the shim's numbers (BRIG_STAGE_*)")
    func stageNumbers() {
        #expect(SpawnError.Stage(rawValue: Int32(BRIG_STAGE_RLIMITS.rawValue)) == .rlimits)
        #expect(SpawnError.Stage(rawValue: Int32(BRIG_STAGE_EXEC.rawValue)) == .exec)
        #expect(SpawnError.Stage(rawValue: Int32(BRIG_STAGE_LANDLOCK.rawValue)) == .landlock)
        #expect(SpawnError.Stage(rawValue: Int32(BRIG_STAGE_SECCOMP.rawValue)) == .seccomp)
        #expect(SpawnError.Stage(rawValue: Int32(BRIG_STAGE_INIT.rawValue)) == .initProcess)
        #expect(SpawnError.Stage(rawValue: Int32(BRIG_STAGE_EGRESS.rawValue)) == .egress)
        #expect(SpawnError.Stage(rawValue: Int32(BRIG_STAGE_EGRESS.rawValue) + 1) == nil)
    }

    @Test("the message: the bare reason for exec, the stage otherwise")
    func descriptions() {
        #expect(SpawnError(errno: ENOENT, stage: .exec).description == "No such file or directory")
        #expect(SpawnError(errno: EPERM, stage: .caps).description == "could not confine the child (caps): Operation not permitted")
    }
}
