public import ArgumentParser
import BrigAudit
import BrigContent
import BrigPlan
import BrigPolicy
import BrigProfile
import BrigRelay
import BrigSandbox
import BrigSystem

#if canImport(Glibc)
@preconcurrency import Glibc
#endif

extension Brig {
    /// `brig run`: the default subcommand.
    public struct Run: ParsableCommand {
        public static let configuration = CommandConfiguration(
            commandName: "run",
            abstract: "Run COMMAND as a confined MCP server and relay its stdio (the default subcommand).",
            discussion: """
                Examples:
                  brig -- uvx mcp-server-time
                  brig run --max-message-size 1MiB -- python3 -m mcp_server_git --repository .
                """
        )

        @Option(
            name: .customLong("max-message-size"),
            help: ArgumentHelp(
                "Largest message accepted in either direction: 16MiB, 16M (the same) or 16MB (decimal), 1KiB to 1GiB.", valueName: "SIZE"))
        var maxMessageSizeOption: String?

        var maxMessageSize: String { maxMessageSizeOption ?? "16MiB" }
        var maxMessageSizeGiven: Bool { maxMessageSizeOption != nil }

        @Option(
            name: .customLong("grace"),
            help: ArgumentHelp(
                "Seconds the server has to exit after the host closes stdin, before SIGTERM.", valueName: "SECONDS"))
        var grace: Double = 5

        @Option(
            name: .customLong("kill-after"),
            help: ArgumentHelp(
                "Seconds between SIGTERM and SIGKILL.", valueName: "SECONDS"))
        var killAfter: Double = 2

        @OptionGroup(title: "Sandbox")
        var sandbox: SandboxOptions

        @OptionGroup(title: "Message policy")
        var policyOptions: PolicyOptions

        @Option(
            name: .customLong("audit-log"),
            help: ArgumentHelp(
                "The audit trail file ('-' = stderr). Default: the profile's audit.path, else $XDG_STATE_HOME/brig/audit/NAME.jsonl "
                    + "(NAME: a custom profile's name, else the command's name).", valueName: "PATH"))
        var auditLog: String?

        @Flag(name: .customLong("no-audit"), help: ArgumentHelp("Keep no audit trail for this session."))
        var noAudit = false

        @Option(
            name: .customLong("expect-sha256"),
            help: ArgumentHelp(
                "Refuse to start unless the resolved executable's SHA-256 is HEX (also sandbox.executable_sha256).", valueName: "HEX"))
        var expectSHA256: String?

        @Flag(
            name: .customLong("no-sandbox"),
            help: ArgumentHelp(
                "Relay only: no profile, no confinement, brig's whole environment passed on (for comparison and debugging)."))
        var noSandbox = false

        @Argument(
            parsing: .captureForPassthrough,
            help: ArgumentHelp(
                "The server command and its arguments, after --.", valueName: "COMMAND"))
        var command: [String] = []

        public init() {}

        public func validate() throws {
            try ServerCommand.validate(command, for: self, usage: "brig [run] [OPTIONS] -- COMMAND [ARGS...]")
            guard ByteSize.parse(maxMessageSize) != nil else {
                throw ValidationError("--max-message-size: '\(maxMessageSize)' is not a size (e.g. 16MiB, 65536)")
            }
            for (flag, value) in [("--grace", grace), ("--kill-after", killAfter)] {
                guard value.isFinite, value >= 0, value <= 86_400 else {
                    throw ValidationError("\(flag): '\(value)' is not a number of seconds between 0 and 86400")
                }
            }
            guard let size = ByteSize.parse(maxMessageSize), size >= 1024, size <= 1 << 30 else {
                throw ValidationError("--max-message-size: '\(maxMessageSize)' must be a size between 1KiB and 1GiB")
            }
            try sandbox.validateWorkdir()
            try sandbox.validateGrants()
        }

        public func run() throws {
            var argv = command
            if argv.first == "--" { argv.removeFirst() }
            var relay = RelayConfiguration()
            relay.maximumMessageBytes = ByteSize.parse(maxMessageSize).map { Int($0) } ?? relay.maximumMessageBytes
            relay.gracePeriodNanoseconds = UInt64(grace * 1e9)
            relay.killAfterNanoseconds = UInt64(killAfter * 1e9)
            var prepared = try Prepared.make(
                argv: argv, sandbox: sandbox, policyOptions: policyOptions, relay: relay,
                relayLimitGiven: maxMessageSizeGiven, confine: !noSandbox,
                auditLog: noAudit ? nil : auditLog)
            // Whatever the session below does not take (every error before it starts) is released here.
            defer { prepared.release() }
            StartupTrace.mark("profile loaded, sandbox planned")
            try prepared.checkExecutable(expected: expectSHA256)
            StartupTrace.mark("executable hashed")
            if !noSandbox { try prepared.openContentGuard() }
            StartupTrace.mark("content defenses open")
            if !noSandbox && !noAudit { try prepared.openAudit(path: auditLog, profileOption: sandbox.profile) }
            StartupTrace.mark("audit trail open")
            SelfProtection.makeNonDumpable()
            var hooks = Session.Hooks()
            if StartupTrace.enabled { hooks.phase = { StartupTrace.mark($0) } }
            if prepared.plan?.egress != nil { prepared.relay.namesPendingCalls = true }
            let session = Session(
                spec: prepared.spec, configuration: prepared.relay, resources: prepared.handOver(),
                policy: prepared.gate, hooks: hooks, audit: prepared.audit, auditStart: prepared.auditStart,
                content: prepared.content, egressRules: prepared.plan?.egress?.rules)
            let code: Int32
            do throws(SpawnError) {
                code = try session.run()
            } catch {
                prepared.audit?.close()
                throw BrigCLIError.spawn(argv[0], error)
            }
            throw ExitCode(code)
        }
    }
}

/// The server command after `--`, as `run` and `learn` take it (captured for passthrough, so
/// `-h` and unknown options before `--` land here and are sorted out first).
enum ServerCommand {
    static func validate(_ command: [String], for parsed: some ParsableCommand, usage: String) throws {
        var rest = command
        if rest.first == "-h" || rest.first == "--help" { throw CleanExit.helpRequest(parsed) }
        if let first = rest.first, first != "--", first.hasPrefix("-") {
            throw ValidationError("unknown option '\(first)'; put the server command after --")
        }
        if rest.first == "--" { rest.removeFirst() }
        guard !rest.isEmpty else { throw ValidationError("no server command given; usage: \(usage)") }
    }
}

/// Everything a session starts with, prepared from the command line: the resolved command,
/// the profile and its sandbox plan, the policy, the relay's limits. Shared by `run` and `learn`.
struct Prepared {
    var argv: [String]
    var executable: String
    var spec: SpawnSpec
    var resources = Session.Resources()
    var gate: PolicyGate?
    var relay: RelayConfiguration
    var plan: SandboxPlan?
    var context: ProfileContext?
    var hostEnvironment: [String: String]
    var audit: AuditLog?
    var auditStart: SessionInfo?
    var content: ContentGuard?
    var executableSHA256: String?

    /// The prefix of the private directory's name (in $TMPDIR, else /tmp); tests choose their own
    /// to find the directory a run makes.
    @TaskLocal static var privateDirectoryPrefix = "brig-"

    /// Releases what no session took: the private directory, the Landlock ruleset, the cgroup
    /// (what `Session` releases when it ends). Nothing is left to release after `handOver()`.
    func release() { resources.release() }

    /// Hands the resources to the session that releases them, so that they have one owner.
    mutating func handOver() -> Session.Resources {
        let taken = resources
        resources = Session.Resources()
        return taken
    }

    /// Server identity: `--expect-sha256` or `sandbox.executable_sha256` must match the executable.
    mutating func checkExecutable(expected: String?) throws(BrigCLIError) {
        executableSHA256 = Digest.sha256(
            file: executable,
            cachedIn: ContentGuard.defaultStateDirectory(environment: hostEnvironment) + "/executables")
        for (want, source) in [(expected, "--expect-sha256"), (plan?.profile.sandbox.executableSHA256, "sandbox.executable_sha256")] {
            guard let want else { continue }
            guard let have = executableSHA256, have == want.lowercased() else {
                throw .brig("\(executable): SHA-256 \(executableSHA256 ?? "unreadable") does not match \(source) \(want.lowercased()); not starting it")
            }
        }
    }

    /// The content defenses the profile's `mcp:` section asks for (pins keyed by the server's identity).
    mutating func openContentGuard() throws(BrigCLIError) {
        guard let plan else { return }
        let mcp = plan.profile.mcp
        let builtin = plan.profile.source.hasPrefix("builtin:")
        let identity = ContentGuard.identity(
            profileName: builtin ? nil : plan.profile.name,
            executableSHA256: executableSHA256 ?? executable, arguments: Array(argv.dropFirst()))
        let settings = ContentSettings(
            pins: mcp.pins ?? .warn, sanitize: mcp.sanitize ?? true, poisoning: mcp.poisoning ?? .warn, leaks: mcp.leaks ?? .redact,
            secretValues: plan.secretValues, serverIdentity: identity,
            stateDirectory: nil, serverLabel: ContentGuard.label(command: argv))
        if settings.pins == .off && !settings.sanitize && settings.poisoning == .off && settings.leaks == .off { return }
        do {
            content = try ContentGuard(settings: settings)
        } catch {
            throw .brig("content defenses: \(error)")
        }
    }

    /// Opens the audit trail the profile asks for, and makes sure brig's own files (the log, its
    /// key, its anchor) lie outside everything the child may read or write.
    mutating func openAudit(path: String?, profileOption: String) throws(BrigCLIError) {
        guard let plan, plan.profile.audit.enabled || path != nil else { return }
        let profile = plan.profile
        let builtin = profile.source.hasPrefix("builtin:")
        let sessionName = builtin ? Brig.Learn.profileName(argv) : profile.name
        let options = AuditOptions(
            path: path, settings: profile.audit, secretValues: plan.secretValues, sessionName: sessionName,
            environment: hostEnvironment)
        let log: AuditLog
        do {
            log = try AuditLog.open(options)
        } catch {
            throw .brig("audit: \(error)")
        }
        let grants =
            profile.sandbox.readPaths + profile.sandbox.writePaths + profile.sandbox.execPaths
            + plan.commandGrants.map(\.path) + (plan.argumentGrants?.grants.map(\.path) ?? [])
        for file in [log.path, log.anchorPath].compactMap({ $0 }) where file != "-" {
            if let grant = grants.first(where: { g in file == g || file.hasPrefix(g.hasSuffix("/") ? g : g + "/") }) {
                log.close()
                throw .brig(
                    "audit: the audit trail \(file) lies inside the sandbox's grant \(grant): the server could edit it; "
                        + "run from another --workdir, or move it with --audit-log or audit.path")
            }
        }
        var text: String?
        if builtin {
            text = ProfileLoader.builtinText(String(profile.source.dropFirst("builtin:".count)))
        } else if let bytes = FileSystem.read(profile.source) {
            text = String(decoding: bytes, as: UTF8.self)
        }
        let features = plan.features
        var featureList = ["seccomp=\(features.seccomp)", "seccomp_notify=\(features.seccompNotify)", "landlock_abi=\(features.landlockABI)"]
        if features.isRoot { featureList.append("root") }
        audit = log
        auditStart = SessionInfo(
            brigVersion: Brig.version, command: argv, executable: executable,
            executableSHA256: executableSHA256 ?? Digest.sha256(file: executable), profileName: profile.name,
            profileSource: profile.source, profileText: text, sandbox: plan.enforced + plan.notEnforced.map { "not enforced: " + $0 },
            kernelFeatures: featureList)
    }

    /// Resolves, loads and plans; throws brig's own errors (125, or 126/127 for the command),
    /// having released what it made (the private directory) first.
    static func make(
        argv: [String], sandbox: SandboxOptions, policyOptions: PolicyOptions, relay: RelayConfiguration,
        relayLimitGiven: Bool, confine: Bool, forcePermissive: Bool = false,
        auditLog: String? = nil
    ) throws(BrigCLIError) -> Prepared {
        let hostEnvironment = ProcessEnvironment.snapshot()
        let workdir = sandbox.resolvedWorkdir()
        let executable: String
        do throws(CommandResolver.Failure) {
            executable = try CommandResolver.resolve(argv[0], searchPath: hostEnvironment["PATH"], workingDirectory: workdir)
        } catch {
            switch error {
            case .notFound(let name): throw .notFound(name)
            case .notExecutable(let name): throw .cannotRun(name)
            }
        }
        var p = Prepared(
            argv: argv, executable: executable,
            spec: SpawnSpec(
                executable: executable, arguments: argv, environment: ProcessEnvironment.entries(),
                workingDirectory: workdir, stdin: 0, stdout: 1, stderr: 2),
            relay: relay, hostEnvironment: hostEnvironment)
        guard confine else { return p }
        var policyOptions = policyOptions
        if forcePermissive { policyOptions.permissive = true }
        // Decided before the private directory exists: a refused --workdir leaves nothing behind.
        let decision = try sandbox.workingDirectoryDecision(environment: hostEnvironment, auditLog: auditLog)
        let tmp: PrivateDirectory
        do throws(SandboxPlanError) {
            tmp = try PrivateDirectory(prefix: privateDirectoryPrefix)
        } catch {
            throw .brig(error.description)
        }
        p.resources.temporaryDirectory = tmp
        do throws(BrigCLIError) {
            try p.confine(
                sandbox: sandbox, policyOptions: policyOptions, relayLimitGiven: relayLimitGiven, auditLog: auditLog,
                decision: decision, tmp: tmp)
        } catch {
            p.release()
            throw error
        }
        return p
    }

    /// Loads the profile, compiles its policy and plans the sandbox, in the private directory `tmp`.
    private mutating func confine(
        sandbox: SandboxOptions, policyOptions: PolicyOptions, relayLimitGiven: Bool, auditLog: String?,
        decision: WorkingDirectoryDecision, tmp: PrivateDirectory
    ) throws(BrigCLIError) {
        if !decision.granted {
            // Once, so that a user who started brig from / or $HOME learns why the server sees no project.
            Diagnostics.shared.report(decision.summary)
        }
        let (profile, context) = try sandbox.loadProfile(
            tmpdir: tmp.path, environment: hostEnvironment, policy: policyOptions, workdirGranted: decision.granted)
        self.context = context
        relay.profileName = profile.name
        do {
            let engine = try PolicyEngine(
                policy: profile.mcp,
                context: policyOptions.context(
                    environment: hostEnvironment,
                    profileDirectory: sandbox.profileDirectory()))
            // A profile without message rules allows everything: the relay then skips the policy
            // path altogether (the common case costs nothing per message).
            var rules = profile.mcp
            rules.workdir = nil
            rules.pins = nil
            rules.sanitize = nil
            rules.poisoning = nil
            rules.leaks = nil
            if rules != MCPPolicy() || engine.isPermissive { gate = PolicyGate(engine: engine) }
            if let limit = engine.maxMessageBytes, !relayLimitGiven { relay.maximumMessageBytes = Int(limit) }
        } catch {
            throw .brig(error.description)
        }
        StartupTrace.mark("profile loaded, policy compiled")
        var plan: SandboxPlan
        do {
            plan = try SandboxPlan.plan(
                profile: profile, executable: executable, arguments: argv, context: context,
                hostEnvironment: hostEnvironment,
                safety: sandbox.grantSafety(environment: hostEnvironment, auditLog: auditLog),
                workingDirectory: decision)
            try plan.acquire()
        } catch {
            throw .brig(error.description)
        }
        self.plan = plan
        spec.confinement = plan.confinement
        spec.environment = plan.environment
        resources.landlockRuleset = plan.confinement.landlockRuleset
        resources.cgroup = plan.cgroup
        resources.egressListener = plan.egress?.hostListener ?? -1
        if let user = plan.confinement.user { tmp.chown(uid: user.uid, gid: user.gid) }
    }
}
