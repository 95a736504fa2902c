import BrigSandbox
public import BrigAudit
import Synchronization

#if canImport(Glibc)
@preconcurrency import Glibc
#endif

/// Answers the seccomp user notifications of denied system calls: each one is reported (the
/// process, the call by name and its arguments) and refused with EPERM. Reports are rate limited,
/// so a loop of blocked calls cannot flood anything; the counts are kept whole.
public final class SyscallReporter: Sendable {
    public let listener: Int32
    private let diagnostics: Diagnostics
    private let counts = Mutex<[String: Int]>([:])

    private let audit: AuditLog?

    public init(listener: Int32, diagnostics: Diagnostics = Diagnostics(perSecond: 5, burst: 20), audit: AuditLog? = nil) {
        self.audit = audit
        self.listener = listener
        self.diagnostics = diagnostics
    }

    /// Starts the answering thread.
    public func start() {
        OSThread.start(stackBytes: 256 * 1024) { [self] in
            while true {
                var note = brig_notification_swift()
                let rc = Seccomp.receive(listener, &note)
                if rc == -ENOENT || rc == -EINTR { continue }  // the caller died before we read it
                if rc != 0 { return }  // the listener is gone: no process is left under the filter
                let name = SeccompProgram.name(of: note.nr)
                _ = Seccomp.respond(listener, id: note.id, error: EPERM)
                let count = counts.withLock { c -> Int in
                    c[name, default: 0] += 1
                    return c.values.reduce(0, +)
                }
                // Every refusal is counted; the trail keeps the first 1000 calls in full so a loop
                // of blocked calls cannot flood it (the session's end reports the totals).
                if count <= 1000 { audit?.blockedSyscall(pid: Int32(bitPattern: note.pid), name: name, args: note.args) }
                let args = note.args.prefix(SyscallReporter.arity(name)).map { "0x" + String($0, radix: 16) }.joined(separator: ", ")
                diagnostics.report("blocked syscall \(name)(\(args)) from pid \(note.pid); answered EPERM")
            }
        }
    }

    /// Blocked calls so far, by name.
    public var blocked: [String: Int] { counts.withLock { $0 } }

    static func arity(_ name: String) -> Int {
        switch name {
        case "socket", "ioctl", "personality", "clone", "unshare", "setns", "mount", "ptrace", "bpf", "keyctl": return name == "socket" || name == "mount" ? 3 : 2
        default: return 3
        }
    }
}
