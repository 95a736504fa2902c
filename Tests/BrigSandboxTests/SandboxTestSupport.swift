import CBrigShim
import Testing

@testable import BrigSandbox

#if canImport(Glibc)
@preconcurrency import Glibc
#endif

/// Inside an exit test's child: says why on stderr and leaves with `code` (never 42, the
/// success code the tests expect, nor 0).
func childFail(_ why: String, code: Int32 = 1) -> Never {
    let line = Array("sandbox exit test: \(why)\n".utf8)
    _ = line.withUnsafeBytes { write(2, $0.baseAddress, $0.count) }
    exit(code)
}

/// The code an exit test's child leaves with when every check in it held.
let childPassed: Int32 = 42

/// Inside an exit test's child: no core file for the SIGSYS that is expected.
func disableCoreDumps() {
    var rl = rlimit(rlim_cur: 0, rlim_max: 0)
    _ = setrlimit(__rlimit_resource_t(RLIMIT_CORE.rawValue), &rl)
}

/// Inside an exit test's child: no_new_privs, then the hardening program (if any), then the
/// main one, in the order the spawn shim loads them. Filters apply to the calling thread.
func loadIntoThisThread(_ program: SeccompProgram) {
    guard brig_set_no_new_privs() == 0 else { childFail("PR_SET_NO_NEW_PRIVS failed", code: 2) }
    if !program.hardening.isEmpty {
        let rc = program.hardening.withUnsafeBytes { brig_seccomp_load($0.baseAddress, UInt16($0.count / 8)) }
        guard rc == 0 else { childFail("loading the hardening program: \(String(cString: strerror(-rc)))", code: 3) }
    }
    let rc = program.main.withUnsafeBytes { brig_seccomp_load($0.baseAddress, UInt16($0.count / 8)) }
    guard rc == 0 else { childFail("loading the main program: \(String(cString: strerror(-rc)))", code: 3) }
}

/// Compiles in an exit test's child, where a thrown error has no test to go to.
func compileOrFail(_ s: SeccompProgram.Settings) -> SeccompProgram {
    do {
        return try SeccompProgram.compile(s)
    } catch {
        childFail("compile: \(error)", code: 4)
    }
}

/// One `struct sock_filter`.
struct BPFInstruction: Equatable {
    var code: UInt16
    var jt: UInt8
    var jf: UInt8
    var k: UInt32

    static let ret: UInt16 = 0x06  // BPF_RET | BPF_K
    static let loadAbsoluteWord: UInt16 = 0x20  // BPF_LD | BPF_W | BPF_ABS
    static let jumpEqual: UInt16 = 0x15  // BPF_JMP | BPF_JEQ | BPF_K

    /// Decodes exported program bytes (little-endian host).
    static func decode(_ bytes: [UInt8]) -> [BPFInstruction] {
        func u16(_ o: Int) -> UInt16 { UInt16(bytes[o]) | UInt16(bytes[o + 1]) << 8 }
        func u32(_ o: Int) -> UInt32 { UInt32(u16(o)) | UInt32(u16(o + 2)) << 16 }
        var out: [BPFInstruction] = []
        var o = 0
        while o + 8 <= bytes.count {
            out.append(BPFInstruction(code: u16(o), jt: bytes[o + 2], jf: bytes[o + 3], k: u32(o + 4)))
            o += 8
        }
        return out
    }

    /// The actions a program can return (`k` of every `ret #k`).
    static func actions(_ bytes: [UInt8]) -> Set<UInt32> {
        Set(decode(bytes).filter { $0.code == ret }.map(\.k))
    }
}

/// `SECCOMP_RET_*` from linux/seccomp.h, written out so the tests do not take them from the code under test.
enum SeccompReturn {
    static let killProcess: UInt32 = 0x8000_0000
    static let allow: UInt32 = 0x7FFF_0000
    static let userNotif: UInt32 = 0x7FC0_0000
    static func errno(_ e: Int32) -> UInt32 { 0x0005_0000 | UInt32(e) }
}

/// A wait status, decoded without the W* macros (they do not import).
enum WaitStatus: Equatable, CustomStringConvertible {
    case exited(Int32)
    case signaled(Int32)
    case other(Int32)

    init(_ status: Int32) {
        let low = status & 0x7F
        if low == 0 {
            self = .exited((status >> 8) & 0xFF)
        } else if low != 0x7F {
            self = .signaled(low)
        } else {
            self = .other(status)
        }
    }

    var description: String {
        switch self {
        case .exited(let c): return "exited \(c)"
        case .signaled(let s): return "killed by signal \(s)"
        case .other(let s): return "status \(s)"
        }
    }
}

/// Waits for `pid` (retrying EINTR) so that no test leaves a zombie.
func reap(_ pid: Int32) -> WaitStatus {
    var status: Int32 = 0
    while waitpid(pid, &status, 0) < 0 {
        if errno != EINTR { return .other(-errno) }
    }
    return WaitStatus(status)
}

/// Everything readable from `fd` until end of file; closes it.
func readToEnd(_ fd: Int32) -> String {
    defer { close(fd) }
    var out: [UInt8] = []
    var buf = [UInt8](repeating: 0, count: 4096)
    while true {
        let n = read(fd, &buf, buf.count)
        if n < 0 && errno == EINTR { continue }
        if n <= 0 { break }
        out += buf[0..<n]
    }
    return String(decoding: out, as: UTF8.self)
}

/// A new empty file from a mkstemp template such as "/tmp/brig-x-XXXXXX", or nil.
func makeTempFile(_ template: String) -> String? {
    var t = Array(template.utf8CString)
    let fd = mkstemp(&t)
    guard fd >= 0 else { return nil }
    close(fd)
    return String(decoding: t.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
}

/// After an exit test run with `.failure` (which matches any exit code but 0 and any signal, and
/// so hands back the child's stderr whatever went wrong): the child ended exactly as `expected`.
func expectExit(_ result: ExitTest.Result?, _ expected: ExitStatus, sourceLocation: SourceLocation = #_sourceLocation) {
    let stderr = String(decoding: result?.standardErrorContent ?? [], as: UTF8.self)
    #expect(result?.exitStatus == expected, "child stderr: \(stderr)", sourceLocation: sourceLocation)
}
