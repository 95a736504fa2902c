import CBrigShim
import Testing

@testable import BrigSandbox

#if canImport(Glibc)
@preconcurrency import Glibc
#endif

/// `LANDLOCK_ACCESS_FS_*` from linux/landlock.h, written out so the masks are checked against
/// the kernel's numbering, not the code's.
enum LandlockFS {
    static let abi1: UInt64 = 0x1FFF  // EXECUTE (1 << 0) ... MAKE_SYM (1 << 12)
    static let refer: UInt64 = 1 << 13  // ABI 2
    static let truncate: UInt64 = 1 << 14  // ABI 3
    static let ioctlDev: UInt64 = 1 << 15  // ABI 5
    static let readFile: UInt64 = 1 << 2, readDir: UInt64 = 1 << 3, writeFile: UInt64 = 1 << 1, execute: UInt64 = 1 << 0
}

@Suite("Landlock: rights by ABI, the rulesets brig builds")
struct LandlockTests {
    static let expected: [(abi: Int32, mask: UInt64)] = [
        (1, LandlockFS.abi1),
        (2, LandlockFS.abi1 | LandlockFS.refer),
        (3, LandlockFS.abi1 | LandlockFS.refer | LandlockFS.truncate),
        (4, LandlockFS.abi1 | LandlockFS.refer | LandlockFS.truncate),  // ABI 4 is TCP, no new file right
        (5, LandlockFS.abi1 | LandlockFS.refer | LandlockFS.truncate | LandlockFS.ioctlDev),
        (6, LandlockFS.abi1 | LandlockFS.refer | LandlockFS.truncate | LandlockFS.ioctlDev),  // scoping
        (7, LandlockFS.abi1 | LandlockFS.refer | LandlockFS.truncate | LandlockFS.ioctlDev),  // logging
    ]

    @Test("handled filesystem rights for ABI 1 through 7", arguments: expected)
    func handledMask(abi: Int32, mask: UInt64) {
        #expect(Landlock.handledFilesystem(abi: abi) == mask, "ABI \(abi): 0x\(String(Landlock.handledFilesystem(abi: abi), radix: 16))")
    }

    @Test("each ABI adds only its own rights")
    func increments() {
        let added = (2...7).map { Landlock.handledFilesystem(abi: $0) & ~Landlock.handledFilesystem(abi: $0 - 1) }
        #expect(added == [LandlockFS.refer, LandlockFS.truncate, 0, LandlockFS.ioctlDev, 0, 0])
    }

    @Test("this kernel has Landlock, and the probe reports the same ABI")
    func probe() {
        #expect(Landlock.abi >= 1)
        let features = KernelFeatures.probe()
        #expect(features.landlockABI == Landlock.abi)
        #expect(features.seccomp && features.seccompNotify && features.noNewPrivs)
        #expect(features.isRoot == (geteuid() == 0))
    }

    @Test("the kernel accepts every ABI's mask up to its own, and nothing above its own")
    func kernelAgrees() throws {
        try #require(Landlock.abi >= 1)
        for abi in 1...Landlock.abi {
            let fd = brig_landlock_create_ruleset(Landlock.handledFilesystem(abi: abi), 0, 0)
            #expect(fd >= 0, "ABI \(abi): \(fd)")
            if fd >= 0 { close(fd) }
        }
        // The next right past this kernel's set is unknown to it: brig's mask is the whole set.
        let mine = Landlock.handledFilesystem(abi: Landlock.abi)
        let next = UInt64(1) << UInt64(64 - mine.leadingZeroBitCount)
        let rc = brig_landlock_create_ruleset(mine | next, 0, 0)
        if rc >= 0 { close(rc) }
        #expect(rc == -EINVAL, "0x\(String(mine | next, radix: 16)) should be refused")
    }

    @Test("build grants read, write and exec per path, merges a path named twice, lists the missing")
    func build() throws {
        let s = Scratch()
        defer { s.remove() }
        let work = s.dir("work")
        var rules = Landlock.Rules()
        rules.read = ["/usr", "/nonexistent/brig-landlock", work]
        rules.write = [work]
        rules.exec = ["/usr/bin/env"]
        let r = try Landlock.build(rules)
        defer { close(r.fd) }
        #expect(r.fd >= 0 && fcntl(r.fd, F_GETFD) >= 0)
        #expect(r.abi == Landlock.abi)
        #expect(r.granted.map { $0.path } == ["/usr", work, "/usr/bin/env"])
        #expect(r.granted.map { $0.access } == ["read", "read+write", "read+exec"])
        #expect(r.missing == ["/nonexistent/brig-landlock"])
        #expect(!r.handlesNetwork, "no tcp rules: TCP is not handled")
        #expect(r.scoped == (Landlock.abi >= 6))

        rules.tcp = (connect: [443], bind: [])
        rules.scope = false
        let net = try Landlock.build(rules)
        defer { close(net.fd) }
        #expect(net.handlesNetwork == (Landlock.abi >= 4))
        #expect(!net.scoped)
    }
}

/// Exit tests: the ruleset is enforced on the child's own thread.
@Suite("Landlock: enforcement in a child", .serialized)
struct LandlockEnforcementTests {
    @Test("only /usr readable: reading /usr works, writing /tmp and reading /etc fail with EACCES")
    func readOnlyUsr() async {
        let result = await #expect(processExitsWith: .failure, observing: [\.standardErrorContent]) {
            guard let path = makeTempFile("/tmp/brig-landlock-XXXXXX") else { childFail("mkstemp") }
            defer { unlink(path) }
            // Writable before: the EACCES below is Landlock's.
            let before = open(path, O_WRONLY | O_CLOEXEC)
            guard before >= 0 else { childFail("open for writing before the ruleset: errno \(errno)") }
            close(before)

            var rules = Landlock.Rules()
            rules.read = ["/usr"]
            let ruleset: Landlock.Ruleset
            do { ruleset = try Landlock.build(rules) } catch { childFail("build: \(error)") }
            guard brig_set_no_new_privs() == 0 else { childFail("no_new_privs") }
            let rc = brig_landlock_restrict_self(ruleset.fd)
            guard rc == 0 else { childFail("landlock_restrict_self: \(-rc)") }

            let usr = open("/usr/bin/env", O_RDONLY | O_CLOEXEC)
            guard usr >= 0 else { childFail("reading /usr/bin/env: errno \(errno)") }
            close(usr)
            errno = 0
            guard open(path, O_WRONLY | O_CLOEXEC) == -1, errno == EACCES else { childFail("writing \(path): errno \(errno)") }
            errno = 0
            guard open("/tmp/brig-landlock-new", O_WRONLY | O_CREAT | O_CLOEXEC, 0o600) == -1, errno == EACCES else {
                childFail("creating a file in /tmp: errno \(errno)")
            }
            errno = 0
            guard open("/etc/passwd", O_RDONLY | O_CLOEXEC) == -1, errno == EACCES else { childFail("reading /etc/passwd: errno \(errno)") }
            exit(childPassed)
        }
        expectExit(result, .exitCode(childPassed))
    }

    @Test("TCP rules (ABI 4+): connect to an unlisted port is EACCES, to a listed one reaches the network")
    func tcpConnect() async throws {
        try #require(Landlock.abi >= 4)
        let result = await #expect(processExitsWith: .failure, observing: [\.standardErrorContent]) {
            var rules = Landlock.Rules()
            rules.read = ["/usr"]
            rules.tcp = (connect: [1], bind: [])
            let ruleset: Landlock.Ruleset
            do { ruleset = try Landlock.build(rules) } catch { childFail("build: \(error)") }
            guard ruleset.handlesNetwork else { childFail("TCP not handled") }
            guard brig_set_no_new_privs() == 0, brig_landlock_restrict_self(ruleset.fd) == 0 else { childFail("restrict") }
            func connectLoopback(_ port: UInt16) -> Int32 {
                let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue | SOCK_CLOEXEC.rawValue), 0)
                guard fd >= 0 else { return errno }
                defer { close(fd) }
                var addr = sockaddr_in()
                addr.sin_family = sa_family_t(AF_INET)
                addr.sin_port = port.bigEndian
                addr.sin_addr.s_addr = UInt32(0x7F00_0001).bigEndian
                let rc = withUnsafePointer(to: &addr) {
                    $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
                }
                return rc == 0 ? 0 : errno
            }
            let denied = connectLoopback(2)
            guard denied == EACCES else { childFail("port 2: errno \(denied), expected EACCES") }
            let allowed = connectLoopback(1)  // nobody listens on tcpmux: refused by the peer, not by Landlock
            guard allowed != EACCES else { childFail("port 1 refused by Landlock") }
            exit(childPassed)
        }
        expectExit(result, .exitCode(childPassed))
    }
}
