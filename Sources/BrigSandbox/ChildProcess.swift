import BrigSystem
internal import CBrigShim

#if canImport(Glibc)
@preconcurrency import Glibc
#endif

/// What brig starts and how: the command, its environment and descriptors, and the confinement
/// the child applies to itself between fork and exec.
public struct SpawnSpec: Sendable {
    public var executable: String
    public var arguments: [String]  // argv, including argv[0]
    public var environment: [String]  // "NAME=VALUE"
    public var workingDirectory: String?
    public var stdin: Int32
    public var stdout: Int32
    public var stderr: Int32
    public var newSession = true
    public var parentDeathSignal: Int32 = SIGKILL
    public var confinement = Confinement()

    public init(
        executable: String, arguments: [String], environment: [String], workingDirectory: String? = nil,
        stdin: Int32, stdout: Int32, stderr: Int32
    ) {
        self.executable = executable
        self.arguments = arguments
        self.environment = environment
        self.workingDirectory = workingDirectory
        self.stdin = stdin
        self.stdout = stdout
        self.stderr = stderr
    }
}

/// The confinement applied in the child, prepared in the parent.
public struct Confinement: Sendable {
    public struct ResourceLimit: Sendable, Equatable {
        public var resource: Int32
        public var soft: UInt64
        public var hard: UInt64
        public init(resource: Int32, soft: UInt64, hard: UInt64) {
            self.resource = resource
            self.soft = soft
            self.hard = hard
        }
    }

    public var resourceLimits: [ResourceLimit] = []
    /// CLONE_NEW* flags (root only): pid (with a private /proc), ipc, uts, net (loopback only).
    public var namespaceFlags: UInt = 0
    /// Open `cgroup.procs` the child joins first, or -1.
    public var cgroupProcsFD: Int32 = -1
    /// A second one (cgroup v1 keeps memory and pids in separate hierarchies), or -1.
    public var cgroupProcsFD2: Int32 = -1
    /// The filesystem view (a mount namespace holding only the granted paths), or nil.
    public var view: NamespaceView?
    /// When the kernel refuses the view's namespaces at clone time, start without them
    /// (Landlock alone) instead of failing; `ChildProcess.usedView` tells which ran.
    public var viewOptional = true
    /// Switch to this uid/gid (root only).
    public var user: (uid: UInt32, gid: UInt32)?
    public var dropCapabilities = false
    public var keptCapabilities: UInt64 = 0
    public var lockSecurebits = false
    public var noNewPrivileges = false
    /// A Landlock ruleset fd to enforce, or -1.
    public var landlockRuleset: Int32 = -1
    /// A compiled seccomp program (`struct sock_filter` array bytes), or empty.
    public var seccompProgram: [UInt8] = []
    /// A second program loaded before the first (allow-list mode's conditional denials), or empty.
    public var seccompHardening: [UInt8] = []
    /// Ask the kernel for a user-notification listener and hand it to brig.
    public var seccompListener = false
    /// Watch mode (learning): notified calls are observed and let through, never refused.
    public var watchOnly = false
    /// The socket and memfd gate's rules, when the listener gates calls (`SyscallGate`).
    public var gateRules: SyscallGate.Rules?
    /// Egress through brig's proxy (`sandbox.network.allow`): with CLONE_NEWNET the child makes
    /// a socket listening on 127.0.0.1:`egressPort` in its namespace and hands it to brig
    /// (`ChildProcess.egressListener`); 0: none.
    public var egressPort: UInt16 = 0

    public init() {}
}

/// A started child.
public struct ChildProcess: Sendable {
    public let pid: Int32
    /// The seccomp user-notification fd, when one was asked for; else -1.
    public let seccompListener: Int32
    /// With a pid namespace: where the namespace's init writes the server's wait status (the
    /// init's own exit can only say 128+N for a signal); else -1.
    public var statusFD: Int32 = -1
    /// Whether the child runs in the namespace view (false: none was asked for, or the kernel
    /// refused it and the child runs under Landlock alone).
    public var usedView = false
    /// Why the kernel refused the view, when it did.
    public var viewRefusal: String?
    /// The egress proxy's listening socket in the child's network namespace, or -1 (none was
    /// asked for, or the kernel refused the namespaces and the child shares brig's).
    public var egressListener: Int32 = -1
}

/// Why a child could not be started.
public struct SpawnError: Error, Sendable, CustomStringConvertible {
    public enum Stage: Int32, Sendable {
        case none = 0, signals, stdio, session, pdeathsig, fds, rlimits, chdir, securebits, ids, caps, noNewPrivs,
            landlock, seccomp, listener, exec, cgroup, namespaces, clone, view, initProcess, egress
    }
    public var errno: Int32
    public var stage: Stage

    public init(errno: Int32, stage: Stage) {
        self.errno = errno
        self.stage = stage
    }

    /// 127 for a command that is not there, 126 for one that cannot be run, 125 for brig's own.
    public var exitCode: Int32 {
        guard stage == .exec else { return 125 }
        return errno == ENOENT ? 127 : 126
    }

    public var description: String {
        let reason = SystemError.text(self.errno)
        switch stage {
        case .exec: return reason
        default: return "could not confine the child (\(stage)): \(reason)"
        }
    }
}

extension ChildProcess {
    /// Forks and execs under `spec`. The child runs only the C shim until exec. When the
    /// kernel refuses the view's namespaces (Ubuntu's AppArmor restriction on unprivileged user
    /// namespaces, a container without them) and the view is optional, the child is started
    /// again without it.
    public static func spawn(_ spec: SpawnSpec) throws(SpawnError) -> ChildProcess {
        do {
            return try spawnOnce(spec)
        } catch  where error.stage == .clone && spec.confinement.view != nil && spec.confinement.viewOptional {
            var fallback = spec
            fallback.confinement.view = nil
            fallback.confinement.namespaceFlags = 0
            var child = try spawnOnce(fallback)
            child.viewRefusal = SystemError.text(error.errno)
            return child
        }
    }

    static func spawnOnce(_ spec: SpawnSpec) throws(SpawnError) -> ChildProcess {
        var argv = spec.arguments.map { strdup($0) }
        argv.append(nil)
        var envp = spec.environment.map { strdup($0) }
        envp.append(nil)
        let path = strdup(spec.executable)
        let cwd = spec.workingDirectory.flatMap { strdup($0) }
        defer {
            for p in argv { free(p) }
            for p in envp { free(p) }
            free(path)
            if let cwd { free(cwd) }
        }
        let limits = spec.confinement.resourceLimits.map {
            brig_rlimit(resource: $0.resource, soft: $0.soft, hard: $0.hard)
        }
        let c = spec.confinement
        let view = c.view
        let viewStrings = (view?.operations ?? []).map { (strdup($0.source), strdup($0.target)) }
        let viewCwd = view?.workingDirectory.flatMap { strdup($0) }
        let pidMax = view?.pidMax.flatMap { strdup(String($0)) }
        defer { if let pidMax { free(pidMax) } }
        defer {
            for (a, b) in viewStrings { free(a); free(b) }
            if let viewCwd { free(viewCwd) }
        }
        let ops: [brig_view_op] = zip(view?.operations ?? [], viewStrings).map { op, strings in
            brig_view_op(kind: op.kind.rawValue, flags: op.flags, source: UnsafePointer(strings.0), target: UnsafePointer(strings.1))
        }
        let needsStatus = c.namespaceFlags & NamespaceView.newPID != 0
        var statusPipe: (read: Int32, write: Int32) = (-1, -1)
        if needsStatus { statusPipe = try POSIX.pipe() }
        var pid: pid_t = -1
        var stage: Int32 = 0
        var listener: Int32 = -1
        var egress: Int32 = -1
        let rc: Int32 = argv.withUnsafeBufferPointer { argvBuf in
            envp.withUnsafeBufferPointer { envpBuf in
                limits.withUnsafeBufferPointer { limitBuf in
                    c.seccompProgram.withUnsafeBytes { bpf in
                        c.seccompHardening.withUnsafeBytes { bpf2 in
                            var config = brig_spawn_config()
                            config.path = path.map { UnsafePointer($0) }
                            config.argv = argvBuf.baseAddress
                            config.envp = envpBuf.baseAddress
                            config.cwd = cwd.map { UnsafePointer($0) }
                            config.stdin_fd = spec.stdin
                            config.stdout_fd = spec.stdout
                            config.stderr_fd = spec.stderr
                            config.new_session = spec.newSession ? 1 : 0
                            config.clone_flags = c.namespaceFlags
                            config.pdeathsig = spec.parentDeathSignal
                            config.rlimits = limitBuf.baseAddress
                            config.rlimit_count = Int32(limitBuf.count)
                            config.cgroup_procs_fd = c.cgroupProcsFD
                            config.cgroup_procs_fd2 = c.cgroupProcsFD2
                            config.status_fd = statusPipe.write
                            if c.namespaceFlags & NamespaceView.newNet != 0 { config.egress_port = c.egressPort }
                            if let view {
                                config.user_namespace = view.userNamespace ? 1 : 0
                                config.outer_uid = getuid()
                                config.outer_gid = getgid()
                            }
                            if let user = c.user {
                                config.set_ids = 1
                                config.uid = user.uid
                                config.gid = user.gid
                            }
                            config.drop_caps = c.dropCapabilities ? 1 : 0
                            config.cap_keep = c.keptCapabilities
                            config.cap_last = Capabilities.lastCapability
                            config.lock_securebits = c.lockSecurebits ? 1 : 0
                            config.no_new_privs = c.noNewPrivileges ? 1 : 0
                            config.landlock_fd = c.landlockRuleset
                            config.landlock_proc_self = c.landlockRuleset >= 0 ? Landlock.procSelfRights : 0
                            if !c.seccompProgram.isEmpty {
                                config.bpf = bpf.baseAddress
                                config.bpf_len = UInt16(c.seccompProgram.count / 8)
                                config.seccomp_listener = c.seccompListener ? 1 : 0
                                config.spawn_notify_continue = c.watchOnly ? 1 : 0
                            }
                            if !c.seccompHardening.isEmpty {
                                config.bpf2 = bpf2.baseAddress
                                config.bpf2_len = UInt16(c.seccompHardening.count / 8)
                            }
                            return ops.withUnsafeBufferPointer { opsBuf in
                                if !opsBuf.isEmpty {
                                    config.view_ops = opsBuf.baseAddress
                                    config.view_op_count = Int32(opsBuf.count)
                                    config.view_cwd = viewCwd.map { UnsafePointer($0) }
                                    config.pid_max = pidMax.map { UnsafePointer($0) }
                                }
                                return brig_spawn(&config, &pid, &stage, &listener, &egress)
                            }
                        }
                    }
                }
            }
        }
        if statusPipe.write >= 0 { close(statusPipe.write) }
        guard rc == 0 else {
            if statusPipe.read >= 0 { close(statusPipe.read) }
            throw SpawnError(errno: -rc, stage: SpawnError.Stage(rawValue: stage) ?? .none)
        }
        var child = ChildProcess(pid: pid, seccompListener: listener)
        child.statusFD = statusPipe.read
        child.egressListener = egress
        child.usedView = view != nil
        return child
    }
}

/// Capability facts of this kernel and process.
public enum Capabilities {
    /// The highest capability number the kernel knows (/proc/sys/kernel/cap_last_cap).
    public static let lastCapability: Int32 = {
        let fd = open("/proc/sys/kernel/cap_last_cap", O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else { return 40 }
        defer { close(fd) }
        var buf = [UInt8](repeating: 0, count: 16)
        let n = read(fd, &buf, 15)
        guard n > 0 else { return 40 }
        let text = String(decoding: buf[0..<n], as: UTF8.self).trimmingWhitespace
        return Int32(text) ?? 40
    }()

    /// Effective, permitted and inheritable sets of this process.
    public static func current() -> (effective: UInt64, permitted: UInt64, inheritable: UInt64) {
        var e: UInt64 = 0, p: UInt64 = 0, i: UInt64 = 0
        _ = brig_capget(&e, &p, &i)
        return (e, p, i)
    }

    /// Whether `cap` is in this process's bounding set.
    public static func inBoundingSet(_ cap: Int32) -> Bool { brig_capbset_read(cap) == 1 }
}

/// Process-wide settings for brig itself.
public enum SelfProtection {
    /// `PR_SET_DUMPABLE 0`: the child cannot read brig's memory or environment through /proc.
    @discardableResult public static func makeNonDumpable() -> Bool { brig_set_dumpable(0) == 0 }
}

/// Thin wrappers other modules need without importing the C shim.
public enum POSIX {
    /// `pipe2(O_CLOEXEC)`: (read end, write end).
    public static func pipe() throws(SpawnError) -> (read: Int32, write: Int32) {
        var fds: [Int32] = [-1, -1]
        let rc = brig_pipe_cloexec(&fds)
        guard rc == 0 else { throw SpawnError(errno: -rc, stage: .none) }
        return (fds[0], fds[1])
    }

    /// Grows a pipe's kernel buffer (best effort: the size is capped by /proc/sys/fs/pipe-max-size).
    public static func setPipeSize(_ fd: Int32, bytes: Int32) {
        _ = brig_set_pipe_size(fd, bytes)
    }
}

/// One seccomp user notification, flattened.
public struct brig_notification_swift: Sendable {
    public var id: UInt64 = 0
    public var pid: UInt32 = 0
    public var nr: Int32 = 0
    public var args: [UInt64] = []
    public init() {}
}

/// The seccomp user-notification calls brig's listener makes.
public enum Seccomp {
    /// Blocks for the next notification; 0 or -errno.
    public static func receive(_ listener: Int32, _ out: inout brig_notification_swift) -> Int32 {
        var n = brig_notification()
        let rc = brig_seccomp_receive(listener, &n)
        guard rc == 0 else { return rc }
        out.id = n.id
        out.pid = n.pid
        out.nr = n.nr
        out.args = [n.args.0, n.args.1, n.args.2, n.args.3, n.args.4, n.args.5]
        return 0
    }

    /// Fails the notified call with `error`.
    public static func respond(_ listener: Int32, id: UInt64, error: Int32) -> Int32 {
        brig_seccomp_respond(listener, id, error, 0)
    }
}

extension Seccomp {
    /// Lets the notified call run as if it had not been intercepted (watch mode only).
    public static func continueCall(_ listener: Int32, id: UInt64) -> Int32 {
        brig_seccomp_respond(listener, id, 0, 1)
    }
}

/// Reading another process's memory (learn mode reads the paths and addresses a call names).
public enum Memory {
    /// `process_vm_readv`; returns bytes read, or a negative errno.
    public static func read(pid: Int32, address: UInt64, into buffer: UnsafeMutableRawBufferPointer) -> Int {
        Int(brig_read_process_memory(pid, address, buffer.baseAddress, UInt(buffer.count)))
    }
}
