import BrigSandbox
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

    public init(listener: Int32, diagnostics: Diagnostics = Diagnostics(perSecond: 5, burst: 20)) {
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
                counts.withLock { $0[name, default: 0] += 1 }
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
