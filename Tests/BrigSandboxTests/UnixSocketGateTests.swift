import Testing

@testable import BrigSandbox

#if canImport(Glibc)
@preconcurrency import Glibc
#endif

/// A scratch tree with a bound socket at `granted/sub/app.sock`, one at `outside/docker.sock`,
/// a regular file, and symlinks in both directions.
final class SocketTree {
    let base: String
    var listeners: [Int32] = []

    init() throws {
        var template = Array("/tmp/brig-gate-tests-XXXXXX".utf8CString)
        guard let p = mkdtemp(&template) else { throw SocketGateErrno(errno) }
        base = String(cString: p)
        mkdir(base + "/granted", 0o755)
        mkdir(base + "/granted/sub", 0o755)
        mkdir(base + "/outside", 0o755)
        try bindSocket(base + "/granted/sub/app.sock")
        try bindSocket(base + "/outside/docker.sock")
        close(open(base + "/granted/file", O_CREAT | O_WRONLY | O_CLOEXEC, 0o644))
        symlink(base + "/outside/docker.sock", base + "/granted/sneaky.sock")  // inside, pointing out
        symlink("../granted/sub/app.sock", base + "/outside/in.sock")  // outside, pointing in
        symlink("loop", base + "/granted/loop")
    }

    func bindSocket(_ path: String) throws {
        let fd = socket(AF_UNIX, Int32(SOCK_STREAM.rawValue), 0)
        var addr = sockaddr_un()
        addr.sun_family = sa_family_t(AF_UNIX)
        withUnsafeMutableBytes(of: &addr.sun_path) { raw in
            for (i, b) in path.utf8.enumerated() { raw[i] = b }
        }
        let rc = withUnsafePointer(to: &addr) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, socklen_t(MemoryLayout<sockaddr_un>.size)) }
        }
        guard rc == 0 else { throw SocketGateErrno(errno) }
        listeners.append(fd)
    }

    deinit {
        for fd in listeners { close(fd) }
        for p in ["granted/sub/app.sock", "outside/docker.sock", "granted/file", "granted/sneaky.sock", "outside/in.sock", "granted/loop"] {
            unlink(base + "/" + p)
        }
        for d in ["granted/sub", "granted", "outside", ""] { rmdir(base + "/" + d) }
    }

    /// Resolves `path` from the real root with `cwd` as the working directory.
    func resolve(_ path: String, cwd: String = "/") -> Result<UnixSocketGate.Resolved, SocketGateErrno> {
        let root = open("/", UnixSocketGate.openPath | O_CLOEXEC)
        defer { close(root) }
        let r = UnixSocketGate.resolve(Array(path.utf8), root: root, cwd: Array(cwd.utf8))
        if case .success(let s) = r { close(s.fd) }
        return r
    }

    func canonical(_ path: String, cwd: String = "/") -> String? {
        if case .success(let s) = resolve(path, cwd: cwd) { return s.canonical }
        return nil
    }

    func failure(_ path: String, cwd: String = "/") -> Int32? {
        if case .failure(let e) = resolve(path, cwd: cwd) { return e.code }
        return nil
    }
}

@Suite("Unix socket gate: path walk and grants")
struct UnixSocketGateTests {
    @Test func aSocketResolvesToItsCanonicalPath() throws {
        let t = try SocketTree()
        #expect(t.canonical(t.base + "/granted/sub/app.sock") == t.base + "/granted/sub/app.sock")
        #expect(t.canonical(t.base + "//granted/./sub/../sub/app.sock") == t.base + "/granted/sub/app.sock")
    }

    @Test func theDescriptorIsTheSocketItself() throws {
        let t = try SocketTree()
        let root = open("/", UnixSocketGate.openPath | O_CLOEXEC)
        defer { close(root) }
        guard case .success(let r) = UnixSocketGate.resolve(Array((t.base + "/outside/in.sock").utf8), root: root, cwd: []) else {
            Issue.record("did not resolve")
            return
        }
        defer { close(r.fd) }
        var viaFD = stat(), direct = stat()
        #expect(fstat(r.fd, &viaFD) == 0 && stat(t.base + "/granted/sub/app.sock", &direct) == 0)
        #expect(viaFD.st_ino == direct.st_ino && viaFD.st_dev == direct.st_dev)
    }

    @Test func relativePathsStartAtTheWorkingDirectory() throws {
        let t = try SocketTree()
        #expect(t.canonical("sub/app.sock", cwd: t.base + "/granted") == t.base + "/granted/sub/app.sock")
        #expect(t.canonical("../outside/docker.sock", cwd: t.base + "/granted") == t.base + "/outside/docker.sock")
        #expect(t.failure("sub/app.sock", cwd: "") == EACCES)  // no usable working directory
    }

    @Test func dotDotNeverClimbsAboveTheRoot() throws {
        let t = try SocketTree()
        #expect(t.canonical("/../../.." + t.base + "/granted/sub/app.sock") == t.base + "/granted/sub/app.sock")
    }

    @Test func symlinksAreJudgedByTheirTarget() throws {
        let t = try SocketTree()
        let grants = [t.base + "/granted"]
        let out = try #require(t.canonical(t.base + "/granted/sneaky.sock"))
        #expect(out == t.base + "/outside/docker.sock")
        #expect(!UnixSocketGate.isGranted(out, grants: grants))
        let inward = try #require(t.canonical(t.base + "/outside/in.sock"))
        #expect(inward == t.base + "/granted/sub/app.sock")
        #expect(UnixSocketGate.isGranted(inward, grants: grants))
    }

    @Test func symlinkLoopsEndInELOOP() throws {
        let t = try SocketTree()
        #expect(t.failure(t.base + "/granted/loop") == ELOOP)
    }

    @Test func onlySocketsResolve() throws {
        let t = try SocketTree()
        #expect(t.failure(t.base + "/granted/file") == ECONNREFUSED)
        #expect(t.failure(t.base + "/granted/sub") == ECONNREFUSED)
        #expect(t.failure(t.base + "/granted/missing.sock") == ENOENT)
        #expect(t.failure(t.base + "/granted/file/x.sock") == ENOTDIR)
    }

    @Test func grantsCoverThemselvesAndBelowOnly() {
        #expect(UnixSocketGate.isGranted("/run/app/app.sock", grants: ["/run/app"]))  // a directory above
        #expect(UnixSocketGate.isGranted("/run/app/app.sock", grants: ["/run/app/app.sock"]))  // the socket itself
        #expect(!UnixSocketGate.isGranted("/run/app-other/app.sock", grants: ["/run/app"]))  // not a sibling prefix
        #expect(!UnixSocketGate.isGranted("/run/docker.sock", grants: ["/run/app", "/tmp"]))
        #expect(!UnixSocketGate.isGranted("/run/docker.sock", grants: []))
    }

    @Test func sockaddrPathnames() {
        let family: [UInt8] = [1, 0]
        #expect(UnixSocketGate.pathname(inSockaddr: family + Array("/x.sock".utf8) + [0, 0, 0]) == Array("/x.sock".utf8))
        #expect(UnixSocketGate.pathname(inSockaddr: family + [0] + Array("abstract".utf8)) == nil)  // abstract
        #expect(UnixSocketGate.pathname(inSockaddr: family) == nil)  // unnamed
    }

    @Test func theConnectAddressNamesTheDescriptor() {
        #expect(UnixSocketGate.procSelfAddress(7) == [1, 0] + Array("/proc/self/fd/7".utf8) + [0])
    }
}

@Suite("memfd flag rewrite")
struct MemfdFlagTests {
    @Test func plainMemfdsGetNoexecSeal() {
        #expect(MemfdFlags.rewrite(0) == MemfdFlags.noexecSeal | MemfdFlags.cloexec)
        #expect(
            MemfdFlags.rewrite(MemfdFlags.cloexec | MemfdFlags.allowSealing)
                == MemfdFlags.cloexec | MemfdFlags.allowSealing | MemfdFlags.noexecSeal)
        #expect(MemfdFlags.rewrite(MemfdFlags.noexecSeal) == MemfdFlags.noexecSeal | MemfdFlags.cloexec)
    }

    @Test func mfdExecIsRefused() {
        #expect(MemfdFlags.rewrite(MemfdFlags.exec) == nil)
        #expect(MemfdFlags.rewrite(MemfdFlags.exec | MemfdFlags.cloexec) == nil)
    }
}

@Suite("seccomp program: the gate's rules")
struct GateProgramTests {
    /// The BPF instructions of a program: (code, k).
    static func instructions(_ bytes: [UInt8]) -> [(code: UInt16, k: UInt32)] {
        stride(from: 0, to: bytes.count, by: 8).map { i in
            (
                UInt16(bytes[i]) | UInt16(bytes[i + 1]) << 8,
                UInt32(bytes[i + 4]) | UInt32(bytes[i + 5]) << 8 | UInt32(bytes[i + 6]) << 16 | UInt32(bytes[i + 7]) << 24
            )
        }
    }
    static let ret: UInt16 = 0x06  // BPF_RET|BPF_K
    static let userNotif: UInt32 = 0x7FC0_0000
    static let and: UInt16 = 0x54  // BPF_ALU|BPF_AND|BPF_K

    static func masks(_ program: [UInt8], with k: UInt32) -> Bool {
        instructions(program).contains { $0.code == and && $0.k == k }
    }

    func settings(_ mode: SeccompProgram.Mode, gate: Bool, kill: Bool = false) -> SeccompProgram.Settings {
        var s = SeccompProgram.Settings()
        s.mode = mode
        s.deny = SyscallGroups.defaultDeny
        // In deny-list mode `allow` names exceptions to the deny list.
        s.allow = mode == .allowList ? SyscallGroups.strictAllow : []
        s.gate = gate
        s.killOnDeny = kill
        s.report = !kill
        s.refuseDescriptorExec = true
        s.refuseExecutableMemfd = true
        return s
    }

    @Test func killModeNotifiesOnlyWithTheGate() throws {
        let without = try SeccompProgram.compile(settings(.denyList, gate: false, kill: true))
        #expect(!Self.instructions(without.main).contains { $0.code == Self.ret && $0.k == Self.userNotif })
        #expect(without.gated.isEmpty)
        let with = try SeccompProgram.compile(settings(.denyList, gate: true, kill: true))
        #expect(Self.instructions(with.main).contains { $0.code == Self.ret && $0.k == Self.userNotif })
        #expect(with.gated == SyscallGate.gatedNames)
    }

    @Test func bothModesGateTheSameCalls() throws {
        #expect(try SeccompProgram.compile(settings(.denyList, gate: true)).gated == SyscallGate.gatedNames)
        #expect(try SeccompProgram.compile(settings(.allowList, gate: true)).gated == SyscallGate.gatedNames)
    }

    @Test func allowExemptsFromADenyList() throws {
        var s = settings(.denyList, gate: true)
        #expect(try SeccompProgram.compile(s).names.contains("set_mempolicy"))
        s.allow = ["set_mempolicy", "@keyring"]
        let names = try SeccompProgram.compile(s).names
        #expect(!names.contains("set_mempolicy") && !names.contains("keyctl") && !names.contains("add_key"))
        #expect(names.contains("mbind") && names.contains("ptrace"))
    }

    @Test func aDeniedCallIsNotGated() throws {
        var s = settings(.denyList, gate: true)
        s.deny += ["connect"]
        #expect(try SeccompProgram.compile(s).gated == ["sendto", "sendmsg", "sendmmsg", "memfd_create"])
    }

    @Test func descriptorExecIsRefusedInTheFilter() throws {
        // execveat's flags are masked with AT_EMPTY_PATH (0x1000); no other rule masks with it.
        #expect(Self.masks(try SeccompProgram.compile(settings(.denyList, gate: true)).main, with: 0x1000))
        #expect(Self.masks(try SeccompProgram.compile(settings(.allowList, gate: true)).hardening, with: 0x1000))
        var off = settings(.denyList, gate: true)
        off.refuseDescriptorExec = false
        #expect(!Self.masks(try SeccompProgram.compile(off).main, with: 0x1000))
    }

    @Test func withoutTheGateMfdExecIsRefusedInTheFilter() throws {
        #expect(Self.masks(try SeccompProgram.compile(settings(.denyList, gate: false)).main, with: MemfdFlags.exec))
        #expect(!Self.masks(try SeccompProgram.compile(settings(.denyList, gate: true)).main, with: MemfdFlags.exec))
    }
}
