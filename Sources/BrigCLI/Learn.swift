public import ArgumentParser
import BrigJSONRPC
import BrigLearn
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
    /// `brig learn`: run a session under watch and write the tightest profile that still runs it.
    public struct Learn: ParsableCommand {
        public static let configuration = CommandConfiguration(
            commandName: "learn",
            abstract: "Watch a real session and write the tightest profile that still runs the server.",
            discussion: """
                The server runs as under `brig run --profile BASE`, except that nothing is refused: the
                message policy is permissive and seccomp sends the calls that reveal needs (files opened,
                created, removed, renamed and executed; sockets, connect and bind) and every call BASE would
                deny to brig, which records them and lets them run. Landlock is off while learning.

                At the end brig writes a profile that extends BASE without its filesystem grants
                (filesystem.inherit: false) and grants what was used: paths collapsed to sensible
                directories (a package cache, a virtual environment, /usr), the TCP/UDP ports seen or
                network: none, the tools called as an allow-list (with `under` constraints for path
                arguments). Each grant has a comment saying why. Environment variables cannot be observed.

                The session is a real host talking on stdin/stdout, or --replay FILE (one JSON-RPC
                message per line, sent in order, each request waiting for its answer; a line that is not
                one is refused, exit 125, before the server starts). With --replay,
                the summary and --diff go to stdout; otherwise to stderr (stdout is the host's).

                Two commands from an unknown server to its reviewed profile:
                  brig learn --replay session.jsonl --out server.yaml -- uvx mcp-server-time
                  brig --profile server.yaml -- uvx mcp-server-time
                """
        )

        @Option(name: .customLong("out"), help: ArgumentHelp("Where to write the learned profile (default: ./brig-learned-NAME.yaml).", valueName: "FILE"))
        var out: String?

        @Option(name: .customLong("replay"), help: ArgumentHelp("Send this JSON-RPC transcript instead of relaying a host.", valueName: "FILE"))
        var replay: String?

        @Option(
            name: .customLong("diff"),
            help: ArgumentHelp(
                "Show what this run would add to an existing profile (paths, ports, tools), e.g. after a server upgrade.", valueName: "FILE"))
        var diff: String?

        @Option(name: .customLong("name"), help: ArgumentHelp("The learned profile's name (default: the command's name).", valueName: "NAME"))
        var name: String?

        @OptionGroup(title: "Sandbox (BASE is --profile, default `default`)")
        var sandbox: SandboxOptions

        @OptionGroup(title: "Message policy")
        var policyOptions: PolicyOptions

        @Argument(parsing: .captureForPassthrough, help: ArgumentHelp("The server command and its arguments, after --.", valueName: "COMMAND"))
        var command: [String] = []

        public init() {}

        public func validate() throws {
            try ServerCommand.validate(command, for: self, usage: "brig learn [OPTIONS] -- COMMAND [ARGS...]")
            try sandbox.validateWorkdir()
        }

        public func run() throws {
            var argv = command
            if argv.first == "--" { argv.removeFirst() }
            var transcript: [[UInt8]]?
            if let replay {
                try InputPath.requireReadableFile(replay, label: "--replay")
                guard let text = FileSystem.read(replay) else { throw BrigCLIError.brig("--replay \(InputPath.shown(replay)): \(SystemError.text())") }
                var lines: [[UInt8]] = []
                for (index, raw) in text.split(separator: 0x0A, omittingEmptySubsequences: false).enumerated() {
                    let t = raw.drop { $0 == 0x20 || $0 == 0x09 }
                    if t.isEmpty || t.first == UInt8(ascii: "#") { continue }
                    let line = Array(raw)
                    // A transcript that is not JSON-RPC would only teach what a confused server does.
                    let valid = line.withUnsafeBufferPointer { buf in
                        if case .success = MessageView.parse(buf) { return true } else { return false }
                    }
                    if !valid { throw BrigCLIError.brig("--replay \(InputPath.shown(replay)):\(index + 1): not a JSON-RPC message") }
                    lines.append(line)
                }
                transcript = lines
            }
            var prepared = try Prepared.make(
                argv: argv, sandbox: sandbox, policyOptions: policyOptions, relay: RelayConfiguration(),
                relayLimitGiven: false, confine: true, forcePermissive: true)
            // Whatever the learner's session does not take is released here.
            defer { prepared.release() }
            guard let plan = prepared.plan, let context = prepared.context else { throw BrigCLIError.brig("learn needs a profile") }
            let profileName = name ?? Learn.profileName(argv)
            let outPath = out ?? "brig-learned-\(profileName).yaml"
            SelfProtection.makeNonDumpable()
            let request = Learner.Request(
                spec: prepared.spec, plan: plan, relay: prepared.relay, policy: prepared.gate,
                resources: prepared.handOver(), replay: transcript)
            let code: Int32
            let observations: Observations
            do throws(SpawnError) {
                (code, observations) = try Learner.run(request)
            } catch {
                throw BrigCLIError.spawn(argv[0], error)
            }
            let writer = ProfileWriter(
                context: .init(
                    base: sandbox.profile, home: context.home, workdir: context.workdir,
                    tmpdir: context.tmpdir, baseDenyList: plan.profile.sandbox.syscallDefault == .allow))
            let result = writer.write(observations, name: profileName)
            let report: (String) -> Void = { text in
                if transcript != nil { print(text) } else { Diagnostics.write(text + "\n") }
            }
            if let diff {
                try Learn.printDiff(result, against: diff, context: context, report: report)
            } else {
                guard Learn.writeFile(outPath, result.yaml) else { throw BrigCLIError.brig("--out \(outPath): \(SystemError.text())") }
                report(
                    "brig learn: wrote \(outPath): \(result.read.count) read, \(result.write.count) write, \(result.exec.count) exec grants; "
                        + "network \(result.network == "hosts" ? "allow \(result.hosts.joined(separator: ", "))" : result.network == "none" ? "none" : "connect \(result.connect) bind \(result.bind)"); "
                        + "\(result.tools.count) tool\(result.tools.count == 1 ? "" : "s")"
                        + (result.syscalls.isEmpty ? "" : "; calls \(sandbox.profile) denies: \(result.syscalls.map { $0.0 }.joined(separator: ", "))")
                        + (code == 0 ? "" : "; the server exited with \(code)"))
            }
            throw ExitCode(code)
        }

        /// The command's name: `python -m mcp_server_time` -> mcp_server_time, `node dist/x.js` -> x.
        static func profileName(_ argv: [String]) -> String {
            var command = argv[0]
            if argv.contains("-c") {
                command = argv[0]  // `python -c CODE`, `sh -c CMD`: the code is no name
            } else if let m = argv.firstIndex(of: "-m"), m + 1 < argv.count {
                command = argv[m + 1]
            } else if argv.count > 1, ["python", "python3", "node", "bash", "sh", "ruby", "perl"].contains(where: { argv[0].hasSuffix($0) || argv[0].contains("/" + $0) }),
                let script = argv.dropFirst().first(where: { !$0.hasPrefix("-") })
            {
                command = script
                if let dot = command.lastIndex(of: "."), dot > command.startIndex { command = String(command[..<dot]) }
            }
            let base = command.split(separator: "/").last.map(String.init) ?? command
            let cleaned = String(base.map { $0.isLetter || $0.isNumber || $0 == "-" || $0 == "_" || $0 == "." ? $0 : "-" }.prefix(64))
            return cleaned.isEmpty || cleaned.hasPrefix(".") ? "server" : cleaned
        }

        /// What the new run needs that the existing profile does not grant.
        static func printDiff(_ r: ProfileWriter.Result, against file: String, context: ProfileContext, report: (String) -> Void) throws(BrigCLIError) {
            let existing: Profile
            do {
                existing = try ProfileLoader.load(file, context: context)
            } catch {
                throw .brig(error.description)
            }
            let s = existing.sandbox
            func expand(_ p: String) -> String {
                p == "$WORKDIR" ? context.workdir : p == "$TMPDIR" ? context.tmpdir : p
            }
            func covered(_ path: String, by list: [String]) -> Bool {
                let p = expand(path)
                return list.contains { d in d == "/" || p == d || p.hasPrefix(d + "/") }
            }
            var lines: [String] = []
            for g in r.read where !covered(g.path, by: s.readPaths + s.writePaths + s.execPaths) { lines.append("+ read  \(g.path)  (\(g.why))") }
            for g in r.write where !covered(g.path, by: s.writePaths) { lines.append("+ write \(g.path)  (\(g.why))") }
            for g in r.exec where !covered(g.path, by: s.execPaths) { lines.append("+ exec  \(g.path)  (\(g.why))") }
            switch s.network {
            case .all: break
            case .hosts(let rules):
                for u in r.hostUses where !rules.decide(host: u.host, port: u.port).allowed {
                    lines.append("+ network allow \(ProfileWriter.allowRules([u])[0])")
                }
            case .none:
                for h in r.hosts { lines.append("+ network allow \(h)") }
                for p in r.connect { lines.append("+ network connect \(p)") }
                for p in r.bind { lines.append("+ network bind \(p)") }
            case .ports(let c, let b):
                for p in r.connect where !c.contains(p) { lines.append("+ network connect \(p)") }
                for p in r.bind where !b.contains(p) { lines.append("+ network bind \(p)") }
            }
            if let engine = try? PolicyEngine(policy: existing.mcp, context: PolicyContext()) {
                for t in r.tools where !engine.toolVisible(t.name) { lines.append("+ tool \(t.name)  (called \(t.count) times)") }
            }
            report(
                lines.isEmpty
                    ? "brig learn --diff \(file): nothing to add; the profile covers this run"
                    : "brig learn --diff \(file): this run needs \(lines.count) more grant\(lines.count == 1 ? "" : "s"):\n" + lines.joined(separator: "\n"))
        }

        static func writeFile(_ path: String, _ text: String) -> Bool { FileSystem.write(path, Array(text.utf8)) }
    }
}
