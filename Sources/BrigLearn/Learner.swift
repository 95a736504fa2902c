import BrigJSONRPC
public import BrigPlan
public import BrigPolicy
public import BrigProfile
public import BrigRelay
public import BrigSandbox
import BrigSystem
import Synchronization

#if canImport(Glibc)
@preconcurrency import Glibc
#endif

/// Runs one session in watch mode: the base profile's confinement without Landlock and with a
/// seccomp filter that refuses nothing but sends the revealing calls (and those the base would
/// deny) to the watcher; the message policy in permissive mode; every message observed.
public enum Learner {
    public struct Request: Sendable {
        public var spec: SpawnSpec
        public var plan: SandboxPlan
        public var relay: RelayConfiguration
        public var policy: PolicyGate?
        public var resources: Session.Resources
        /// A transcript to send instead of relaying a host (one JSON-RPC message per line).
        public var replay: [[UInt8]]?
        public var replayTimeoutSeconds: Double = 30

        public init(
            spec: SpawnSpec, plan: SandboxPlan, relay: RelayConfiguration, policy: PolicyGate?,
            resources: Session.Resources, replay: [[UInt8]]?
        ) {
            self.spec = spec
            self.plan = plan
            self.relay = relay
            self.policy = policy
            self.resources = resources
            self.replay = replay
        }
    }

    /// Learn mode's egress rules: every name and address, any port (the run is watched, not confined).
    public static let everything: EgressRules = {
        let rules = ["*:*", "0.0.0.0/0:*", "[::/0]:*"].compactMap { try? HostRule.parse($0) }
        return EgressRules(allow: rules, deny: [])
    }()

    /// The calls to watch for a base profile: the revealing ones, and whatever the base refuses.
    public static func watchedCalls(for plan: SandboxPlan) -> [String] {
        var names = SyscallWatcher.revealing
        if plan.profile.sandbox.syscallDefault == .allow {
            names += plan.seccompNames
        } else {
            let allowed = Set(plan.seccompNames)
            for nr in Int32(0)..<Int32(512) {
                let name = SeccompProgram.name(of: nr)
                if !name.hasPrefix("syscall#") && !allowed.contains(name) { names.append(name) }
            }
        }
        return names
    }

    /// Runs the session; returns the child's exit code and what it used. The request's resources
    /// are the session's from here: released when it ends, and on every error before it starts.
    public static func run(_ request: Request) throws(SpawnError) -> (Int32, Observations) {
        let observations = Observations()
        var spec = request.spec
        var confinement = request.plan.confinement
        var resources = request.resources
        let watch: SeccompProgram
        do {
            watch = try SeccompProgram.watch(watchedCalls(for: request.plan))
        } catch {
            resources.release()
            throw SpawnError(errno: EINVAL, stage: .seccomp)
        }
        confinement.seccompProgram = watch.main
        confinement.seccompHardening = []
        confinement.seccompListener = true
        confinement.watchOnly = true
        if confinement.landlockRuleset >= 0 { close(confinement.landlockRuleset) }
        confinement.landlockRuleset = -1
        // Watching means seeing what the server reaches for in the host's tree: no view either.
        if let view = confinement.view {
            confinement.namespaceFlags &= ~view.cloneFlags
            confinement.view = nil
        }
        // The same for the network: under an allow-list the proxy runs in brig's namespace and
        // lets everything through, so the hosts the server reaches are seen by name.
        var egressRules: EgressRules?
        if request.plan.egress != nil {
            confinement.namespaceFlags &= ~NamespaceView.newNet
            confinement.egressPort = 0
            egressRules = Learner.everything
        }
        spec.confinement = confinement
        resources.landlockRuleset = -1

        let baseDenied = Set(request.plan.profile.sandbox.syscallDefault == .allow ? request.plan.seccompNames : [])
        let answered = Mutex<Set<String>>([])
        var hooks = Session.Hooks()
        hooks.listener = { fd in
            SyscallWatcher(listener: fd, observations: observations, baseDenied: baseDenied).start()
        }
        hooks.egress = { observations.connection($0) }
        hooks.observer = { view, line, direction in
            observations.message(view, line: line, direction: direction)
            if direction == .serverToHost, view.isResponse, let id = view.id { answered.withLock { _ = $0.insert(id) } }
        }
        var hostInput: Int32 = 0
        var hostOutput: Int32 = 1
        /// The replay's descriptors, closed here when the session does not start (it throws only
        /// before the relay starts, so before `started` hands the write end to its thread).
        var replayDescriptors: [Int32] = []
        if let replay = request.replay {
            let pipe: (read: Int32, write: Int32)
            do {
                pipe = try POSIX.pipe()
            } catch {
                resources.release()
                throw error
            }
            hostInput = pipe.read
            hostOutput = open("/dev/null", O_WRONLY | O_CLOEXEC)
            guard hostOutput >= 0 else {
                let error = SpawnError(errno: errno, stage: .none)
                close(pipe.read)
                close(pipe.write)
                resources.release()
                throw error
            }
            replayDescriptors = [pipe.read, pipe.write, hostOutput]
            let writeEnd = pipe.write
            let timeout = request.replayTimeoutSeconds
            hooks.started = { _ in
                OSThread.start {
                    for line in replay {
                        var bytes = line
                        bytes.append(0x0A)
                        guard bytes.withUnsafeBytes({ write(writeEnd, $0.baseAddress, $0.count) }) == bytes.count else { break }
                        let id: String? = line.withUnsafeBufferPointer { buf in
                            if case .success(let v) = MessageView.parse(buf), v.kind == .request { return v.id }
                            return nil
                        }
                        guard let id else { continue }
                        let deadline = MonotonicClock.nanoseconds() + UInt64(timeout * 1e9)
                        while MonotonicClock.nanoseconds() < deadline, !answered.withLock({ $0.contains(id) }) {
                            usleep(2000)
                        }
                    }
                    close(writeEnd)  // the host's end of input: the normal shutdown follows
                }
            }
        }
        let session = Session(
            spec: spec, configuration: request.relay, resources: resources, policy: request.policy, hooks: hooks, egressRules: egressRules)
        do {
            let code = try session.run(hostInput: hostInput, hostOutput: hostOutput)
            return (code, observations)
        } catch {
            // The session released the resources; the replay never started.
            for fd in replayDescriptors { close(fd) }
            throw error
        }
    }
}
