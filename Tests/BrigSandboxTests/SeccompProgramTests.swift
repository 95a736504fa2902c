import CBrigShim
import Testing

@testable import BrigSandbox

#if canImport(Glibc)
@preconcurrency import Glibc
#endif

/// What `SeccompProgram.compile` produces, read from the BPF bytes themselves.
@Suite("seccomp: compiling")
struct SeccompCompileTests {
    static func settings(_ mode: SeccompProgram.Mode, kill: Bool = false, report: Bool = false) -> SeccompProgram.Settings {
        var s = SeccompProgram.Settings()
        s.mode = mode
        s.killOnDeny = kill
        s.report = report
        if mode == .denyList { s.deny = SyscallGroups.defaultDeny } else { s.allow = SyscallGroups.strictAllow }
        return s
    }

    @Test("the default profile: whole instructions, within BPF_MAXINSNS, no second program")
    func denyListShape() throws {
        let p = try SeccompProgram.compile(Self.settings(.denyList))
        #expect(p.main.count % 8 == 0)
        #expect(p.main.count / 8 > 1 && p.main.count / 8 <= 4096, "\(p.main.count / 8) instructions")
        #expect(p.hardening.isEmpty)
        #expect(p.names == (try SyscallGroups.expand(["@default-deny"])))
        #expect(p.gated.isEmpty, "no gate was asked for")
    }

    @Test("the strict profile: a main program and a default-allow hardening program, both loadable")
    func allowListShape() throws {
        let p = try SeccompProgram.compile(Self.settings(.allowList))
        for bytes in [p.main, p.hardening] {
            #expect(!bytes.isEmpty && bytes.count % 8 == 0)
            #expect(bytes.count / 8 <= 4096)
        }
        #expect(p.names == (try SyscallGroups.expand(["@strict-allow"])))
        // The hardening program allows by default and refuses TIOCSTI/TIOCLINUX with EPERM.
        let hard = BPFInstruction.actions(p.hardening)
        #expect(hard.contains(SeccompReturn.allow) && hard.contains(SeccompReturn.errno(EPERM)), "\(hard)")
        let ioctlRequests = Set(BPFInstruction.decode(p.hardening).filter { $0.code == BPFInstruction.jumpEqual }.map(\.k))
        #expect(ioctlRequests.isSuperset(of: [0x5412, 0x541C]), "TIOCSTI and TIOCLINUX compared: \(ioctlRequests)")
    }

    @Test("the first check is the architecture; a foreign one is killed", arguments: [SeccompProgram.Mode.denyList, .allowList])
    func nativeArchitectureOnly(mode: SeccompProgram.Mode) throws {
        let p = try SeccompProgram.compile(Self.settings(mode))
        let code = BPFInstruction.decode(p.main)
        // ld [4]: seccomp_data.arch.
        #expect(code.first == BPFInstruction(code: BPFInstruction.loadAbsoluteWord, jt: 0, jf: 0, k: 4))
        #if arch(x86_64)
        let audit: UInt32 = 0xC000_003E  // AUDIT_ARCH_X86_64
        #elseif arch(arm64)
        let audit: UInt32 = 0xC000_00B7  // AUDIT_ARCH_AARCH64
        #endif
        #expect(code.prefix(4).contains { $0.code == BPFInstruction.jumpEqual && $0.k == audit }, "\(code.prefix(4))")
        #expect(BPFInstruction.actions(p.main).contains(SeccompReturn.killProcess))
    }

    struct DeniedAction: Sendable, CustomTestStringConvertible {
        var kill: Bool
        var report: Bool
        var expected: UInt32
        var absent: [UInt32]
        var testDescription: String { kill ? "kill" : report ? "notify" : "errno" }
    }

    static let deniedActions = [
        DeniedAction(
            kill: true, report: true, expected: SeccompReturn.killProcess,
            absent: [SeccompReturn.userNotif, SeccompReturn.errno(EPERM)]),
        DeniedAction(kill: false, report: true, expected: SeccompReturn.userNotif, absent: [SeccompReturn.errno(EPERM)]),
        DeniedAction(kill: false, report: false, expected: SeccompReturn.errno(EPERM), absent: [SeccompReturn.userNotif]),
    ]

    @Test("a denied call gets the action the settings name (kill wins over report)", arguments: deniedActions)
    func deniedAction(_ a: DeniedAction) throws {
        for mode in [SeccompProgram.Mode.denyList, .allowList] {
            let actions = BPFInstruction.actions(try SeccompProgram.compile(Self.settings(mode, kill: a.kill, report: a.report)).main)
            #expect(actions.contains(a.expected), "\(mode): \(actions)")
            for other in a.absent { #expect(!actions.contains(other), "\(mode): \(actions)") }
            // clone3 answers ENOSYS whatever the denied action (libc falls back to clone).
            #expect(actions.contains(SeccompReturn.errno(ENOSYS)), "\(mode): \(actions)")
        }
    }

    @Test("the exec hardening adds EPERM rules even when denied calls kill")
    func execHardeningIsEPERM() throws {
        var s = Self.settings(.denyList, kill: true)
        #expect(!BPFInstruction.actions(try SeccompProgram.compile(s).main).contains(SeccompReturn.errno(EPERM)))
        s.refuseDescriptorExec = true
        #expect(BPFInstruction.actions(try SeccompProgram.compile(s).main).contains(SeccompReturn.errno(EPERM)))
    }

    @Test("an allow list gates only the gated calls it allows")
    func gatedCallsOfAnAllowList() throws {
        var strict = Self.settings(.allowList)
        strict.gate = true
        strict.allow = SyscallGroups.strictAllow.filter { $0 != "memfd_create" }
        let p = try SeccompProgram.compile(strict)
        #expect(p.gated == SyscallGate.gatedNames.filter { $0 != "memfd_create" })
        #expect(BPFInstruction.actions(p.main).contains(SeccompReturn.userNotif), "the gate's notifications are in the program")
    }

    @Test("an unknown call or group is refused by name", arguments: [SeccompProgram.Mode.denyList, .allowList])
    func unknownNames(mode: SeccompProgram.Mode) throws {
        for (name, expected) in [("no_such_syscall", "'no_such_syscall'"), ("@no-such-group", "'@no-such-group'")] {
            var s = SeccompProgram.Settings()
            s.mode = mode
            if mode == .denyList { s.deny = ["ptrace", name] } else { s.allow = ["read", name] }
            let error = try #require(throws: SandboxError.self) { try SeccompProgram.compile(s) }
            #expect(error.description.contains(expected), "\(error)")
        }
        let group = try #require(throws: SandboxError.self) { try SyscallGroups.expand(["@no-such-group"]) }
        #expect(group.description.contains("@mount") && group.description.contains("@default-deny"), "the known groups are listed: \(group)")
    }

    @Test("watch mode notifies the named calls and leaves out those this architecture lacks")
    func watch() throws {
        let p = try SeccompProgram.watch(["openat", "socketcall", "@mount"])
        #expect(p.names.first == "openat" && p.names.contains("socketcall") && p.names.contains("pivot_root"))
        let actions = BPFInstruction.actions(p.main)
        #expect(actions.contains(SeccompReturn.userNotif) && actions.contains(SeccompReturn.allow), "\(actions)")
        #expect(!actions.contains(SeccompReturn.errno(EPERM)), "watch refuses nothing")
    }
}

@Suite("seccomp: syscall names and numbers")
struct SyscallNumberTests {
    static let common = [
        "read", "write", "openat", "close", "mmap", "execve", "socket", "connect", "clone", "clone3",
        "exit_group", "ptrace", "mkdir", "chroot", "memfd_create", "landlock_restrict_self",
    ]

    @Test("name(of:) and number(of:) round-trip", arguments: common)
    func roundTrip(_ name: String) throws {
        let n = try #require(SeccompProgram.number(of: name))
        #expect(n >= 0)
        #expect(SeccompProgram.name(of: n) == name)
    }

    #if arch(x86_64)
    @Test("numbers are the kernel's (arch/x86/entry/syscalls/syscall_64.tbl)")
    func kernelNumbers() {
        let table: [String: Int32] = [
            "read": 0, "write": 1, "openat": 257, "execve": 59, "socket": 41, "clone3": 435,
            "landlock_restrict_self": 446,
        ]
        for (name, nr) in table {
            #expect(SeccompProgram.number(of: name) == nr, "\(name)")
            #expect(SeccompProgram.name(of: nr) == name)
        }
    }
    #endif

    @Test("unknown names and numbers")
    func unknown() {
        #expect(SeccompProgram.number(of: "no_such_syscall") == nil)
        #expect(SeccompProgram.name(of: 99_999) == "syscall#99999")
    }
}

/// Exit tests: each loads a program into its own (child) process and makes a denied call.
@Suite("seccomp: enforcement in a child", .serialized)
struct SeccompEnforcementTests {
    @Test("default profile, on_deny: kill: chroot kills the process with SIGSYS")
    func denyListKill() async {
        let result = await #expect(processExitsWith: .failure, observing: [\.standardErrorContent]) {
            var s = SeccompProgram.Settings()
            s.deny = SyscallGroups.defaultDeny
            s.killOnDeny = true
            let p = compileOrFail(s)
            disableCoreDumps()
            loadIntoThisThread(p)
            _ = chroot("/")
            childFail("chroot returned (errno \(errno))")
        }
        expectExit(result, .signal(SIGSYS))
    }

    @Test("strict profile, on_deny: kill: a call outside the allow list kills with SIGSYS")
    func allowListKill() async {
        let result = await #expect(processExitsWith: .failure, observing: [\.standardErrorContent]) {
            var s = SeccompProgram.Settings()
            s.mode = .allowList
            s.allow = SyscallGroups.strictAllow
            s.killOnDeny = true
            let p = compileOrFail(s)
            disableCoreDumps()
            loadIntoThisThread(p)
            guard getpid() > 0 else { childFail("getpid") }  // allowed: still alive
            _ = chroot("/")
            childFail("chroot returned (errno \(errno))")
        }
        expectExit(result, .signal(SIGSYS))
    }

    @Test("errno mode: a denied call fails with EPERM and the process goes on")
    func denyListErrno() async {
        let result = await #expect(processExitsWith: .failure, observing: [\.standardErrorContent]) {
            var s = SeccompProgram.Settings()
            s.deny = SyscallGroups.defaultDeny + ["uname"]  // uname fails only for a bad pointer
            s.report = false
            let p = compileOrFail(s)
            var name = utsname()
            guard uname(&name) == 0 else { childFail("uname failed before the filter") }
            loadIntoThisThread(p)
            errno = 0
            guard uname(&name) == -1, errno == EPERM else { childFail("uname under the filter: errno \(errno)") }
            errno = 0
            guard chroot("/") == -1, errno == EPERM else { childFail("chroot under the filter: errno \(errno)") }
            guard getpid() > 0 else { childFail("getpid") }
            exit(childPassed)
        }
        expectExit(result, .exitCode(childPassed))
    }

    @Test("strict profile, errno mode: a call outside the allow list fails with EPERM")
    func allowListErrno() async {
        let result = await #expect(processExitsWith: .failure, observing: [\.standardErrorContent]) {
            var s = SeccompProgram.Settings()
            s.mode = .allowList
            s.allow = SyscallGroups.strictAllow
            s.report = false
            let p = compileOrFail(s)
            loadIntoThisThread(p)
            errno = 0
            guard chroot("/") == -1, errno == EPERM else { childFail("chroot: errno \(errno)") }
            guard getppid() > 0 else { childFail("getppid (allowed) failed: errno \(errno)") }
            exit(childPassed)
        }
        expectExit(result, .exitCode(childPassed))
    }

    @Test("socket families: UNIX and INET pass, NETLINK, PACKET and UNSPEC are refused", arguments: [SeccompProgram.Mode.denyList, .allowList])
    func socketFamilies(mode: SeccompProgram.Mode) async {
        // Exit test bodies capture nothing: one body per mode.
        if mode == .denyList {
            let result = await #expect(processExitsWith: .failure, observing: [\.standardErrorContent]) {
                var s = SeccompProgram.Settings()
                s.deny = SyscallGroups.defaultDeny
                s.report = false
                SocketProbe.run(compileOrFail(s), internet: true)
            }
            expectExit(result, .exitCode(childPassed))
        } else {
            let result = await #expect(processExitsWith: .failure, observing: [\.standardErrorContent]) {
                var s = SeccompProgram.Settings()
                s.mode = .allowList
                s.allow = SyscallGroups.strictAllow
                s.report = false
                SocketProbe.run(compileOrFail(s), internet: true)
            }
            expectExit(result, .exitCode(childPassed))
        }
    }

    @Test("network: none refuses AF_INET and AF_INET6 too, and keeps AF_UNIX", arguments: [SeccompProgram.Mode.denyList, .allowList])
    func offline(mode: SeccompProgram.Mode) async {
        if mode == .denyList {
            let result = await #expect(processExitsWith: .failure, observing: [\.standardErrorContent]) {
                var s = SeccompProgram.Settings()
                s.deny = SyscallGroups.defaultDeny
                s.report = false
                s.denyInternet = true
                SocketProbe.run(compileOrFail(s), internet: false)
            }
            expectExit(result, .exitCode(childPassed))
        } else {
            let result = await #expect(processExitsWith: .failure, observing: [\.standardErrorContent]) {
                var s = SeccompProgram.Settings()
                s.mode = .allowList
                s.allow = SyscallGroups.strictAllow
                s.report = false
                s.denyInternet = true
                SocketProbe.run(compileOrFail(s), internet: false)
            }
            expectExit(result, .exitCode(childPassed))
        }
    }

    @Test("memfd_create(MFD_EXEC) is refused without the gate, a plain memfd is not")
    func executableMemfd() async {
        let result = await #expect(processExitsWith: .failure, observing: [\.standardErrorContent]) {
            var s = SeccompProgram.Settings()
            s.deny = SyscallGroups.defaultDeny
            s.report = false
            s.refuseExecutableMemfd = true
            let p = compileOrFail(s)
            let before = brig_memfd_create("brig-test", 0x0010 /* MFD_EXEC */)
            guard before >= 0 else { childFail("MFD_EXEC before the filter: \(-before)") }
            close(before)
            loadIntoThisThread(p)
            let exec = brig_memfd_create("brig-test", 0x0010 | 0x0001 /* MFD_EXEC | MFD_CLOEXEC */)
            guard exec == -EPERM else { childFail("MFD_EXEC under the filter: \(exec)") }
            let plain = brig_memfd_create("brig-test", 0x0001 /* MFD_CLOEXEC */)
            guard plain >= 0 else { childFail("a plain memfd under the filter: \(-plain)") }
            exit(childPassed)
        }
        expectExit(result, .exitCode(childPassed))
    }

    @Test("a call the deny list names outright is refused for every argument, conditional ones included")
    func conditionalCallDeniedOutright() async {
        let result = await #expect(processExitsWith: .failure, observing: [\.standardErrorContent]) {
            var s = SeccompProgram.Settings()
            s.deny = ["socket"]
            s.report = false
            let p = compileOrFail(s)
            loadIntoThisThread(p)
            errno = 0
            let fd = socket(AF_UNIX, Int32(SOCK_STREAM.rawValue), 0)
            guard fd == -1, errno == EPERM else { childFail("socket(AF_UNIX) with deny: [socket] returned \(fd), errno \(errno)") }
            exit(childPassed)
        }
        expectExit(result, .exitCode(childPassed))
    }
}

/// The socket families a compiled program lets through, probed in an exit test's child.
enum SocketProbe {
    static func attempt(_ family: Int32, _ type: Int32) -> Int32 {
        errno = 0
        let fd = socket(family, type | Int32(SOCK_CLOEXEC.rawValue), 0)
        if fd >= 0 {
            close(fd)
            return 0
        }
        return errno
    }

    static func run(_ program: SeccompProgram, internet: Bool) -> Never {
        let dgram = Int32(SOCK_DGRAM.rawValue), raw = Int32(SOCK_RAW.rawValue), stream = Int32(SOCK_STREAM.rawValue)
        // EPERM is the filter's answer: without it AF_UNSPEC fails with EAFNOSUPPORT and AF_NETLINK
        // works for anyone (AF_PACKET would answer EPERM to a process without CAP_NET_RAW).
        let cases: [(name: String, family: Int32, type: Int32, allowed: Bool)] = [
            ("AF_UNIX", AF_UNIX, stream, true),
            ("AF_INET", AF_INET, dgram, internet),
            ("AF_INET6", AF_INET6, dgram, internet),
            ("AF_NETLINK", AF_NETLINK, raw, false),
            ("AF_PACKET", AF_PACKET, dgram, false),
            ("AF_UNSPEC", AF_UNSPEC, dgram, false),
        ]
        loadIntoThisThread(program)
        for c in cases {
            let e = attempt(c.family, c.type)
            if c.allowed && e == EPERM { childFail("\(c.name) refused") }
            if !c.allowed && e != EPERM { childFail("\(c.name): errno \(e), expected EPERM") }
        }
        exit(childPassed)
    }
}
