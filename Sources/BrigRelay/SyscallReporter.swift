public import BrigAudit
import BrigJSONRPC
import BrigPolicy
public import BrigSandbox
import BrigSystem
import Synchronization

#if canImport(Glibc)
@preconcurrency import Glibc
#endif

/// Answers the seccomp user notifications of denied system calls: each one is reported (the
/// process, the call by name and its arguments) and refused with EPERM. Reports are rate limited,
/// so a loop of blocked calls cannot flood anything; the counts are kept whole.
///
/// Gated calls (connect, sendto with an address, sendmsg, sendmmsg, memfd_create) go to `SyscallGate`
/// instead, each on a thread of its own: brig makes the call for the child, and a blocking
/// connect must not hold up every other notification. The thread that received a gated call
/// is the one that makes it, after starting the next thread to receive: the caller then waits
/// for no thread start (on two busy cores a new thread can wait milliseconds for its first
/// run, and every connect of a server is gated).
public final class SyscallReporter: Sendable {
    public let listener: Int32
    private let diagnostics: Diagnostics
    private let counts = Mutex<[String: Int]>([:])

    private let audit: AuditLog?
    private let gate: SyscallGate?
    /// The session's profile, named in the suggestions (`... in a profile that extends default`).
    private let profileName: String?

    public init(
        listener: Int32, diagnostics: Diagnostics = Diagnostics(perSecond: 5, burst: 20), audit: AuditLog? = nil,
        gate: SyscallGate? = nil, profileName: String? = nil
    ) {
        self.audit = audit
        self.gate = gate
        self.profileName = profileName
        self.listener = listener
        self.diagnostics = diagnostics
    }

    /// Starts the answering thread.
    public func start() {
        startReceiving()
    }

    @discardableResult
    private func startReceiving() -> Bool {
        OSThread.start(stackBytes: 256 * 1024) { [self] in receive() }
    }

    /// Answers notifications until the listener is gone, or until it was handed a gated call
    /// and another thread took over receiving. When no thread can be started, it makes the
    /// gated call itself and goes on receiving (every notification is still answered).
    private func receive() {
        while true {
            var note = brig_notification_swift()
            let rc = Seccomp.receive(listener, &note)
            if rc == -ENOENT || rc == -EINTR { continue }  // the caller died before we read it
            if rc != 0 { return }  // the listener is gone: no process is left under the filter
            if let gate, gate.isGated(note.nr) {
                let handedOn = startReceiving()
                gate.handle(listener: listener, note: note) { refusal in self.report(refusal, pid: note.pid) }
                if handedOn { return }
                continue
            }
            let name = SeccompProgram.name(of: note.nr)
            // Counted (and recorded) before the answer releases the caller: once the server has
            // exited, every call it made is in the totals its session's end record carries.
            let count = counts.withLock { c -> Int in
                c[name, default: 0] += 1
                return c.values.reduce(0, +)
            }
            // Every refusal is counted; the trail keeps the first `recordedInFull` calls in
            // full so a loop of blocked calls cannot flood it (the session's end has the totals).
            let advice = SyscallReporter.howToAllow(name, args: note.args, profile: profileName)
            if count <= SyscallReporter.recordedInFull {
                audit?.blockedSyscall(pid: Int32(bitPattern: note.pid), name: name, args: note.args, howToAllow: advice)
            }
            _ = Seccomp.respond(listener, id: note.id, error: EPERM)
            let args = note.args.prefix(SyscallReporter.arity(name)).map { "0x" + String($0, radix: 16) }.joined(separator: ", ")
            diagnostics.report(
                "blocked syscall \(name)(\(args)) from pid \(note.pid); answered EPERM"
                    + SyscallReporter.suffix(advice, learn: profileName))
        }
    }

    /// How many blocked calls of a session get a `syscall-blocked` record of their own.
    public static let recordedInFull = 1000

    /// Reports a call the gate refused, like a blocked syscall, with what it tried to reach.
    func report(_ refusal: SyscallGate.Refusal, pid: UInt32) {
        let count = counts.withLock { c -> Int in
            c[refusal.syscall, default: 0] += 1
            return c.values.reduce(0, +)
        }
        if count <= SyscallReporter.recordedInFull {
            var detail: [(String, JSONValue)] = [
                ("syscall", .string(refusal.syscall)), ("pid", .number(String(pid))),
                ("reason", .string(refusal.reason)),
            ]
            if let path = refusal.path { detail.append(("path", .string(path))) }
            if let advice = SyscallReporter.howToAllow(refusal) { detail.append(("suggestion", .string(advice))) }
            audit?.event(action: .gatedCallRefused, outcome: .failure, detail: detail)
        }
        let answered = refusal.errno == EACCES ? "EACCES" : refusal.errno == EPERM ? "EPERM" : SystemError.text(refusal.errno)
        diagnostics.report(
            "blocked \(refusal.what) from pid \(pid) (\(refusal.reason)); answered \(answered)"
                + SyscallReporter.suffix(SyscallReporter.howToAllow(refusal), learn: nil))
    }

    /// The profile line that would let a refused call through: its name in `sandbox.syscalls.allow`
    /// (the exceptions to a deny list, or more of an allow list), `sandbox.network: all` for an
    /// internet socket under `network: none`; nil for what no profile allows (namespace clone
    /// flags, other socket families, TIOCSTI, personality, exec of a descriptor).
    static func howToAllow(_ name: String, args: [UInt64], profile: String?) -> String? {
        let extends = profile.map { " in a profile that extends \($0)" } ?? ""
        switch name {
        case "socket":
            let family = args.first.map { $0 & 0xFFFF_FFFF } ?? 0
            return family == UInt64(AF_INET) || family == UInt64(AF_INET6) ? "sandbox.network: all" + extends : nil
        case "clone", "clone3", "ioctl", "personality", "execveat":
            return nil
        default:
            return "sandbox.syscalls: {allow: [\(name)]}" + extends
        }
    }

    /// The profile line that would let a gated call through: its socket's path under
    /// `sandbox.filesystem.unix`, its port in the connect list; nil for the refusals no profile
    /// lifts (fileless exec, abstract sockets, forged credentials).
    static func howToAllow(_ refusal: SyscallGate.Refusal) -> String? {
        if refusal.bypassesProxy {
            return "connect through the proxy named in HTTPS_PROXY/HTTP_PROXY, to a host in sandbox.network.allow (a direct connection is never let out)"
        }
        if let port = refusal.port { return "add \(port) to sandbox.network.connect" }
        guard let path = refusal.path else { return nil }
        return "sandbox.filesystem.unix: [\(Decision.yamlQuoted(path))]"
    }

    /// `; to allow: ADVICE` for a report line (with the learn hint for a blocked syscall), or
    /// `; no profile allows this` when there is none.
    static func suffix(_ advice: String?, learn profile: String?) -> String {
        guard let advice else { return "; no profile allows this" }
        let learn = profile.map { " (brig learn --profile \($0) -- COMMAND lists all a run needs)" } ?? ""
        return "; to allow: \(advice)" + learn
    }

    /// Blocked calls so far, by name.
    public var blocked: [String: Int] { counts.withLock { $0 } }

    /// Blocked calls so far, and how many of them have no record of their own.
    public var totals: BlockedSyscallTotals {
        let byName = blocked
        return BlockedSyscallTotals(bySyscall: byName, notRecorded: max(0, byName.values.reduce(0, +) - SyscallReporter.recordedInFull))
    }

    static func arity(_ name: String) -> Int {
        switch name {
        case "socket", "ioctl", "personality", "clone", "unshare", "setns", "mount", "ptrace", "bpf", "keyctl": return name == "socket" || name == "mount" ? 3 : 2
        default: return 3
        }
    }
}
