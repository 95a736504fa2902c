public import BrigProfile
public import BrigSandbox
import BrigSystem

#if canImport(Glibc)
@preconcurrency import Glibc
#endif

/// A profile turned into what the child is started with: the confinement, the environment, and
/// a readable account of both (what `brig check` prints). Built in the parent before fork.
public struct SandboxPlan: Sendable {
    public var profile: Profile
    public var features: KernelFeatures
    public var confinement = Confinement()
    public var environment: [String] = []
    /// Injected secrets by name, remembered by value so later layers can redact them.
    public var secretValues: [String: String] = [:]
    public var commandGrants: [CommandGrants.Grant] = []
    /// Paths named by the server command's arguments, granted (and those refused).
    public var argumentGrants: ArgumentGrants?
    /// The working-directory decision, when the caller made one.
    public var workingDirectory: WorkingDirectoryDecision?
    /// The namespace view the child starts in, or nil (Landlock alone).
    public var view: NamespaceView?
    public var landlock: Landlock.Ruleset?
    public var seccompNames: [String] = []
    public var cgroup: SessionCgroup?
    /// What is enforced, one line each, and what is not and why.
    public var enforced: [String] = []
    public var notEnforced: [String] = []
    /// Egress through brig's proxy, with an allow-list of hosts (`sandbox.network.allow`).
    public var egress: Egress?
    /// Write grants under `$HOME` that do not exist yet (a tool's cache on a fresh machine:
    /// uv fails when it cannot create `~/.cache/uv`, and nothing of a missing path is in the
    /// view): `acquire` creates them, 0700, before the child starts. Empty when brig switches
    /// user (the directories would be brig's, in brig's home) and once `acquire` made them.
    public var missingWriteGrants: [String] = []

    /// How the server reaches the network under an allow-list: only through brig's proxy on
    /// 127.0.0.1:`port`, kept to it by its own network namespace (loopback only) and, where the
    /// kernel has seccomp user notification, by the gate (every other address refused).
    public struct Egress: Sendable {
        public var rules: EgressRules
        /// The child gets a network namespace of its own (CLONE_NEWNET), where the proxy's
        /// listening socket is made; false: it shares brig's, and the gate alone holds it.
        public var namespace: Bool
        /// Whether the seccomp gate refuses every address but the proxy's.
        public var gated: Bool
        /// The proxy's socket on 127.0.0.1 in brig's namespace (made by `acquire`; the session
        /// uses it when the child has no namespace of its own), else -1.
        public var hostListener: Int32 = -1
        /// The proxy's port (the same in either namespace), 0 until `acquire`.
        public var port: UInt16 = 0
        /// The environment's placeholder until `acquire` chose the port.
        static let placeholder = "http://127.0.0.1:<port chosen at start>"
        /// The variables that point clients at the proxy (both cases; NO_PROXY empty, since the
        /// server's loopback is not the host's).
        static let proxyVariables = ["HTTPS_PROXY", "HTTP_PROXY", "ALL_PROXY", "https_proxy", "http_proxy", "all_proxy"]
        static let noProxyVariables = ["NO_PROXY", "no_proxy"]
    }

    /// What `acquire` must still open, create or read; empty once it has.
    struct Pending: Sendable {
        /// The view's grants, to plan it again once `missingWriteGrants` exist.
        var viewGrants: [NamespaceView.Grant] = []
        var landlockRules: Landlock.Rules?
        var cgroup: (pids: UInt64?, memory: UInt64?, line: String)?
        var secrets: [(name: String, file: String)] = []
        var isEmpty: Bool { landlockRules == nil && cgroup == nil && secrets.isEmpty }
    }
    var pending = Pending()

    /// The plan, computed from the profile, the kernel's features and the host alone: nothing is
    /// created, opened or read (what `brig check` prints, and what tests call). A secret's value
    /// stands as `<secret from FILE>` until `acquire`.
    public static func plan(
        profile: Profile, executable: String?, arguments: [String], context: ProfileContext,
        hostEnvironment: [String: String], features: KernelFeatures = .probe(),
        safety: GrantSafety? = nil, workingDirectory: WorkingDirectoryDecision? = nil
    ) throws(SandboxError) -> SandboxPlan {
        var plan = SandboxPlan(profile: profile, features: features)
        plan.workingDirectory = workingDirectory
        if let workingDirectory { plan.enforced.append(workingDirectory.summary) }
        let sandbox = profile.sandbox
        let root = geteuid() == 0
        let safety = safety ?? GrantSafety(home: context.home, stateDirectories: [])

        // Requirements: a missing kernel feature is an error, never a silent downgrade.
        for feature in sandbox.require where !features.provides(feature) {
            throw SandboxError("profile \(profile.name) requires \(feature.rawValue), which this kernel or process does not provide")
        }
        var switchesUser = false
        if root, let user = sandbox.user, user != .auto, user != .keep {
            guard let ids = resolveUser(user) else { throw SandboxError("sandbox.user: unknown user '\(user)'") }
            plan.confinement.user = ids
            switchesUser = ids.uid != 0
            plan.enforced.append("user: runs as uid \(ids.uid), gid \(ids.gid)")
        }
        if root && !switchesUser && features.landlockABI < 1 {
            throw SandboxError("brig runs as root and this kernel has no Landlock: the child would own every root file. Set sandbox.user to an unprivileged user")
        }

        // Command grants (what the command itself needs to start).
        if let executable {
            let grants = CommandGrants(
                executable: executable, arguments: arguments, home: context.home,
                searchPath: hostEnvironment["PATH"], workingDirectory: context.workdir)
            plan.commandGrants = grants.grants
            if sandbox.grantArguments != .off {
                let found = ArgumentGrants(
                    arguments: Array(arguments.dropFirst()), workingDirectory: context.workdir,
                    home: context.home, safety: safety, allowWrite: sandbox.grantArguments == .readWrite)
                plan.argumentGrants = found
                for g in found.grants {
                    plan.enforced.append("argument grant: \(g.path) \(g.write ? "read+write" : "read") (from \(g.argument))")
                }
                for s in found.skipped {
                    plan.enforced.append("argument not granted: \(s.path) (from \(s.argument)): \(s.refusal)")
                }
            }
        }

        // seccomp.
        if features.seccomp {
            var s = SeccompProgram.Settings()
            s.mode = sandbox.syscallDefault == .deny ? .allowList : .denyList
            s.deny = sandbox.denySyscalls
            s.allow = sandbox.allowSyscalls
            s.killOnDeny = sandbox.denyAction == .kill
            s.report = features.seccompNotify && !s.killOnDeny
            if case .none = sandbox.network { s.denyInternet = true }
            s.gate = features.seccompNotify
            s.refuseDescriptorExec = true
            s.refuseExecutableMemfd = true
            let program = try SeccompProgram.compile(s)
            plan.seccompNames = program.names
            plan.confinement.seccompProgram = program.main
            plan.confinement.seccompHardening = program.hardening
            plan.confinement.seccompListener = s.report || s.gate
            plan.addGate(program.gated, sandbox: sandbox, user: switchesUser ? plan.confinement.user : nil)
            plan.enforced.append(
                "seccomp: \(s.mode == .denyList ? "deny-list" : "allow-list") of \(program.names.count) calls, "
                    + "\(s.killOnDeny ? "kill" : "EPERM")\(s.report ? ", each blocked call reported" : ""); i386/x32 entry points killed; "
                    + "clone3 -> ENOSYS; namespace clone flags, socket families, TIOCSTI/TIOCLINUX, personality refused")
        } else {
            plan.notEnforced.append("seccomp: not available on this kernel")
        }

        // Capabilities and privileges.
        var keep: UInt64 = 0
        for capability in sandbox.capabilities { keep |= 1 << UInt64(capability.number) }
        plan.confinement.dropCapabilities = true
        plan.confinement.keptCapabilities = keep
        plan.confinement.lockSecurebits = root && features.canDropBoundingSet
        plan.confinement.noNewPrivileges = true
        plan.enforced.append(
            "capabilities: " + (sandbox.capabilities.isEmpty ? "all dropped" : "only \(sandbox.capabilities.map(\.rawValue).joined(separator: ", ")) kept")
                + (features.canDropBoundingSet ? " (bounding set too)" : "") + "; no_new_privs"
                + (plan.confinement.lockSecurebits ? "; securebits locked (uid 0 gains nothing at exec)" : ""))

        // Landlock.
        var rules = Landlock.Rules()
        let argumentPaths = plan.argumentGrants?.grants ?? []
        rules.read = sandbox.readPaths + plan.commandGrants.filter { !$0.exec }.map(\.path) + argumentPaths.map(\.path)
        rules.exec = sandbox.execPaths + plan.commandGrants.filter(\.exec).map(\.path)
        rules.write = sandbox.writePaths + argumentPaths.filter(\.write).map(\.path)
        let anchors = SandboxPlan.trustAnchors(hostEnvironment, passed: sandbox.envAllow, safety: safety)
        for a in anchors.granted where !rules.read.contains(where: { $0 == a.path || GrantSafety.contains($0, a.path) }) {
            rules.read.append(a.path)
            plan.enforced.append("trust anchors: \(a.path) read (named by \(a.variable))")
        }
        for a in anchors.refused { plan.notEnforced.append("trust anchors: \(a.path) (named by \(a.variable)) not granted: \(a.why)") }
        if !switchesUser { plan.missingWriteGrants = SandboxPlan.missingGrants(rules.write, under: context.home) }
        if !sandbox.writableExec {
            // Nothing the server writes may run: no write grant at, under or over an exec grant.
            for w in rules.write {
                if let e = rules.exec.first(where: { $0 == w || GrantSafety.contains($0, w) || GrantSafety.contains(w, $0) }) {
                    throw SandboxError(
                        "profile \(profile.name) refuses exec from writable directories "
                            + "(sandbox.filesystem.writable_exec: false), but \(w) is writable and \(e) executable")
                }
            }
            plan.enforced.append("exec: nothing writable is executable (sandbox.filesystem.writable_exec: false)")
        }
        switch sandbox.network {
        case .all: rules.tcp = nil
        case .none: rules.tcp = ([], [])
        case .ports(let connect, let bind): rules.tcp = (connect, bind)
        // The namespace and the gate hold the server to the proxy; the gate makes the one
        // allowed connect itself, which the child's Landlock port rule would not see anyway.
        case .hosts: rules.tcp = nil
        }
        if features.landlockABI >= 1 {
            plan.pending.landlockRules = rules
            plan.enforced.append(
                "landlock ABI \(features.landlockABI): \(rules.read.count) read, \(rules.write.count) write, \(rules.exec.count) exec grants"
                    + (features.landlockABI >= 4 && rules.tcp != nil ? "; TCP limited to the profile's ports" : "")
                    + (features.landlockABI >= 6 ? "; signals and abstract unix sockets scoped to the sandbox" : ""))
            if features.landlockABI < 4, rules.tcp != nil, case .ports = sandbox.network {
                plan.notEnforced.append("network ports: Landlock ABI \(features.landlockABI) cannot limit TCP ports (needs 4)")
            }
        } else {
            plan.notEnforced.append("filesystem: Landlock is not available; file access is not limited")
        }
        if case .none = sandbox.network { plan.enforced.append("network: none (AF_INET/AF_INET6 sockets refused)") }

        // Resource limits.
        for (name, value) in sandbox.rlimits.sorted(by: { $0.key < $1.key }) {
            let resource = name.resource
            // A limit cannot be raised above brig's own hard limit without CAP_SYS_RESOURCE:
            // `unlimited` (or any larger value) means "as much as brig itself may have".
            var current = rlimit()
            var limit = value
            if getrlimit(__rlimit_resource_t(UInt32(resource)), &current) == 0, UInt64(current.rlim_max) < limit {
                limit = UInt64(current.rlim_max)
            }
            plan.confinement.resourceLimits.append(.init(resource: resource, soft: limit, hard: limit))
        }
        if !sandbox.rlimits.isEmpty {
            plan.enforced.append(
                "rlimits: "
                    + sandbox.rlimits.sorted(by: { $0.key < $1.key })
                    .map { "\($0.key.rawValue)=\($0.value == UInt64.max ? "unlimited" : String($0.value))" }.joined(separator: " "))
        }
        // RLIMIT_NPROC does not bind uid 0 and RLIMIT_AS counts address space, not memory: as
        // root a cgroup bounds both for the session's processes together.
        var pidsLimit: UInt64?
        let nproc = sandbox.rlimits[.nproc].flatMap { $0 == UInt64.max ? nil : $0 }
        let viewBoundsTasks =
            sandbox.view == .auto && features.landlockABI >= 1 && features.namespaceView
            && NamespaceView.pidMaxIsNamespaced && nproc != nil
        if root && !switchesUser && !viewBoundsTasks, let nproc { pidsLimit = nproc }
        let memoryLimit = root ? sandbox.memory : nil
        if pidsLimit != nil || memoryLimit != nil {
            let wanted = [pidsLimit.map { "pids.max=\($0)" }, memoryLimit.map { "memory.max=\($0)" }].compactMap { $0 }.joined(separator: ", ")
            let line = "cgroup: \(wanted) where one can be made (else RLIMIT_AS for memory)"
            plan.pending.cgroup = (pidsLimit, memoryLimit, line)
            plan.enforced.append(line)
        }
        if let memory = sandbox.memory, !root {
            plan.confinement.resourceLimits.append(.init(resource: 9, soft: memory, hard: memory))
            plan.enforced.append("memory: RLIMIT_AS=\(memory) per process (a memory cgroup needs root or a delegated cgroup)")
        }
        // The namespace view, and the profile's extra namespaces.
        let wantsView = sandbox.view == .auto && features.landlockABI >= 1
        if wantsView && features.namespaceView {
            var grants: [NamespaceView.Grant] = []
            for p in rules.read + rules.exec { grants.append(.init(path: p, write: false)) }
            for p in rules.write { grants.append(.init(path: p, write: true)) }
            // Granted sockets must exist in the view to be connected to (the gate decides the rest).
            for p in sandbox.unixPaths { grants.append(.init(path: p, write: false)) }
            plan.pending.viewGrants = grants
            var view = NamespaceView(grants: grants, workingDirectory: context.workdir, userNamespace: !root)
            if viewBoundsTasks, let nproc {
                view.pidMax = max(nproc + 1, 301)
                plan.enforced.append(
                    "nproc: the view's pid namespace allows \(max(nproc, 300)) tasks (kernel.pid_max=\(max(nproc + 1, 301)); "
                        + "RLIMIT_NPROC too, which counts the user's tasks machine-wide)")
            }
            plan.view = view
            plan.confinement.view = view
            plan.confinement.viewOptional = !sandbox.require.contains(.namespaces)
            plan.confinement.namespaceFlags |= view.cloneFlags
            plan.enforced.append(
                "view: a mount namespace showing only the granted paths (\(view.operations.filter { $0.kind == .bind }.count) binds, "
                    + "read-only unless write is granted), a private /proc (new pid namespace, brig's init as pid 1), an empty /tmp "
                    + "but $TMPDIR, a /dev of the granted devices, new ipc and uts namespaces"
                    + (root ? "" : ", in a user namespace (the bounding set is empty inside)")
                    + (plan.confinement.viewOptional ? "; Landlock alone if the kernel refuses the namespaces" : ""))
        } else if wantsView {
            plan.notEnforced.append(
                "view: this kernel or user cannot make namespaces (user namespaces are restricted); "
                    + "Landlock alone limits what the server opens, and it sees the host's tree")
        } else if sandbox.view == .landlock {
            plan.enforced.append("view: none (sandbox.view: landlock); Landlock alone limits what the server opens")
        }
        if !sandbox.namespaces.isEmpty {
            guard root || plan.view != nil else {
                throw SandboxError("sandbox.namespaces needs brig to run as root or user namespaces (this kernel refuses them to this user)")
            }
            for ns in sandbox.namespaces { plan.confinement.namespaceFlags |= ns.cloneFlags }
            if !root { plan.confinement.namespaceFlags |= NamespaceView.newUser }
            plan.enforced.append(
                "namespaces: \(sandbox.namespaces.map(\.rawValue).joined(separator: ", "))"
                    + (sandbox.namespaces.contains(.pid) ? " (a private /proc; brig's init is pid 1)" : "")
                    + (sandbox.namespaces.contains(.net) ? " (loopback only)" : ""))
        }

        if !plan.missingWriteGrants.isEmpty {
            plan.enforced.append("write grants created at start (0700; they do not exist yet): \(plan.missingWriteGrants.joined(separator: ", "))")
        }

        // Egress by name: the proxy, and what keeps the server to it.
        if case .hosts(let egressRules) = sandbox.network {
            try plan.planEgress(egressRules, root: root)
        }

        // Environment: the allow-list, then `set`, then secrets.
        var env: [String: String] = [:]
        for (name, value) in hostEnvironment where sandbox.envAllow.contains(where: { globMatch($0, name) }) {
            env[name] = value
        }
        for (name, value) in sandbox.envSet { env[name] = value }
        for (name, file) in sandbox.secrets.sorted(by: { $0.key < $1.key }) {
            env[name] = "<secret from \(file)>"
            plan.pending.secrets.append((name, file))
        }
        if plan.egress != nil {
            for name in Egress.proxyVariables { env[name] = Egress.placeholder }
            for name in Egress.noProxyVariables { env[name] = "" }
            // Node's own fetch and http honor the variables only when asked (Node 24+).
            env["NODE_USE_ENV_PROXY"] = "1"
        }
        // The caller's token is brig's to verify, never the server's to read.
        if let tokenEnv = profile.mcp.auth?.tokenEnv { env.removeValue(forKey: tokenEnv) }
        plan.environment = env.sorted(by: { $0.key < $1.key }).map { "\($0.key)=\($0.value)" }
        plan.enforced.append("environment: \(env.count) variables (allow-list \(sandbox.envAllow.joined(separator: " "))); the rest of brig's environment stays with brig")
        return plan
    }

    /// Opens, creates and reads what the plan needs before the child starts: the Landlock
    /// ruleset, the session's cgroup, the secrets' values. Its account (`enforced`,
    /// `notEnforced`) then says what was made, not what would be. Whatever it made is the
    /// caller's to release (the session's `Resources`) from the moment it returns.
    public mutating func acquire() throws(SandboxError) {
        // The secrets first: reading them makes nothing that would need releasing on failure.
        for (name, file) in pending.secrets {
            guard let value = SandboxPlan.readSecret(file) else {
                throw SandboxError("sandbox.env.secrets.\(name): cannot read \(file): \(SystemError.text())")
            }
            secretValues[name] = value
            // Unless the policy's token variable took its place (never the server's to read).
            if let i = environment.firstIndex(of: "\(name)=<secret from \(file)>") { environment[i] = "\(name)=\(value)" }
        }
        pending.secrets = []
        // The proxy's port next, so the environment and the gate can name it; closed again if
        // what follows fails.
        if var egress, egress.hostListener < 0 {
            let (fd, port) = try EgressListener.open()
            egress.hostListener = fd
            egress.port = port
            self.egress = egress
            confinement.egressPort = egress.namespace ? port : 0
            if egress.gated { confinement.gateRules?.egressProxyPort = port }
            let url = "http://127.0.0.1:\(port)"
            environment = environment.map { $0.hasSuffix("=" + Egress.placeholder) ? String($0.dropLast(Egress.placeholder.count)) + url : $0 }
            enforced.append("network: the egress proxy listens at \(url)" + (egress.namespace ? " in the server's namespace" : ""))
        }
        do throws(SandboxError) {
            createMissingWriteGrants()
            try acquireKernelResources()
        } catch {
            if let fd = egress?.hostListener, fd >= 0 {
                close(fd)
                egress?.hostListener = -1
            }
            throw error
        }
    }

    /// The write grants under `$HOME` that do not exist yet, made (0700, as brig's user) so that
    /// the view and the ruleset include them; the view is planned again with them.
    mutating func createMissingWriteGrants() {
        guard !missingWriteGrants.isEmpty else { return }
        var made: [String] = []
        for path in missingWriteGrants {
            do {
                try FileSystem.makeDirectories(path)
                made.append(path)
            } catch {
                // Left out of the view and the ruleset, as a missing path always is.
                notEnforced.append("write grant \(path): it does not exist and cannot be created (\(error)); left out")
            }
        }
        enforced.removeAll { $0.hasPrefix("write grants created at start") }
        if !made.isEmpty { enforced.append("write grants created (0700; they did not exist): \(made.joined(separator: ", "))") }
        missingWriteGrants = []
        if var view, !made.isEmpty {
            let pidMax = view.pidMax
            view = NamespaceView(grants: pending.viewGrants, workingDirectory: view.workingDirectory, userNamespace: view.userNamespace)
            view.pidMax = pidMax
            self.view = view
            confinement.view = view
        }
    }

    /// The variables that tell TLS clients where their trust anchors are (OpenSSL and what
    /// follows it, uv, requests, curl, Node): a machine behind an inspecting proxy or with a
    /// private CA sets them, and a server that loses them fails every TLS handshake.
    public static let trustAnchorVariables = ["SSL_CERT_FILE", "SSL_CERT_DIR", "REQUESTS_CA_BUNDLE", "CURL_CA_BUNDLE", "NODE_EXTRA_CA_CERTS"]

    /// The files and directories the passed trust-anchor variables name, to be granted read
    /// (where they lie outside /etc/ssl, which `default` grants anyway); a path the grant
    /// safety refuses (a home directory, a secrets directory) is not granted, and said so.
    static func trustAnchors(_ environment: [String: String], passed allow: [String], safety: GrantSafety)
        -> (granted: [(variable: String, path: String)], refused: [(variable: String, path: String, why: String)])
    {
        var granted: [(variable: String, path: String)] = []
        var refused: [(variable: String, path: String, why: String)] = []
        for name in trustAnchorVariables where allow.contains(where: { globMatch($0, name) }) {
            guard let value = environment[name], value.hasPrefix("/"), FileSystem.exists(value) else { continue }
            let path = FileSystem.normalize(value)
            if let refusal = safety.refusal(for: path) {
                refused.append((name, path, refusal.description))
            } else {
                granted.append((name, path))
            }
        }
        return (granted, refused)
    }

    /// The paths of `write` strictly under `home` that do not exist, each once, in the
    /// profile's order (`$HOME` itself is never a write grant brig makes). Only where the
    /// nearest directory that does exist is brig's user's own: as root with a user's `$HOME`
    /// (`sudo -E`) brig would leave root's directories in it, which the user's own tools could
    /// not write; and a path hidden by a directory brig cannot search is not known to be missing.
    static func missingGrants(_ write: [String], under home: String) -> [String] {
        guard home.hasPrefix("/"), home != "/" else { return [] }
        var found: [String] = []
        for path in write where GrantSafety.contains(home, path) && !found.contains(path) {
            var st = stat()
            // Missing for certain (not merely hidden behind a directory brig cannot search).
            guard lstat(path, &st) != 0, errno == ENOENT else { continue }
            var ancestor = FileSystem.parent(of: path)
            while stat(ancestor, &st) != 0 {
                guard errno == ENOENT, ancestor != "/" else { break }
                ancestor = FileSystem.parent(of: ancestor)
            }
            guard stat(ancestor, &st) == 0, (st.st_mode & S_IFMT) == S_IFDIR, st.st_uid == geteuid() else { continue }
            found.append(path)
        }
        return found
    }

    /// The Landlock ruleset and the cgroup.
    mutating func acquireKernelResources() throws(SandboxError) {
        if let rules = pending.landlockRules {
            let ruleset = try Landlock.build(rules)
            landlock = ruleset
            confinement.landlockRuleset = ruleset.fd
            pending.landlockRules = nil
        }
        if let (pidsLimit, memoryLimit, line) = pending.cgroup {
            enforced.removeAll { $0 == line }
            let cgroup = SessionCgroup.create(pids: pidsLimit, memory: memoryLimit)
            if let cgroup {
                self.cgroup = cgroup
                confinement.cgroupProcsFD = cgroup.procsFDs.first ?? -1
                confinement.cgroupProcsFD2 = cgroup.procsFDs.count > 1 ? cgroup.procsFDs[1] : -1
                enforced.append("cgroup \(cgroup.paths.joined(separator: " ")): \(cgroup.limits.joined(separator: ", "))")
            }
            if pidsLimit != nil && !(cgroup?.limits.contains { $0.hasPrefix("pids.max") } ?? false) {
                notEnforced.append("nproc: uid 0 ignores RLIMIT_NPROC and no pids cgroup could be made")
            }
            if let memoryLimit, !(cgroup?.limits.contains { $0.hasPrefix("memory.max") } ?? false) {
                confinement.resourceLimits.append(.init(resource: ResourceLimit.addressSpace.resource, soft: memoryLimit, hard: memoryLimit))
                enforced.append("memory: no memory cgroup could be made; RLIMIT_AS=\(memoryLimit) per process instead")
            }
            pending.cgroup = nil
        }
    }

    /// Where the proxy's door is made and what holds the server to it; fails closed when
    /// nothing can (no namespace and no gate).
    mutating func planEgress(_ rules: EgressRules, root: Bool) throws(SandboxError) {
        let gated = confinement.gateRules != nil
        // Unprivileged, a network namespace needs the view's user namespace.
        let namespace = root || view != nil
        guard namespace || gated else {
            throw SandboxError(
                "sandbox.network.allow: nothing here can keep the server to brig's proxy: a network namespace needs root or user "
                    + "namespaces (refused to this user) and the connect gate needs seccomp user notification (not available)")
        }
        egress = Egress(rules: rules, namespace: namespace, gated: gated)
        if namespace {
            confinement.namespaceFlags |= NamespaceView.newNet
            // Without the gate, the namespace is all that holds: no falling back to brig's.
            if !gated { confinement.viewOptional = false }
        }
        let holds = [
            namespace ? "a network namespace of its own (loopback only; the proxy's socket is its one door)" : nil,
            gated ? "the connect gate (every address but the proxy's refused, UDP and DNS included)" : nil,
        ].compactMap { $0 }.joined(separator: " and ")
        enforced.append(
            "network: only through brig's egress proxy on 127.0.0.1 (\(rules.allow.count) allow, \(rules.deny.count) deny rules; "
                + "brig resolves names; private addresses refused unless allowed), held by \(holds)")
        if namespace && gated && view != nil && confinement.viewOptional {
            enforced.append("network: if the kernel refuses the namespaces at start, the gate alone holds the server to the proxy")
        }
        if !namespace {
            notEnforced.append("network namespace: needs root or user namespaces; the server shares brig's network, held to the proxy by the gate alone")
        }
    }

    /// The socket and memfd gate (SyscallGate): its rules, and what `brig check` says of it.
    mutating func addGate(_ gated: [String], sandbox: SandboxProfile, user: (uid: UInt32, gid: UInt32)?) {
        let shown = sandbox.unixPaths.isEmpty ? "nowhere" : "under " + sandbox.unixPaths.joined(separator: ", ")
        plan: do {
            guard !gated.isEmpty else {
                notEnforced.append("unix sockets: named sockets are not limited (needs seccomp user notification; Landlock ABI \(features.landlockABI) has no RESOLVE_UNIX)")
                notEnforced.append("memfd: memfds are not made non-executable (needs seccomp user notification); MFD_EXEC and execveat(AT_EMPTY_PATH) refused")
                break plan
            }
            var rules = SyscallGate.Rules(unixGrants: sandbox.unixPaths.map(FileSystem.realpath))
            if case .ports(let connect, _) = sandbox.network { rules.tcpConnectPorts = connect }
            rules.childUID = user?.uid
            rules.childGID = user?.gid
            rules.calls = gated
            confinement.gateRules = rules
            enforced.append(
                "unix sockets: pathname connect/sendto/sendmsg/sendmmsg only \(shown); abstract names refused "
                    + "(seccomp gate: brig makes the call on its own copy of the address; Landlock ABI \(features.landlockABI) has no RESOLVE_UNIX)")
            enforced.append("fileless exec: memfds are created MFD_NOEXEC_SEAL by brig, MFD_EXEC refused; execveat(AT_EMPTY_PATH) refused")
        }
    }

    /// A secret file's value, without its trailing newline (at most 1 MiB).
    static func readSecret(_ path: String) -> String? {
        guard var bytes = FileSystem.read(path, limit: 1 << 20) else { return nil }
        while let last = bytes.last, last == 0x0A || last == 0x0D { bytes.removeLast() }
        return String(decoding: bytes, as: UTF8.self)
    }

    /// The ids of a `sandbox.user` that switches user (a name through the password database).
    static func resolveUser(_ spec: UserSpec) -> (uid: UInt32, gid: UInt32)? {
        switch spec {
        case .auto, .keep: return nil
        case .ids(let uid, let gid): return (uid, gid)
        case .name(let name, let group):
            guard let pw = getpwnam(name) else { return nil }
            return (pw.pointee.pw_uid, group ?? pw.pointee.pw_gid)
        }
    }
}

/// The session's cgroup: pids.max and memory.max for the server's processes together (v2, or
/// the v1 pids and memory hierarchies, which are separate directories), made per session and
/// removed after it, with anything left in it killed.
public final class SessionCgroup: Sendable {
    public let paths: [String]
    public let procsFDs: [Int32]
    /// What was set, `name=value` each.
    public let limits: [String]

    init(paths: [String], procsFDs: [Int32], limits: [String]) {
        self.paths = paths
        self.procsFDs = procsFDs
        self.limits = limits
    }

    static func create(pids: UInt64?, memory: UInt64?) -> SessionCgroup? {
        let name = "brig-\(getpid())"
        var paths: [String] = [], fds: [Int32] = [], limits: [String] = []
        func make(_ dir: String, _ settings: [(String, UInt64)]) -> Bool {
            guard mkdir(dir, 0o755) == 0 || errno == EEXIST else { return false }
            for (file, value) in settings where !FileSystem.write(dir + "/" + file, Array("\(value)".utf8), create: false) {
                rmdir(dir)
                return false
            }
            let fd = open(dir + "/cgroup.procs", O_WRONLY | O_CLOEXEC)
            guard fd >= 0 else {
                rmdir(dir)
                return false
            }
            paths.append(dir)
            fds.append(fd)
            limits += settings.filter { !$0.0.contains("swap") }.map { "\($0.0)=\($0.1)" }
            return true
        }
        if access("/sys/fs/cgroup/cgroup.controllers", R_OK) == 0 {
            let controllers = String(decoding: FileSystem.read("/sys/fs/cgroup/cgroup.subtree_control") ?? [], as: UTF8.self)
            var settings: [(String, UInt64)] = []
            if let pids, controllers.contains("pids") { settings.append(("pids.max", pids)) }
            if let memory, controllers.contains("memory") { settings += [("memory.max", memory), ("memory.swap.max", 0)] }
            if !settings.isEmpty { _ = make("/sys/fs/cgroup/" + name, settings) }
        } else {
            if let pids, access("/sys/fs/cgroup/pids/cgroup.procs", F_OK) == 0 {
                _ = make("/sys/fs/cgroup/pids/" + name, [("pids.max", pids)])
            }
            if let memory, access("/sys/fs/cgroup/memory/cgroup.procs", F_OK) == 0 {
                _ = make("/sys/fs/cgroup/memory/" + name, [("memory.limit_in_bytes", memory)])
            }
        }
        return paths.isEmpty
            ? nil
            : SessionCgroup(
                paths: paths, procsFDs: fds,
                limits: limits.map { $0.replacingPrefix("memory.limit_in_bytes", with: "memory.max") })
    }

    /// Kills whatever is left in the cgroups and removes them.
    public func remove() {
        for fd in procsFDs { close(fd) }
        for path in paths {
            for _ in 0..<50 {
                let pids = String(decoding: FileSystem.read(path + "/cgroup.procs") ?? [], as: UTF8.self).split(separator: "\n").compactMap { Int32($0) }
                if pids.isEmpty { break }
                for pid in pids { kill(pid, SIGKILL) }
                usleep(10_000)
            }
            rmdir(path)
        }
    }
}

extension String {
    func replacingPrefix(_ prefix: String, with other: String) -> String {
        hasPrefix(prefix) ? other + dropFirst(prefix.count) : self
    }
}

// The profile's words in the kernel's terms: exhaustive switches, so a word added to the
// vocabulary cannot be forgotten here.
extension ResourceLimit {
    /// The RLIMIT_ number.
    var resource: Int32 {
        switch self {
        case .cpu: return 0
        case .fsize: return 1
        case .data: return 2
        case .stack: return 3
        case .core: return 4
        case .nproc: return 6
        case .nofile: return 7
        case .memlock: return 8
        case .addressSpace: return 9
        }
    }
}

extension Namespace {
    /// The clone(2) flags (a pid namespace comes with a mount namespace for its /proc).
    var cloneFlags: UInt {
        switch self {
        case .pid: return NamespaceView.newPID | NamespaceView.newMount
        case .ipc: return NamespaceView.newIPC
        case .uts: return NamespaceView.newUTS
        case .net: return 0x4000_0000  // CLONE_NEWNET
        }
    }
}

extension KernelFeatures {
    /// Whether this kernel and process provide what `sandbox.require` names.
    func provides(_ requirement: KernelRequirement) -> Bool {
        switch requirement {
        case .seccomp: return seccomp
        case .seccompNotify: return seccompNotify
        case .landlock: return landlockABI >= 1
        case .landlockNet: return landlockABI >= 4
        case .landlockScope: return landlockABI >= 6
        case .noNewPrivs: return noNewPrivs
        case .namespaces: return namespaceView
        }
    }
}
