public import BrigAudit
public import BrigContent
public import BrigEgress
import BrigJSONRPC
public import BrigPlan
public import BrigPolicy
public import BrigProfile
public import BrigSandbox
import BrigSystem
import Synchronization

#if canImport(Glibc)
@preconcurrency import Glibc
#endif

/// One run of a server under brig: spawn, relay, supervise, exit with the server's code.
///
/// The main thread is the supervisor: it spawned the child (so PR_SET_PDEATHSIG, which follows
/// the spawning *thread*, lasts as long as brig) and then waits in sigtimedwait(2) for the
/// signals brig blocks process-wide: SIGCHLD, the forwarded SIGINT/SIGTERM/SIGHUP/SIGQUIT, and
/// SIGUSR1, which the relay threads raise when one of their inputs ends.
public final class Session: Sendable {
    public let spec: SpawnSpec
    public let configuration: RelayConfiguration
    public let resources: Resources

    /// What the session owns besides the child: released when it ends, whatever happens.
    public struct Resources: Sendable {
        public var landlockRuleset: Int32 = -1
        public var cgroup: SessionCgroup?
        public var temporaryDirectory: PrivateDirectory?
        /// The egress proxy's socket in brig's namespace (`SandboxPlan.Egress.hostListener`):
        /// the session closes it once it knows which socket the proxy uses; -1 when none.
        public var egressListener: Int32 = -1
        public init() {}

        func releaseBeforeRelay() {
            if landlockRuleset >= 0 { close(landlockRuleset) }
        }

        func releaseAtEnd() {
            cgroup?.remove()
            temporaryDirectory?.remove()
        }

        /// All of it, for an owner that never started a session (a failure before spawn).
        public func release() {
            releaseBeforeRelay()
            if egressListener >= 0 { close(egressListener) }
            releaseAtEnd()
        }
    }

    private let hostClosed = Atomic<Bool>(false)
    private let serverClosed = Atomic<Bool>(false)

    public let policy: PolicyGate?
    /// Learn mode: who answers the seccomp listener (default: the blocked-call reporter), what
    /// watches every message, and a hook that sees the relay once it runs (replays use it).
    public let hooks: Hooks

    /// The audit trail and the session-start record (the server's pid is filled in at spawn).
    public let audit: AuditLog?
    public let auditStart: SessionInfo?
    public let content: ContentGuard?
    /// The allow-list of hosts the egress proxy applies (`sandbox.network.allow`), or nil.
    public let egressRules: EgressRules?

    public struct Hooks: Sendable {
        public var listener: (@Sendable (Int32) -> Void)?
        public var observer: Relay.Observer?
        public var started: (@Sendable (Relay) -> Void)?
        /// Start-up phases, for `BRIG_TRACE_STARTUP`.
        public var phase: (@Sendable (String) -> Void)?
        /// Learn mode: every connection the egress proxy handled.
        public var egress: (@Sendable (EgressConnection) -> Void)?
        public init() {}
    }

    public init(
        spec: SpawnSpec, configuration: RelayConfiguration, resources: Resources = Resources(), policy: PolicyGate? = nil,
        hooks: Hooks = Hooks(), audit: AuditLog? = nil, auditStart: SessionInfo? = nil,
        content: ContentGuard? = nil, egressRules: EgressRules? = nil
    ) {
        self.egressRules = egressRules
        self.content = content
        self.audit = audit
        self.auditStart = auditStart
        self.policy = policy
        self.hooks = hooks
        self.spec = spec
        self.configuration = configuration
        self.resources = resources
    }

    /// The signals brig handles synchronously; block them before any thread starts.
    public static func blockSignals() {
        var set = Session.handledSignals()
        pthread_sigmask(SIG_BLOCK, &set, nil)
        _ = Glibc.signal(SIGPIPE, SIG_IGN)
    }

    static func handledSignals() -> sigset_t {
        var set = sigset_t()
        sigemptyset(&set)
        for s in [SIGCHLD, SIGINT, SIGTERM, SIGHUP, SIGQUIT, SIGUSR1] { sigaddset(&set, s) }
        return set
    }

    /// Runs the session; returns brig's exit code (the child's, 128+N for signal N, 125/126/127).
    public func run(hostInput: Int32 = 0, hostOutput: Int32 = 1) throws(SpawnError) -> Int32 {
        Session.blockSignals()
        let toServerPipe: (read: Int32, write: Int32)
        let fromServerPipe: (read: Int32, write: Int32)
        do throws(SpawnError) {
            toServerPipe = try POSIX.pipe()
            do {
                fromServerPipe = try POSIX.pipe()
            } catch {
                close(toServerPipe.read)
                close(toServerPipe.write)
                throw error
            }
        } catch {
            resources.release()
            throw error
        }
        POSIX.setPipeSize(toServerPipe.write, bytes: 1 << 20)
        POSIX.setPipeSize(fromServerPipe.write, bytes: 1 << 20)
        // The host's pipes too, when they are pipes (F_SETPIPE_SZ fails harmlessly otherwise):
        // a 1 MiB message then crosses in one write instead of sixteen wake-ups.
        POSIX.setPipeSize(hostOutput, bytes: 1 << 20)
        POSIX.setPipeSize(hostInput, bytes: 1 << 20)
        var childSpec = spec
        childSpec.stdin = toServerPipe.read
        childSpec.stdout = fromServerPipe.write
        let child: ChildProcess
        do {
            hooks.phase?("spawning")
            child = try ChildProcess.spawn(childSpec)
            hooks.phase?("server exec'd")
        } catch {
            for fd in [toServerPipe.read, toServerPipe.write, fromServerPipe.read, fromServerPipe.write] { close(fd) }
            resources.release()
            throw error
        }
        close(toServerPipe.read)
        close(fromServerPipe.write)
        resources.releaseBeforeRelay()
        let started = MonotonicClock.nanoseconds()
        if let refusal = child.viewRefusal {
            Diagnostics.shared.report("the kernel refused the namespace view (\(refusal)); the server runs under Landlock alone")
        }
        if let audit, var info = auditStart {
            info.serverPID = child.pid
            if let refusal = child.viewRefusal {
                info.sandbox = info.sandbox.map { $0.hasPrefix("view: ") ? "not enforced: view refused by the kernel (\(refusal)); Landlock alone" : $0 }
            }
            audit.sessionStart(info)
        }
        var reporter: SyscallReporter?
        if child.seccompListener >= 0 {
            if let handler = hooks.listener {
                handler(child.seccompListener)
            } else {
                reporter = SyscallReporter(
                    listener: child.seccompListener, audit: audit,
                    gate: childSpec.confinement.gateRules.map(SyscallGate.init),
                    profileName: configuration.profileName)
                reporter?.start()
            }
        }

        let relay = Relay(
            configuration: configuration, toHost: OutputChannel(fd: hostOutput),
            toServer: OutputChannel(fd: toServerPipe.write), policy: policy, observer: hooks.observer,
            audit: audit, content: content)
        hooks.started?(relay)
        let proxy = startEgress(child: child, relay: relay)
        let serverOutput = fromServerPipe.read
        OSThread.start { [self] in
            relay.pump(from: hostInput, direction: .hostToServer)
            relay.toServer.close()  // the server sees end of input, as the spec's shutdown says
            hostClosed.store(true, ordering: .releasing)
            kill(getpid(), SIGUSR1)
        }
        OSThread.start { [self] in
            relay.pump(from: serverOutput, direction: .serverToHost)
            close(serverOutput)
            serverClosed.store(true, ordering: .releasing)
            kill(getpid(), SIGUSR1)
        }
        var (status, usage) = supervise(pid: child.pid)
        if child.statusFD >= 0 {
            // The pid namespace's init exits 128+N for a server killed by signal N; the server's
            // own wait status tells the signal.
            var serverStatus: Int32 = 0
            if read(child.statusFD, &serverStatus, 4) == 4 { status = serverStatus }
            close(child.statusFD)
        }
        drainServerOutput()
        // Whatever is left of the server's process group goes with it.
        if spec.newSession { kill(-child.pid, SIGKILL) }
        // Requests the server never answered get an error, so the host does not wait forever.
        relay.failPendingHostRequests(reason: "the server exited (\(Session.describe(status))) before answering")
        // Open connections end with the server; each gets its record before the session's end.
        // (The proxy owns its listener and closes it.)
        proxy?.stop()
        if let audit {
            let signal = status & 0x7f
            func micros(_ t: timeval) -> UInt64 { UInt64(max(0, t.tv_sec)) * 1_000_000 + UInt64(max(0, t.tv_usec)) }
            audit.childExit(
                ExitInfo(
                    pid: child.pid, code: signal == 0 ? (status >> 8) & 0xff : nil, signal: signal == 0 ? nil : signal,
                    userCPUMicros: micros(usage.ru_utime), systemCPUMicros: micros(usage.ru_stime),
                    maxRSSKiB: UInt64(max(0, usage.ru_maxrss)), wallMicros: (MonotonicClock.nanoseconds() - started) / 1000))
            audit.close(blocked: reporter?.totals)
        }
        Diagnostics.shared.flushSuppressed()
        resources.releaseAtEnd()
        return Session.exitCode(status)
    }

    /// Starts the egress proxy on the socket in the server's network namespace, or on brig's own
    /// when the server shares brig's (no namespace could be made, and the gate holds it). A proxy
    /// that cannot start leaves the server with no way out, which fails closed.
    private func startEgress(child: ChildProcess, relay: Relay) -> EgressProxy? {
        guard let egressRules else {
            // No rules, no proxy: a socket made anyway has no one to answer it.
            for fd in [child.egressListener, resources.egressListener] where fd >= 0 { close(fd) }
            return nil
        }
        let listener: Int32
        if child.egressListener >= 0 {
            listener = child.egressListener
            if resources.egressListener >= 0 { close(resources.egressListener) }
        } else {
            listener = resources.egressListener
        }
        guard listener >= 0 else { return nil }
        // From here the proxy owns `listener`, started or not.
        let watch = EgressWatch(audit: audit, diagnostics: Diagnostics.shared, observer: hooks.egress)
        let requests = relay.hostRequests
        let proxy = EgressProxy(
            listener: listener, rules: egressRules,
            cause: {
                requests.newest(preferring: MCPMethod.toolsCall).map { EgressCause(id: $0.id, method: $0.entry.method, tool: $0.entry.subject) }
            },
            finished: { watch.finished($0) })
        do {
            try proxy.start()
        } catch {
            Diagnostics.shared.report("the egress proxy could not start (\(error)); the server has no way out")
            proxy.stop()
        }
        return proxy
    }

    /// Waits for the child, forwarding signals and enforcing the shutdown sequence after host EOF.
    private func supervise(pid: pid_t) -> (Int32, rusage) {
        enum Phase { case running, closing, terminating, killed }
        var phase = Phase.running
        var deadline: UInt64 = 0
        var set = Session.handledSignals()
        while true {
            var status: Int32 = 0
            var usage = rusage()
            let reaped = wait4(pid, &status, WNOHANG, &usage)
            if reaped == pid { return (status, usage) }
            if reaped < 0 && errno == ECHILD { return (0, usage) }

            if phase == .running, hostClosed.load(ordering: .acquiring) {
                phase = .closing
                deadline = MonotonicClock.nanoseconds() + configuration.gracePeriodNanoseconds
            }
            let now = MonotonicClock.nanoseconds()
            if phase != .running && phase != .killed && now >= deadline {
                if phase == .closing {
                    Session.signalGroup(pid, SIGTERM)
                    phase = .terminating
                    deadline = now + configuration.killAfterNanoseconds
                } else {
                    Session.signalGroup(pid, SIGKILL)
                    phase = .killed
                }
                continue
            }
            let wait = (phase == .running || phase == .killed) ? 1_000_000_000 : min(deadline - now, 1_000_000_000)
            var timeout = timespec(tv_sec: Int(wait / 1_000_000_000), tv_nsec: Int(wait % 1_000_000_000))
            let sig = sigtimedwait(&set, nil, &timeout)
            switch sig {
            case SIGINT, SIGTERM, SIGHUP, SIGQUIT:
                Session.signalGroup(pid, sig)
            default:
                break  // SIGCHLD, SIGUSR1, timeout: the loop re-checks
            }
        }
    }

    /// Signals the child's whole process group (it leads a new session), so that a server behind
    /// a wrapper (`sh -c`, npx, uvx) gets the signal too; the child alone if that fails.
    static func signalGroup(_ pid: pid_t, _ sig: Int32) {
        if kill(-pid, sig) != 0 { kill(pid, sig) }
    }

    /// After the child exits, forward what it wrote before dying (bounded wait).
    private func drainServerOutput() {
        let deadline = MonotonicClock.nanoseconds() + configuration.drainNanoseconds
        var set = Session.handledSignals()
        while !serverClosed.load(ordering: .acquiring) {
            let now = MonotonicClock.nanoseconds()
            guard now < deadline else { return }
            let wait = min(deadline - now, 100_000_000)
            var timeout = timespec(tv_sec: 0, tv_nsec: Int(wait))
            _ = sigtimedwait(&set, nil, &timeout)
        }
    }

    static func describe(_ status: Int32) -> String {
        let termSignal = status & 0x7f
        return termSignal == 0 ? "exit code \((status >> 8) & 0xff)" : "signal \(termSignal)"
    }

    /// The child's exit code, or 128+N when it died of signal N.
    public static func exitCode(_ status: Int32) -> Int32 {
        let termSignal = status & 0x7f
        if termSignal == 0 { return (status >> 8) & 0xff }
        return 128 + termSignal
    }
}

/// Finds a command the way execvp would, so that a missing command is exit 127 before any fork.
public enum CommandResolver {
    public enum Failure: Error, Sendable {
        case notFound(String)
        case notExecutable(String)
    }

    /// Resolves `name` against `searchPath` (colon-separated) unless it contains a slash.
    public static func resolve(_ name: String, searchPath: String?, workingDirectory: String? = nil) throws(Failure) -> String {
        if name.contains("/") {
            var path = name
            if !name.hasPrefix("/"), let workingDirectory { path = workingDirectory + "/" + name }
            guard access(path, F_OK) == 0 else { throw .notFound(name) }
            guard isExecutableFile(path) else { throw .notExecutable(name) }
            return path
        }
        guard !name.isEmpty else { throw .notFound(name) }
        var sawNonExecutable = false
        for dir in (searchPath ?? "/usr/local/bin:/usr/bin:/bin").split(separator: ":", omittingEmptySubsequences: false) {
            let base = dir.isEmpty ? "." : String(dir)
            let candidate = base + "/" + name
            if access(candidate, F_OK) == 0 {
                if isExecutableFile(candidate) { return candidate }
                sawNonExecutable = true
            }
        }
        throw sawNonExecutable ? .notExecutable(name) : .notFound(name)
    }

    static func isExecutableFile(_ path: String) -> Bool {
        var st = stat()
        guard stat(path, &st) == 0 else { return false }
        return (st.st_mode & S_IFMT) == S_IFREG && access(path, X_OK) == 0
    }
}
