public import ArgumentParser
import BrigContent
import BrigJSONRPC
import BrigProfile
import BrigSystem

#if canImport(Glibc)
@preconcurrency import Glibc
#endif

extension Brig {
    /// `brig pins`: the pinned definitions (trust on first use) of the servers brig has run.
    public struct Pins: ParsableCommand {
        public static let configuration = CommandConfiguration(
            commandName: "pins",
            abstract: "Show, diff, accept or reset the pinned tool, prompt and resource definitions of a server.",
            discussion: """
                The first time brig sees a server's tools, prompts, resources and instructions it \
                pins them (canonical JSON and its SHA-256). A later definition that differs is a \
                change: reported (pins: warn) or withheld from the host (pins: block) until \
                accepted here.

                A server is known by its identity: the profile's `name` when the profile sets one \
                (built-in profiles are shared by many servers and are not identities), else the \
                SHA-256 of the resolved executable's SHA-256 and its arguments. `brig pins list` \
                without --server or --profile lists every server stored with its items and their \
                state. `diff` and `accept` without --server or --profile take the one server with \
                changes (for `accept ITEM`: the one with ITEM changed, new or removed); when several \
                have, they name them and exit 125.

                Pins live in $XDG_STATE_HOME/brig/pins (else ~/.local/state/brig/pins), one \
                file per server, mode 0600 in a 0700 directory.

                Examples:
                  brig pins list
                  brig pins list --profile github
                  brig pins diff
                  brig pins accept tool:get_weather
                  brig pins diff --server 3f2a...c9 tool:read_file
                  brig pins accept --profile github --all
                  brig pins reset --profile ./servers/github.yaml
                """,
            subcommands: [List.self, Diff.self, Accept.self, Reset.self],
            defaultSubcommand: List.self
        )

        public init() {}

        /// The identity that keys a server's pins (see `ContentGuard.identity`).
        public static func identity(profileName: String?, executableSHA256: String, arguments: [String]) -> String {
            ContentGuard.identity(profileName: profileName, executableSHA256: executableSHA256, arguments: arguments)
        }
    }
}

/// Which server's pins, and where they are.
struct PinTarget: ParsableArguments {
    @Option(
        name: .customLong("server"),
        help: ArgumentHelp(
            "The server identity (a profile name, or the 64-hex identity brig reports).", valueName: "IDENTITY"))
    var server: String?

    @Option(
        name: .customLong("profile"),
        help: ArgumentHelp(
            "A profile name or YAML file: the identity is its name.", valueName: "NAME|FILE"))
    var profile: String?

    @Option(
        name: .customLong("state-dir"),
        help: ArgumentHelp(
            "brig's state directory (default: $XDG_STATE_HOME/brig, else ~/.local/state/brig).", valueName: "DIR"))
    var stateDirectory: String?

    func validate() throws {
        if server != nil, profile != nil { throw ValidationError("give --server or --profile, not both") }
        if let server, server.isEmpty { throw ValidationError("--server: empty identity") }
    }

    /// A relative --state-dir is taken against the current directory, as typed.
    var pinsDirectory: String {
        let base = stateDirectory ?? ContentGuard.defaultStateDirectory()
        return (base.hasPrefix("/") ? base : FileSystem.currentDirectory() + "/" + base) + "/pins"
    }

    /// The identity chosen, nil when neither option was given.
    func identity() throws -> String? {
        if let server { return server }
        guard let profile else { return nil }
        var name = profile
        if profile.contains("/") || profile.hasSuffix(".yaml") || profile.hasSuffix(".yml") {
            let env = ProcessEnvironment.snapshot()
            let context = ProfileContext(
                home: env["HOME"] ?? "/", workdir: FileSystem.currentDirectory(), tmpdir: "/tmp",
                environment: env)
            do {
                name = try ProfileLoader.load(profile, context: context).name
            } catch {
                throw BrigCLIError.brig(error.description)
            }
        }
        if ProfileLoader.builtinNames.contains(name) {
            throw ValidationError(
                """
                --profile \(name): a built-in profile is shared by many servers and is not an identity; \
                use --server with the identity brig reports (brig pins list shows them)
                """)
        }
        return name
    }

    func store() throws -> PinStore {
        guard let id = try identity() else { throw ValidationError("give --server IDENTITY or --profile NAME") }
        return try openStore(id)
    }

    private func openStore(_ id: String) throws(BrigCLIError) -> PinStore {
        do { return try PinStore(identity: id, directory: pinsDirectory) } catch {
            throw .brig("\(InputPath.shown(pinsDirectory)): cannot use the pins directory: \(error.message)")
        }
    }

    /// The store named by --server or --profile; without either, the one server whose pins
    /// `pending` picks out, when exactly one does. Otherwise the error names the candidates (exit
    /// 125); with none at all, nil (`what` says what was looked for, for the caller's message).
    func store(choosing pending: (PinEntry) -> Bool, what: String) throws -> PinStore? {
        if try identity() != nil { return try store() }
        let candidates = storedServers().filter { $0.entries.contains(where: pending) }
        if candidates.count == 1 { return try openStore(candidates[0].identity) }
        if candidates.isEmpty { return nil }
        let names = candidates.map { c in c.identity + (c.label.map { " (\($0))" } ?? "") }
        throw BrigCLIError.brig("\(candidates.count) servers have \(what): give --server IDENTITY (one of: \(names.joined(separator: ", ")))")
    }

    /// Every server with a pin file in the pins directory, by identity, with its pins.
    func storedServers() -> [(identity: String, label: String?, entries: [PinEntry])] {
        let dir = pinsDirectory
        guard let d = opendir(dir) else { return [] }
        var names: [String] = []
        while let ent = readdir(d) {
            let name = withUnsafeBytes(of: ent.pointee.d_name) { raw in
                String(decoding: raw.prefix { $0 != 0 }, as: UTF8.self)
            }
            if name.hasSuffix(".json"), !name.hasPrefix(".") { names.append(name) }
        }
        closedir(d)
        return names.sorted().map { name in
            // The identity is inside the file; the file name may be a sanitized form of it.
            let identity = PinTarget.storedIdentity(dir + "/" + name) ?? String(name.dropLast(5))
            let store = try? PinStore(identity: identity, directory: dir)
            let label = (try? store?.savedLabel()) ?? nil
            return (identity, label, (try? store?.list()) ?? [])
        }
    }

    /// The identity a pin file holds (its `identity` member), or nil when it holds none.
    private static func storedIdentity(_ path: String) -> String? {
        guard let bytes = FileSystem.read(path, limit: 16 << 20) else { return nil }
        let document: JSONValue? = bytes.withUnsafeBufferPointer { try? JSONValue.parse($0) }
        return document?["identity"]?.stringValue
    }

    func entries(_ store: PinStore) throws(BrigCLIError) -> [PinEntry] {
        do { return try store.list() } catch { throw .brig(error.description) }
    }
}

private func say(_ text: String) {
    print(text)
}

extension Brig.Pins {
    struct List: ParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "list",
            abstract: "List a server's pins (state, item, SHA-256, pinned at), or every server with pins.")

        @OptionGroup var target: PinTarget

        func run() throws {
            guard try target.identity() != nil else {
                listServers()
                return
            }
            let store = try target.store()
            let entries = try target.entries(store)
            say("server: \(store.identity)  (\(store.path))")
            if entries.isEmpty {
                say("no pins yet: they are recorded the first time brig relays this server's listings")
                return
            }
            for e in entries {
                var line = "  \(e.state.padding(8)) \(e.item)  sha256:\(e.sha256.prefix(12))  pinned \(e.pinnedAt)"
                if let p = e.pendingSHA256 { line += "  -> sha256:\(p.prefix(12)) seen \(e.pendingSeenAt ?? "")" }
                if let r = e.removedAt { line += "  missing since \(r)" }
                say(line)
            }
            let changed = entries.filter { $0.state == "changed" }.count
            let removed = entries.filter { $0.state == "removed" }.count
            let added = entries.filter { $0.state == "new" }.count
            if changed + removed + added > 0 {
                say("\(changed) changed, \(removed) removed, \(added) new: review with `brig pins diff`, then `brig pins accept`")
            }
        }

        /// Every server's items and their state, so that what `diff` and `accept` would pick is visible.
        private func listServers() {
            let dir = target.pinsDirectory
            let servers = target.storedServers()
            if servers.isEmpty {
                say("no pins in \(dir)")
                return
            }
            say("servers with pins in \(dir):")
            var pendingServers = 0
            for server in servers {
                let pending = server.entries.filter { $0.state != "pinned" }.count
                if pending > 0 { pendingServers += 1 }
                say(
                    "  \(server.identity)" + (server.label.map { " (\($0))" } ?? "") + "  \(server.entries.count) item(s)"
                        + (pending > 0 ? ", \(pending) to review" : ""))
                for e in server.entries { say("    \(e.state.padding(8)) \(e.item)") }
            }
            if pendingServers == 1 {
                say("review with `brig pins diff`, then `brig pins accept ITEM` (the server with changes is chosen)")
            } else if pendingServers > 1 {
                say("review with `brig pins diff --server IDENTITY`, then `brig pins accept --server IDENTITY ITEM`")
            }
        }
    }

    struct Diff: ParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "diff",
            abstract: "Show what changed in a server's definitions since they were pinned (all changed items, or ITEM).")

        @OptionGroup var target: PinTarget

        @Argument(
            help: ArgumentHelp(
                "An item: instructions, tool:NAME, prompt:NAME, resource:URI, template:URI.",
                valueName: "ITEM"))
        var item: String?

        func run() throws {
            let wanted = item
            guard
                let store = try target.store(
                    choosing: { wanted == nil ? $0.state != "pinned" : $0.item == wanted && $0.state != "pinned" },
                    what: wanted.map { "changes to \($0)" } ?? "changes to review")
            else {
                if let wanted { throw BrigCLIError.failed("\(wanted): no server has a change to it to review") }
                say("no changes: every server's listed definitions match their pins")
                return
            }
            say("server: \(store.identity)")
            let entries = try target.entries(store)
            let chosen = entries.filter { item == nil ? $0.state != "pinned" : $0.item == item }
            if let item, chosen.isEmpty { throw BrigCLIError.failed("\(item): no pin of that name for \(store.identity)") }
            if chosen.isEmpty {
                say("no changes: every listed definition matches its pin")
                return
            }
            for e in chosen {
                say("== \(e.item) (\(e.state))")
                if let diff = e.diff {
                    say(diff)
                } else if let r = e.removedAt {
                    say("no longer listed since \(r); `brig pins accept \(e.item)` forgets it")
                } else if let a = e.addedAt {
                    say("added after the server's first listing, seen \(a); `brig pins accept \(e.item)` marks it reviewed:")
                    say(e.prettyDefinition)
                } else {
                    say("unchanged since \(e.pinnedAt)")
                }
            }
        }
    }

    struct Accept: ParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "accept",
            abstract: "Accept a changed definition (its new form becomes the pin), a new one (added after the first listing), or forget a removed one.")

        @OptionGroup var target: PinTarget

        @Argument(help: ArgumentHelp("The item to accept (see `brig pins list`).", valueName: "ITEM"))
        var item: String?

        @Flag(name: .customLong("all"), help: "Accept every changed, new and removed item.")
        var all = false

        func validate() throws {
            if all == (item != nil) { throw ValidationError("give ITEM or --all") }
        }

        func run() throws {
            let wanted = item
            guard
                let store = try target.store(
                    choosing: { $0.state != "pinned" && (wanted == nil || $0.item == wanted) },
                    what: wanted.map { "\($0) to accept" } ?? "changes to accept")
            else {
                if let wanted { throw BrigCLIError.failed("\(wanted): nothing to accept in any server's pins (not changed, new or removed)") }
                say("nothing to accept")
                return
            }
            if all {
                let accepted: [String]
                do { accepted = try store.acceptAll() } catch { throw BrigCLIError.brig(error.description) }
                say(accepted.isEmpty ? "nothing to accept" : "accepted: " + accepted.joined(separator: ", "))
            } else if let item {
                let done: Bool
                do { done = try store.accept(item) } catch { throw BrigCLIError.brig(error.description) }
                guard done else { throw BrigCLIError.failed("\(item): nothing to accept (not changed, new or removed)") }
                say("accepted: \(item) (server \(store.identity))")
            }
        }
    }

    struct Reset: ParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "reset",
            abstract: "Forget every pin of a server: its next listing is a first use again.")

        @OptionGroup var target: PinTarget

        func run() throws {
            let store = try target.store()
            let count = try target.entries(store).count
            do { try store.reset() } catch { throw BrigCLIError.brig(error.description) }
            say("forgot \(count) pin(s) of \(store.identity)")
        }
    }
}

extension String {
    fileprivate func padding(_ width: Int) -> String {
        count >= width ? self : self + String(repeating: " ", count: width - count)
    }
}
