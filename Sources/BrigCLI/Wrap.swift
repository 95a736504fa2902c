public import ArgumentParser
import BrigContent
import BrigHostConfig
import BrigRelay
import BrigSystem

#if canImport(Glibc)
@preconcurrency import Glibc
#endif

extension Brig {
    /// `brig wrap`: rewrite the host configs' stdio servers to start through brig.
    public struct Wrap: ParsableCommand {
        public static let configuration = CommandConfiguration(
            commandName: "wrap",
            abstract: "List the MCP servers in this machine's host configs, and rewrite them to start through brig.",
            discussion: """
                Reads Claude Desktop (~/.config/Claude/claude_desktop_config.json), Claude Code (~/.claude.json: \
                user and per-project servers; ./.mcp.json), VS Code (~/.config/Code/User/mcp.json, \
                ./.vscode/mcp.json), Cursor (~/.cursor/mcp.json, ./.cursor/mcp.json), Zed \
                (~/.config/zed/settings.json, ./.zed/settings.json: context_servers), Windsurf \
                (~/.codeium/windsurf/mcp_config.json) and Cline; with --config, only the files named. \
                Without a server name or --all, lists the servers and what brig would do.

                A wrapped entry keeps its place and every other key; only its command and args change:
                  "command": "/usr/local/bin/brig",
                  "args": ["--profile", "python", "--", "uvx", "mcp-server-time"]
                The profile follows the command (python for uvx/uv/pip/python, node for npx/node, else \
                default) unless --profile says; each variable of the entry's env gets --env NAME (brig passes \
                on only what it is told). Where the host starts servers at / or ignores cwd (Claude Desktop, \
                Cline, Zed, Claude Code) and the entry names a cwd, it becomes --workdir. HTTP servers are \
                listed as not wrappable; a wrapped entry is not wrapped twice.

                Prints the diff and asks on a terminal ([y/N]); --yes writes without asking, --dry-run \
                only shows. Before each write the file is copied to $XDG_STATE_HOME/brig/wrap/backups/, \
                and the exact text replaced is kept in $XDG_STATE_HOME/brig/wrap/records/ for \
                `brig unwrap`. Files are replaced atomically, mode kept. A file brig cannot parse is \
                not written (the error names its line). Exit 0, or 125 when a file or name was at fault.

                Examples:
                  brig wrap                    # list
                  brig wrap --all --dry-run
                  brig wrap time git --yes
                  brig wrap --config ./my-host.json --profile strict fetch
                """
        )

        @Argument(help: ArgumentHelp("The servers to wrap (their names in the config).", valueName: "NAME"))
        var names: [String] = []

        @Flag(name: .customLong("all"), help: "Wrap every stdio server not wrapped yet.")
        var all = false

        @OptionGroup var files: HostConfigOptions

        @Option(
            name: .customLong("profile"),
            help: ArgumentHelp(
                "The profile to write (default: chosen from each server's command).", valueName: "NAME|FILE"))
        var profile: String?

        @Option(
            name: .customLong("workdir"),
            help: ArgumentHelp(
                "Write --workdir DIR for the chosen servers (default: the entry's cwd where the host ignores it).", valueName: "DIR"))
        var workdir: String?

        @Option(
            name: .customLong("brig"),
            help: ArgumentHelp(
                "The command written for brig (default: this brig's absolute path).", valueName: "PATH"))
        var brigCommand: String?

        @OptionGroup var confirm: ConfirmOptions

        public init() {}

        public func validate() throws {
            if all && !names.isEmpty { throw ValidationError("give server names or --all, not both") }
            if let workdir, !workdir.hasPrefix("/") { throw ValidationError("--workdir \(workdir): give an absolute path (hosts start servers elsewhere)") }
        }

        public func run() throws {
            let brig = brigCommand ?? HostConfigOptions.selfPath()
            var session = try WrapSession(configs: files.load(), brigCommands: [brig])
            session.list()
            guard all || !names.isEmpty else { return try session.finish() }
            let chosen = session.select(names: names, all: all, wrapped: false)
            session.brigWritten = brig
            session.planWrap(chosen, brig: brig, profile: profile, workdir: workdir)
            try session.commit(confirm: confirm, verb: "wrap")
            try session.finish()
        }
    }

    /// `brig unwrap`: restore entries `brig wrap` rewrote.
    public struct Unwrap: ParsableCommand {
        public static let configuration = CommandConfiguration(
            commandName: "unwrap",
            abstract: "Restore host config entries that brig wrap rewrote.",
            discussion: """
                Puts back the text brig wrap replaced, byte for byte, from its record in \
                $XDG_STATE_HOME/brig/wrap/records/ (edits elsewhere in the file are kept). An entry whose \
                command and args were edited since, or wrapped on another machine, is rebuilt from the \
                command line after "--" instead, and says so. Same files, --yes and --dry-run as brig wrap.

                Examples:
                  brig unwrap --all --dry-run
                  brig unwrap time --yes
                """
        )

        @Argument(help: ArgumentHelp("The servers to unwrap.", valueName: "NAME"))
        var names: [String] = []

        @Flag(name: .customLong("all"), help: "Unwrap every wrapped server.")
        var all = false

        @OptionGroup var files: HostConfigOptions
        @OptionGroup var confirm: ConfirmOptions

        public init() {}

        public func validate() throws {
            if all && !names.isEmpty { throw ValidationError("give server names or --all, not both") }
        }

        public func run() throws {
            var session = try WrapSession(configs: files.load(), brigCommands: [HostConfigOptions.selfPath()])
            session.list()
            guard all || !names.isEmpty else { return try session.finish() }
            let chosen = session.select(names: names, all: all, wrapped: true)
            session.planUnwrap(chosen, recordedOnly: all)
            try session.commit(confirm: confirm, verb: "unwrap")
            try session.finish()
        }
    }
}

/// `--config FILE`: the host configs to read instead of the ones found.
public struct HostConfigOptions: ParsableArguments {
    @Option(
        name: .customLong("config"),
        help: ArgumentHelp(
            "Read this host config only (repeatable); its layout (mcpServers, servers, context_servers) is read from its keys.",
            valueName: "FILE"))
    var configs: [String] = []

    public init() {}

    /// This brig's absolute path (`/proc/self/exe`), so that hosts with a short PATH find it.
    static func selfPath() -> String {
        FileIO.resolved("/proc/self/exe")
    }

    static func currentDirectory() -> String { FileSystem.currentDirectory() }

    /// The files named with --config, else every host config found here.
    func load() throws(BrigCLIError) -> [LoadedConfig] {
        let env = ProcessEnvironment.snapshot()
        let home = ProcessEnvironment.home(env)
        let cwd = HostConfigOptions.currentDirectory()
        let known = HostDiscovery.candidates(home: home, configHome: env["XDG_CONFIG_HOME"], project: cwd)
        if configs.isEmpty {
            return unique(HostDiscovery.discover(home: home, configHome: env["XDG_CONFIG_HOME"], project: cwd).map(LoadedConfig.load))
        }
        return unique(
            try configs.map { name throws(BrigCLIError) in
                let absolute = name.hasPrefix("/") ? name : cwd + "/" + name
                try InputPath.requireReadableFile(absolute, label: "--config")
                let resolved = FileIO.resolved(absolute)
                // A host's own file named with --config keeps what is known of that host.
                if let k = known.first(where: { FileIO.resolved($0.path) == resolved }) {
                    return LoadedConfig.load(HostConfigFile(host: k.host, path: absolute, scope: k.scope))
                }
                return LoadedConfig.load(HostConfigFile(host: .custom(layout: .mcpServers), path: absolute, scope: "--config"))
            })
    }

    /// One config per file a path resolves to (a file named twice, or reached through a link).
    func unique(_ loaded: [LoadedConfig]) -> [LoadedConfig] {
        var seen = Set<String>()
        return loaded.filter { seen.insert($0.resolvedPath).inserted }
    }
}

/// `--yes` and `--dry-run`.
public struct ConfirmOptions: ParsableArguments {
    @Flag(name: .customLong("yes"), help: "Write without asking.")
    var yes = false

    @Flag(name: .customLong("dry-run"), help: "Only show the changes; write nothing.")
    var dryRun = false

    public init() {}

    public func validate() throws {
        if yes && dryRun { throw ValidationError("--yes and --dry-run exclude each other") }
    }
}

/// The configs of one `brig wrap`/`unwrap` run, the changes planned, and their writing.
struct WrapSession {
    var configs: [LoadedConfig]
    var brigCommands: Set<String>
    /// Per config index: the edits and their records.
    var plans: [Int: [(entry: ServerEntry, edit: TextEdit, notes: [String])]] = [:]
    /// brig's own errors met (printed as they come); the exit code is 125 when there is one.
    var failed = false
    let store = WrapStore(stateDirectory: ContentGuard.defaultStateDirectory())
    let home = ProcessEnvironment.home(ProcessEnvironment.snapshot())

    /// Per config index: brig's records of the entries it wrapped there.
    var records: [Int: [WrapRecord]] = [:]

    init(configs: [LoadedConfig], brigCommands: Set<String>) {
        self.configs = configs
        self.brigCommands = brigCommands
        for (k, c) in configs.enumerated() where c.problem == nil {
            do {
                records[k] = try store.records(for: c.resolvedPath)
            } catch {
                self.error(error.message)
            }
        }
    }

    /// Whether `e` of config `k` is wrapped: its command is brig, or its span reads as brig wrote it
    /// (a wrap made with --brig PATH).
    func isWrapped(_ e: ServerEntry, config k: Int) -> Bool {
        if e.isWrapped(brigCommands: brigCommands) { return true }
        guard let doc = configs[k].document, let span = Wrapping.recordedRange(of: e) else { return false }
        return records[k]?.contains { $0.pointer == e.pointer && $0.wrapped == doc.text(span) } ?? false
    }

    mutating func error(_ message: String) {
        failed = true
        let line = "brig: " + (message.split(separator: "\n").first.map(String.init) ?? message) + "\n"
        line.withCString { _ = write(2, $0, strlen($0)) }
    }

    func note(_ message: String) {
        let line = "brig: " + message + "\n"
        line.withCString { _ = write(2, $0, strlen($0)) }
    }

    func shown(_ path: String) -> String {
        if !home.isEmpty && home != "/" && path.hasPrefix(home + "/") { return "~" + path.dropFirst(home.count) }
        return path
    }

    /// The listing on stdout: each file, each server, and what brig would do with it.
    mutating func list() {
        if configs.isEmpty {
            note("no host configs found (looked for Claude Desktop, Claude Code, VS Code, Cursor, Zed, Windsurf and Cline; name one with --config FILE)")
        }
        var out = ""
        for (k, c) in configs.enumerated() {
            out += "\(c.file.host.name): \(shown(c.file.path))\n"
            if let problem = c.problem {
                out += "  not readable: \(problem)\n"
                error(problem + "; not written")
                continue
            }
            if c.entries.isEmpty { out += "  no servers\n" }
            for e in c.entries {
                let label = (e.project.map { "[\(shown($0))] " } ?? "") + e.name
                out += "  \(label.padded(24)) " + describe(e, wrapped: isWrapped(e, config: k)) + "\n"
            }
        }
        print(out, terminator: "")
    }

    func describe(_ e: ServerEntry, wrapped: Bool) -> String {
        switch e.transport {
        case .remote(let what): return "remote  \(what): not wrappable (brig runs stdio servers)"
        case .other(let why): return "-       \(why): not wrappable"
        case .invalid(let key, let line, let message): return "invalid line \(line): \(key): \(message)"
        case .stdio:
            let line = ([e.command] + e.args).map(ShellWord.quote).joined(separator: " ")
            if wrapped {
                let profile = e.wrappedCommandLine.flatMap { l in l.options.firstIndex(of: "--profile").flatMap { l.options.indices.contains($0 + 1) ? l.options[$0 + 1] : nil } }
                return "stdio   wrapped (profile \(profile ?? "default")): \(line)"
            }
            return "stdio   \(line)  -> profile \(Wrapping.profile(for: e.command))"
        }
    }

    /// The entries the names (or --all) choose; a name that matches nothing is an error.
    mutating func select(names: [String], all: Bool, wrapped: Bool) -> [(config: Int, entry: ServerEntry)] {
        var chosen: [(Int, ServerEntry)] = []
        var matched = Set<String>()
        var refusals: [(name: String, message: String)] = []
        for (k, c) in configs.enumerated() where c.problem == nil {
            for e in c.entries {
                let named = names.contains(e.name)
                guard all || named else { continue }
                if named { matched.insert(e.name) }
                switch e.transport {
                case .stdio:
                    if isWrapped(e, config: k) == wrapped {
                        chosen.append((k, e))
                    } else if named {
                        note("\(e.name) in \(shown(c.file.path)): \(wrapped ? "not wrapped" : "already wrapped"); left as it is")
                    }
                case .remote:
                    if named { refusals.append((e.name, "\(c.file.path):\(e.line): \(e.keyPath): a remote (HTTP) server: not wrappable, brig runs stdio servers")) }
                case .other(let why):
                    if named { refusals.append((e.name, "\(c.file.path):\(e.line): \(e.keyPath): \(why): not wrappable")) }
                case .invalid(let key, let line, let message):
                    if named || all { error("\(c.file.path):\(line): \(key): \(message); left as it is") }
                }
            }
        }
        // A name whose only entries cannot be wrapped is an error; beside a stdio entry of that name, a note.
        for (name, message) in refusals {
            if chosen.contains(where: { $0.1.name == name }) { note(message) } else { error(message) }
        }
        for n in names where !matched.contains(n) {
            error("no server \(n) in \(configs.isEmpty ? "any host config" : configs.map { shown($0.file.path) }.joined(separator: ", "))")
        }
        return chosen
    }

    mutating func planWrap(_ chosen: [(config: Int, entry: ServerEntry)], brig: String, profile: String?, workdir: String?) {
        for (k, e) in chosen {
            guard let doc = configs[k].document else { continue }
            do {
                let plan = try Wrapping.wrap(e, in: doc, host: configs[k].file.host, brig: brig, profile: profile, workdir: workdir, home: home)
                plans[k, default: []].append((e, plan.edit, ["\(e.name): profile \(plan.profile)"] + plan.notes.map { "\(e.name): \($0)" }))
            } catch {
                self.error("\(configs[k].file.path):\(e.line): \(error.message)")
            }
        }
    }

    /// `recordedOnly` (--all): only the entries brig has a record of wrapping; one wrapped by hand
    /// is unwrapped when it is named.
    mutating func planUnwrap(_ chosen: [(config: Int, entry: ServerEntry)], recordedOnly: Bool) {
        for (k, e) in chosen {
            guard let doc = configs[k].document else { continue }
            let record = records[k]?.last { $0.pointer == e.pointer }
            if recordedOnly && record == nil {
                note("\(e.name) in \(shown(configs[k].file.path)): brig has no record of wrapping it; left as it is (name it to unwrap it)")
                continue
            }
            do {
                let plan = try Wrapping.unwrap(e, in: doc, recorded: record.map { ($0.original, $0.wrapped) })
                plans[k, default: []].append((e, plan.edit, (plan.exact ? ["\(e.name): restored as it was"] : []) + plan.notes.map { "\(e.name): \($0)" }))
            } catch {
                self.error("\(configs[k].file.path):\(e.line): \(error.message)")
            }
        }
    }

    /// The command `brig wrap` writes.
    var brigWritten = ""

    /// Shows the diffs, asks, writes (backup, records, atomic replace); `finish()` then gives the
    /// exit code. A refused question is exit 1.
    mutating func commit(confirm: ConfirmOptions, verb: String) throws(BrigCLIError) {
        var changed: [(Int, [UInt8])] = []
        for k in plans.keys.sorted() {
            guard let doc = configs[k].document, let edits = plans[k], !edits.isEmpty else { continue }
            let new = Wrapping.apply(edits.map(\.edit), to: doc.bytes)
            // The result must parse, and every changed entry must read as intended.
            do {
                let again = try JSONCDocument(bytes: new)
                let entries = ServerList.entries(in: again, layout: configs[k].file.host.layout)
                for (e, _, _) in edits {
                    let server = verb == "wrap" ? [e.command] + e.args : e.wrappedCommandLine?.server
                    guard let now = entries.first(where: { $0.pointer == e.pointer }), now.transport == .stdio,
                        verb == "wrap"
                            ? (now.command == brigWritten && now.wrappedCommandLine?.server == server)
                            : ([now.command] + now.args == server)
                    else {
                        throw HostConfigError("\(e.keyPath) does not read as \(verb == "wrap" ? "wrapped" : "unwrapped") after the edit")
                    }
                }
            } catch let e as JSONCError {
                error("\(configs[k].file.path): brig's edit would not parse (\(e)); not written")
                continue
            } catch {
                self.error("\(configs[k].file.path): \(error); not written")
                continue
            }
            print(
                LineDiff.render(path: shown(configs[k].file.path), old: doc.bytes, edits: edits.map(\.edit), label: verb == "wrap" ? "wrapped" : "unwrapped"),
                terminator: "")
            for (_, _, notes) in edits { for n in notes { print("  " + n) } }
            changed.append((k, new))
        }
        if changed.isEmpty {
            note("nothing to \(verb)")
            return
        }
        if confirm.dryRun {
            note("dry run: nothing written")
            return
        }
        if !confirm.yes {
            guard isatty(0) == 1 else {
                throw .brig("\(verb): not asking without a terminal: pass --yes to write, or --dry-run to only show")
            }
            let count = changed.count
            let prompt = "Write \(count == 1 ? "this change" : "these changes to \(count) files")? [y/N] "
            prompt.withCString { _ = write(2, $0, strlen($0)) }
            let answer = readLine(strippingNewline: true)?.lowercased() ?? ""
            guard answer == "y" || answer == "yes" else { throw .failed("nothing written") }
        }
        for (k, new) in changed {
            let c = configs[k]
            guard let doc = c.document, let edits = plans[k] else { continue }
            do {
                let backup = try store.backup(doc.bytes, of: c.resolvedPath)
                var records = try store.records(for: c.resolvedPath)
                for (e, edit, _) in edits {
                    records.removeAll { $0.pointer == e.pointer }
                    if verb == "wrap" { records.append(WrapRecord(pointer: e.pointer, original: edit.original, wrapped: edit.replacement)) }
                }
                try store.save(records, for: c.resolvedPath)
                try FileIO.writeAtomically(c.resolvedPath, new, mode: 0o600, expecting: doc.bytes)
                note("\(verb == "wrap" ? "wrapped" : "unwrapped") \(edits.map(\.entry.name).joined(separator: ", ")) in \(shown(c.file.path)) (backup: \(backup))")
            } catch {
                self.error(error.message)
            }
        }
    }

    /// Exit 125 when one of brig's own errors was met (each already printed), else success.
    func finish() throws(ExitCode) {
        if failed { throw ExitCode(125) }
    }
}

/// A word of a command line as a shell would need it (for display only).
enum ShellWord {
    static func quote(_ word: String) -> String {
        if !word.isEmpty && word.unicodeScalars.allSatisfy({ $0.properties.isAlphabetic || ("0"..."9").contains($0) || "-_./=:@%+,".unicodeScalars.contains($0) }) {
            return word
        }
        return "'" + word.replacing("'", with: "'\\''") + "'"
    }
}

extension String {
    fileprivate func padded(_ width: Int) -> String {
        count >= width ? self : self + String(repeating: " ", count: width - count)
    }
}

/// `brig check --server NAME`: what brig would do with a server of the host configs.
enum ServerCheck {
    /// Prints, for each entry named `name`, where it is, whether it is wrapped and how brig starts
    /// it, then `brig check`'s report for that command line in the directory the host starts it in.
    static func run(name: String, files: HostConfigOptions) throws {
        let configs = try files.load()
        let brigCommands: Set<String> = [HostConfigOptions.selfPath()]
        let home = ProcessEnvironment.home(ProcessEnvironment.snapshot())
        var found = false
        for c in configs {
            for e in c.entries where e.name == name {
                found = true
                try report(e, in: c, brigCommands: brigCommands, home: home)
            }
        }
        if !found {
            for c in configs { if let p = c.problem { throw BrigCLIError.brig(p) } }
            throw BrigCLIError.brig(
                "--server \(name): no such server in \(configs.isEmpty ? "any host config (name one with --config FILE)" : configs.map(\.file.path).joined(separator: ", "))")
        }
    }

    static func report(_ e: ServerEntry, in c: LoadedConfig, brigCommands: Set<String>, home: String) throws {
        let host = c.file.host
        print("server: \(e.name)  (\(host.name), \(c.file.path):\(e.line), \(e.keyPath))")
        switch e.transport {
        case .remote(let what):
            print("transport: remote \(what): not wrappable (brig runs stdio servers)")
            return
        case .other(let why):
            print("transport: \(why): not wrappable")
            return
        case .invalid(let key, let line, let message):
            throw BrigCLIError.brig("\(c.file.path):\(line): \(key): \(message)")
        case .stdio:
            break
        }
        var options: [String]
        var server: [String]
        if e.isWrapped(brigCommands: brigCommands) {
            guard let line = e.wrappedCommandLine else {
                throw BrigCLIError.brig("\(c.file.path):\(e.line): \(e.keyPath).args: a brig command line without a server after \"--\"")
            }
            options = line.options
            server = line.server
            print("wrapped: yes: \(([e.command] + e.args).map(ShellWord.quote).joined(separator: " "))")
        } else {
            guard let doc = c.document else { return }
            let plan = try Wrapping.wrap(e, in: doc, host: host, brig: "brig", profile: nil, workdir: nil, home: home)
            options = plan.options
            server = [e.command] + e.args
            print("wrapped: no: brig wrap \(ShellWord.quote(e.name)) would start it as: brig \((options + ["--"] + server).map(ShellWord.quote).joined(separator: " "))")
            for n in plan.notes { print("  " + n) }
        }
        if options.first == "run" { options.removeFirst() }
        // The directory the host starts it in, unless brig is given --workdir.
        var start: String
        var how: String
        switch host.startDirectory {
        case .root:
            start = "/"; how = "\(host.name) starts every server at /"
        case .rootBeforeWorktree:
            start = "/"; how = "\(host.name) starts servers at / until a worktree is open"
        case .workspaceOrHome:
            start = e.cwd ?? c.file.scope.projectDirectory ?? home
            how = e.cwd != nil ? "its cwd" : (c.file.scope.projectDirectory != nil ? "the workspace folder" : "$HOME (no workspace folder open)")
        case .launchDirectory:
            start = e.project ?? c.file.scope.projectDirectory ?? HostConfigOptions.currentDirectory()
            how = e.project != nil || c.file.scope.projectDirectory != nil ? "the project" : "the launch directory (here: the current directory)"
        case .cwdOrUnknown:
            start = e.cwd ?? c.file.scope.projectDirectory ?? HostConfigOptions.currentDirectory()
            how = e.cwd != nil ? "its cwd" : "not documented (here: \(c.file.scope.projectDirectory != nil ? "the project" : "the current directory"))"
        }
        if start.hasPrefix("~/") { start = home + start.dropFirst() }
        print("host starts it in: \(start)  (\(how))" + (options.contains("--workdir") ? "; brig's --workdir replaces it" : ""))
        print("")
        guard chdir(start) == 0 else {
            throw BrigCLIError.brig("\(c.file.path):\(e.line): \(e.name) starts in \(start): \(SystemError.text())")
        }
        let runArgs: Brig.Run
        do {
            runArgs = try Brig.Run.parse(options + ["--"] + server)
        } catch {
            throw BrigCLIError.brig("\(c.file.path):\(e.line): \(e.keyPath).args: brig's options do not parse: \(Brig.message(for: error))")
        }
        var check = try Brig.Check.parse([])
        check.sandbox = runArgs.sandbox
        check.policyOptions = runArgs.policyOptions
        check.command = server
        let env = ProcessEnvironment.snapshot()
        if (try? CommandResolver.resolve(server[0], searchPath: env["PATH"], workingDirectory: start)) == nil {
            print("command: \(server[0]) is not found on this PATH (the host's may differ): its command and argument grants are not shown")
            print("")
            check.command = []
        }
        try check.validate()
        try check.run()
    }
}

extension String {
    /// The directory of a `project DIR` scope.
    fileprivate var projectDirectory: String? {
        hasPrefix("project ") ? String(dropFirst("project ".count)) : nil
    }
}
