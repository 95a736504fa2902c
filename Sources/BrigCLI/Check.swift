public import ArgumentParser
import BrigJSONRPC
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
    /// `brig check`: validate a profile and show what it would enforce here.
    public struct Check: ParsableCommand {
        public static let configuration = CommandConfiguration(
            commandName: "check",
            abstract: "Validate a profile and print the effective sandbox, the kernel features found, and the command's grants.",
            discussion: """
                Exits 0 when the profile is valid and can be enforced on this machine, 125 otherwise
                (the error names the file, line and key at fault).

                Examples:
                  brig check
                  brig check --profile python -- uvx mcp-server-time
                  brig check --profile ./my-server.yaml --rw ./data
                  brig check --server time      # a server of the host configs (see brig wrap)
                """
        )

        @OptionGroup(title: "Sandbox")
        var sandbox: SandboxOptions

        @OptionGroup(title: "Message policy")
        var policyOptions: PolicyOptions

        @Option(
            name: .customLong("explain"),
            help: ArgumentHelp(
                "Print the policy's decision and deciding rule for each JSON-RPC message in FILE (one per line; "
                    + "a line starting with 'S: ' comes from the server, '#' starts a comment). Exits 1 if any "
                    + "line is not a valid message, saying how many on stderr.", valueName: "FILE"))
        var explain: String?

        @Argument(
            parsing: .captureForPassthrough,
            help: ArgumentHelp(
                "Optional: the server command, to show the grants brig adds for it.", valueName: "COMMAND"))
        var command: [String] = []

        @Option(
            name: .customLong("server"),
            help: ArgumentHelp(
                "Show what brig does with the server NAME of the host configs (see brig wrap): wrapped or not, profile, "
                    + "working directory, grants. Its options come from the config entry.", valueName: "NAME"))
        var server: String?

        @OptionGroup(title: "Host configs")
        var hostConfigs: HostConfigOptions

        public init() {}

        public func validate() throws {
            // The pass-through COMMAND captures `-h`/`--help` before the parser sees them.
            if command.first == "-h" || command.first == "--help" { throw CleanExit.helpRequest(self) }
            try sandbox.validateWorkdir()
            try sandbox.validateGrants()
        }

        public func run() throws {
            if let server {
                guard command.isEmpty, explain == nil else { throw BrigCLIError.brig("--server takes the command from the host config: give no COMMAND or --explain") }
                return try ServerCheck.run(name: server, files: hostConfigs)
            }
            var argv = command
            if argv.first == "--" { argv.removeFirst() }
            if let first = argv.first, first.hasPrefix("-") { throw BrigCLIError.brig("unknown option '\(first)'") }
            let env = ProcessEnvironment.snapshot()
            let decision = try sandbox.workingDirectoryDecision(environment: env)
            let (profile, context) = try sandbox.loadProfile(
                tmpdir: "/tmp/brig-XXXXXX", environment: env, policy: policyOptions,
                workdirGranted: decision.granted)
            let engine: PolicyEngine
            do {
                engine = try PolicyEngine(
                    policy: profile.mcp,
                    context: policyOptions.context(
                        environment: env, profileDirectory: sandbox.profileDirectory()))
            } catch {
                throw BrigCLIError.brig(error.description)
            }
            if let explain {
                return try Check.explain(file: explain, engine: engine)
            }
            var executable: String?
            if let name = argv.first {
                executable = try? CommandResolver.resolve(name, searchPath: env["PATH"], workingDirectory: context.workdir)
                if executable == nil { throw BrigCLIError.notFound(name) }
            }
            let features = KernelFeatures.probe()
            let plan: SandboxPlan
            do {
                plan = try SandboxPlan.plan(
                    profile: profile, executable: executable, arguments: argv, context: context,
                    hostEnvironment: env, features: features,
                    safety: sandbox.grantSafety(environment: env), workingDirectory: decision)
            } catch {
                throw BrigCLIError.brig(error.description)
            }
            var out = ""
            func line(_ s: String = "") { out += s + "\n" }
            let s = profile.sandbox
            line("profile: \(profile.name)  (\(profile.chain.joined(separator: " -> ")))")
            if let d = profile.description { line("  \(d)") }
            line()
            line("kernel and process:")
            line("  seccomp: \(features.seccomp ? "yes" : "no"), user notification: \(features.seccompNotify ? "yes" : "no")")
            line("  landlock: " + (features.landlockABI > 0 ? "ABI \(features.landlockABI)" : "not available"))
            line("  running as: uid \(geteuid())\(features.isRoot ? " (root)" : ""); can drop the bounding set: \(features.canDropBoundingSet ? "yes" : "no")")
            line(
                "  confinement: "
                    + (plan.view != nil
                        ? "namespace view + Landlock" + (features.isRoot ? "" : " (in a user namespace)")
                        : "Landlock only (no namespace view)"))
            line()
            line("working directory: \(decision.summary)")
            let broad = (s.readPaths + s.writePaths).filter { sandbox.grantSafety(environment: env).refusal(for: $0)?.isBroad ?? false }
            for path in Set(broad).sorted() { line("  BROAD GRANT: \(path) (the server may read\(s.writePaths.contains(path) ? " and write" : "") all of it)") }
            if let arguments = plan.argumentGrants {
                line("argument grants:" + (arguments.grants.isEmpty && arguments.skipped.isEmpty ? " none" : ""))
                for g in arguments.grants { line("  \(g.path)  \(g.write ? "read+write" : "read")  (from \(g.argument))") }
                for k in arguments.skipped { line("  \(k.path)  not granted: \(k.refusal)  (from \(k.argument))") }
            } else if s.grantArguments == .off {
                line("argument grants: off (sandbox.filesystem.arguments: false)")
            }
            line()
            line("enforced:")
            for e in plan.enforced { line("  - \(e)") }
            if !plan.notEnforced.isEmpty {
                line("not enforced:")
                for e in plan.notEnforced { line("  - \(e)") }
            }
            line()
            line("syscalls: default \(s.syscallDefault.rawValue), on deny \(s.denyAction.rawValue)")
            line("  \(s.syscallDefault == .allow ? "denied" : "allowed"): \(plan.seccompNames.joined(separator: " "))")
            line("filesystem:")
            for (label, paths) in [("read", s.readPaths), ("write", s.writePaths), ("exec", s.execPaths), ("unix", s.unixPaths)] {
                line("  \(label):")
                for p in paths { line("    \(p)\(access(p, F_OK) == 0 ? "" : "  (absent here: skipped)")") }
            }
            line("  /proc/PID of the started process: read (granted at start)")
            if let executable {
                line("command grants for \(executable):")
                for g in plan.commandGrants { line("  \(g.path)  \(g.exec ? "read+exec" : "read")  (\(g.reason))") }
            }
            switch s.network {
            case .hosts(let rules):
                line("network: through brig's egress proxy (an allow-list of hosts):")
                for r in rules.allow { line("  allow \(r)") }
                for r in rules.deny { line("  deny  \(r)  (wins over allow)") }
                line("  private, loopback and link-local addresses: refused unless an allow rule names them")
            default: line("network: \(s.network.summary)")
            }
            line("capabilities kept: \(s.capabilities.isEmpty ? "none" : s.capabilities.map(\.rawValue).joined(separator: ", "))")
            line("environment passed:")
            for e in plan.environment { line("  \(e)") }
            line("require: \(s.require.map(\.rawValue).joined(separator: ", "))")
            line(
                "message policy: \(engine.isPermissive ? "permissive (decide and report, block nothing)" : "enforce")"
                    + (engine.acceptedProtocolVersions.map { "; protocol versions \($0.joined(separator: ", "))" } ?? ""))
            print(out, terminator: "")
        }

        /// Decides each message of a transcript; throws (exit 1) when a line is not a valid message.
        static func explain(file: String, engine: PolicyEngine) throws(BrigCLIError) {
            try InputPath.requireReadableFile(file, label: "--explain")
            guard let bytes = FileSystem.read(file) else { throw .brig("--explain \(InputPath.shown(file)): \(SystemError.text())") }
            let gate = PolicyGate(engine: engine)
            var bad = 0, messages = 0
            for (index, raw) in bytes.split(separator: 0x0A, omittingEmptySubsequences: false).enumerated() {
                var lineBytes = Array(raw)
                var direction = Direction.hostToServer
                if lineBytes.starts(with: Array("S: ".utf8)) {
                    direction = .serverToHost
                    lineBytes.removeFirst(3)
                }
                let trimmed = lineBytes.drop { $0 == 0x20 || $0 == 0x09 }
                if trimmed.isEmpty || trimmed.first == UInt8(ascii: "#") { continue }
                messages += 1
                let where_ = "\(file):\(index + 1)"
                let result: String = lineBytes.withUnsafeBufferPointer { line in
                    switch MessageView.parse(line) {
                    case .failure(let error):
                        bad += 1
                        return "\(where_)  invalid message: \(error.message) (\(error.detail))"
                    case .success(let view):
                        if view.isResponse { return "\(where_)  response \(view.id ?? ""): not decided by policy (list results are filtered)" }
                        let outcome = gate.inspect(line, view: view, direction: direction)
                        let methods = view.kind == .batch ? view.members.compactMap(\.method).joined(separator: ",") : (view.method ?? "")
                        guard let d = outcome.decisions.first(where: { !$0.allowed }) ?? outcome.decisions.first else {
                            return "\(where_)  \(direction.rawValue) \(methods): allow (no rule restricts it)"
                        }
                        let verdict =
                            d.allowed
                            ? (d.ask != nil && d.enforced ? "ask the user, then allow" : "allow")
                            : (d.enforced ? "deny" : "would deny (permissive)")
                        let answer: String
                        switch outcome.verdict {
                        case .answer(let replies):
                            answer = replies.lines.split(separator: 0x0A).first.map { "; brig answers " + String(decoding: $0, as: UTF8.self) } ?? "; dropped"
                        default: answer = ""
                        }
                        return "\(where_)  \(direction.rawValue) \(methods)\(d.subject.map { " " + $0 } ?? ""): \(verdict) by \(d.rule): \(d.reason)\(answer)"
                    }
                }
                print(result)
            }
            if bad > 0 {
                // stdout has the line-by-line verdicts; stderr says why the exit code is 1.
                throw .failed("--explain \(InputPath.shown(file)): \(bad) of \(messages) line\(messages == 1 ? " is not a valid message" : "s are not valid messages")")
            }
        }
    }

    /// `brig profiles`: the built-in profiles.
    public struct Profiles: ParsableCommand {
        public static let configuration = CommandConfiguration(commandName: "profiles", abstract: "List the built-in profiles.")
        public init() {}

        public func run() throws {
            let context = ProfileContext(home: "/home/user", workdir: "/work", tmpdir: "/tmp/brig-x", environment: [:])
            for name in ProfileLoader.builtinNames {
                let p = try? ProfileLoader.load(name, context: context)
                print("\(name)\t\(p?.description ?? "")")
            }
        }
    }
}
