public import ArgumentParser
import BrigAudit
import BrigForward
import BrigJSONRPC
import BrigProfile
import BrigSystem

#if canImport(Glibc)
@preconcurrency import Glibc
#endif

extension Brig {
    /// `brig audit verify|show|tail`: read the audit trail that `brig run` writes.
    public struct Audit: ParsableCommand {
        public static let configuration = CommandConfiguration(
            commandName: "audit",
            abstract: "Verify, show and follow brig's audit trail (hash-chained JSON Lines).",
            discussion: """
                Each brig session appends records to $XDG_STATE_HOME/brig/audit/NAME.jsonl (NAME: the \
                profile's name), chained with HMAC-SHA256 under the key in $XDG_STATE_HOME/brig/audit.key. \
                The record format is described in docs/audit.md.
                """,
            subcommands: [Verify.self, Show.self, Tail.self, Forward.self]
        )

        public init() {}
    }
}

/// Where the audit commands find logs and keys.
struct AuditLocation: ParsableArguments {
    @Option(
        name: .customLong("profile"),
        help: ArgumentHelp(
            "Take the log path, key file and anchor from this profile's audit: section.", valueName: "NAME|FILE"))
    var profile: String?

    var environment: [String: String] { ProcessEnvironment.snapshot() }

    func loadProfile() throws(BrigCLIError) -> Profile? {
        guard let profile else { return nil }
        let env = environment
        let home = ProcessEnvironment.home(env)
        let cwd = FileSystem.currentDirectory()
        let context = ProfileContext(home: home, workdir: cwd, tmpdir: "/tmp", environment: env)
        do {
            return try ProfileLoader.load(profile, context: context)
        } catch {
            throw .brig(error.description)
        }
    }

    /// The log to read when no FILE is given: the profile's (or the default profile's).
    func defaultLog(profile p: Profile?) -> String {
        if let path = p?.audit.path, path != "-" { return path }
        return AuditReader.defaultPath(name: p?.name ?? "default", environment: environment)
    }

    /// The files to read: each given path with its rotated files (oldest first); with none, the
    /// profile's log (or the default profile's). A file that cannot be read is an error (exit 125,
    /// naming it) before anything is read.
    func files(_ given: [String], profile p: Profile?) throws(BrigCLIError) -> [String] {
        let paths = given.isEmpty ? [defaultLog(profile: p)] : given
        let set = paths.flatMap { AuditVerifier.rotatedSet($0) }
        for file in set { try InputPath.requireReadableFile(file) }
        return set
    }

    /// The records of `files` in order; a file with lines but not one record in them is not an
    /// audit log (exit 125), rather than an empty table.
    static func records(files: [String]) throws(BrigCLIError) -> [RecordFields] {
        var all: [RecordFields] = []
        for file in files {
            let records = AuditReader.records(files: [file])
            if records.isEmpty, let size = fileSize(file), size > 0 {
                throw .brig("\(InputPath.shown(file)): not an audit log (no line of it is a record)")
            }
            all += records
        }
        return all
    }

    /// A file with bytes in it that do not even start like a record (a partial first record, from
    /// a brig killed while writing it, does).
    static func isNotAuditLog(_ path: String) -> Bool {
        guard let f = fopen(path, "r") else { return false }
        defer { fclose(f) }
        let start = Array("{\"@timestamp\"".utf8)
        var head = [UInt8](repeating: 0, count: start.count)
        let n = fread(&head, 1, head.count, f)
        return n > 0 && Array(head[..<n]) != Array(start[..<n])
    }

    private static func fileSize(_ path: String) -> Int64? {
        var st = stat()
        return stat(path, &st) == 0 ? Int64(st.st_size) : nil
    }
}

extension Brig.Audit {
    /// `brig audit verify FILE...`
    public struct Verify: ParsableCommand {
        public static let configuration = CommandConfiguration(
            commandName: "verify",
            abstract: "Check the HMAC chain of audit logs: exit 0 when intact, 1 when damaged.",
            discussion: """
                Names the first bad record (FILE:LINE, sequence) and the damage: modified, inserted, \
                deleted, reordered or truncated. A session that ended without its end record (brig \
                was killed) is a warning, not damage: exit 0.

                The key: --key-file, else the profile's audit.key_file when --profile is given, \
                else the default $XDG_STATE_HOME/brig/audit.key ($HOME/.local/state/brig/audit.key). \
                When no record verifies with it, verify says so (a wrong key?) and names where the \
                key came from, exit 1.

                A FILE that cannot be read (missing, unreadable, a directory) exits 125 with one line \
                naming it; an empty log is intact with no records.

                Rotated files: given NAME.jsonl, verify reads NAME.jsonl.N ... NAME.jsonl.1, NAME.jsonl \
                (oldest first) as one chain; a missing file in the middle shows as deleted records. \
                When the oldest files were rotated away, the chain starts later (a warning).

                A cut tail (the newest records removed) is only caught with --anchor (or the profile's \
                audit.anchor): the anchor file holds the latest sequence and MAC.

                Examples:
                  brig audit verify ~/.local/state/brig/audit/default.jsonl
                  brig audit verify --profile ./server.yaml
                  brig audit verify --key-file /secure/audit.key --anchor /secure/srv.anchor srv.jsonl
                """
        )

        @Argument(help: ArgumentHelp("Audit logs (default: the profile's log).", valueName: "FILE"))
        var files: [String] = []

        @Option(name: .customLong("key-file"), help: ArgumentHelp("The HMAC key file.", valueName: "K"))
        var keyFile: String?

        @Option(name: .customLong("anchor"), help: ArgumentHelp("The anchor file (latest sequence and MAC).", valueName: "A"))
        var anchor: String?

        @Flag(help: "A collector's file: several chains (logs, machines) interleaved, records possibly sent twice.")
        var interleaved = false

        @OptionGroup var location: AuditLocation

        public init() {}

        public func run() throws {
            let profile = try location.loadProfile()
            let keyPath: String, keySource: String
            if let keyFile {
                (keyPath, keySource) = (keyFile, "--key-file \(InputPath.shown(keyFile))")
            } else if let k = profile?.audit.keyFile {
                (keyPath, keySource) = (k, "the profile's audit.key_file \(InputPath.shown(k))")
            } else {
                keyPath = AuditKey.defaultPath(environment: location.environment)
                keySource = "the default key file \(InputPath.shown(keyPath))"
            }
            let key: [UInt8]
            do { key = try AuditKey.load(keyPath) } catch { throw BrigCLIError.brig(error.description) }
            let paths = try location.files(files, profile: profile)
            if interleaved { return try verifyInterleaved(paths, key: key, keySource: keySource) }
            let report = AuditVerifier.verify(files: paths, key: key, anchor: anchor ?? profile?.audit.anchor)
            if report.records == 0, let odd = paths.first(where: AuditLocation.isNotAuditLog) {
                throw BrigCLIError.brig("\(InputPath.shown(odd)): not an audit log (no line of it is a record)")
            }
            for w in report.warnings { print("warning: \(w)") }
            if let problem = report.problem {
                if report.noRecordVerifies {
                    throw BrigCLIError.failed("\(InputPath.shown(problem.file)): no record verifies with the key from \(keySource): wrong key?")
                }
                print("damaged: \(problem)")
                throw BrigCLIError.failed("damaged: \(InputPath.shown(problem.file))\(problem.line > 0 ? ":\(problem.line)" : ""): \(problem.damage.rawValue)")
            }
            let range = report.firstSequence.map { "sequences \($0)-\(report.lastSequence ?? $0)" } ?? "no records"
            print("intact: \(report.records) records, \(report.sessions) sessions, \(range), \(paths.count) file\(paths.count == 1 ? "" : "s")")
        }

        private func verifyInterleaved(_ paths: [String], key: [UInt8], keySource: String) throws(BrigCLIError) {
            let report = AuditVerifier.verifyInterleaved(files: paths, key: key)
            if report.noRecordVerifies, let first = report.problems.first {
                throw .failed("\(InputPath.shown(first.file)): no record verifies with the key from \(keySource): wrong key?")
            }
            if report.records == 0, report.problems.isEmpty, let odd = paths.first(where: AuditLocation.isNotAuditLog) {
                throw .brig("\(InputPath.shown(odd)): not an audit log (no line of it is a record)")
            }
            var out = ""
            for w in report.warnings { out += "warning: \(w)\n" }
            for d in report.duplicates { out += "duplicate: \(d)\n" }
            for p in report.problems { out += "damaged: \(p)\n" }
            print(out, terminator: "")
            if let first = report.problems.first {
                fflush(stdout)
                throw .failed(
                    "damaged: \(report.problems.count) problem\(report.problems.count == 1 ? "" : "s"), the first \(InputPath.shown(first.file))\(first.line > 0 ? ":\(first.line)" : ""): \(first.damage.rawValue)"
                )
            }
            print(
                "intact: \(report.records) records, \(report.chains) chain\(report.chains == 1 ? "" : "s"), \(report.sessions) sessions, \(report.duplicates.count) duplicates, \(paths.count) file\(paths.count == 1 ? "" : "s")"
            )
        }
    }

    /// `brig audit show [FILE]`
    public struct Show: ParsableCommand {
        public static let configuration = CommandConfiguration(
            commandName: "show",
            abstract: "Print audit records as a table (or as JSON Lines), filtered.",
            discussion: """
                Reads FILE with its rotated files (oldest first); default: the profile's log. A session's \
                end row has its blocked-syscall totals (every refused call, and how many were not \
                recorded one by one). A FILE that cannot be read, or holds no record, exits 125.

                Examples:
                  brig audit show --outcome denied
                  brig audit show --since 1h --tool write_file
                  brig audit show --session 3f2a --json | jq .mcp
                  brig audit show --connections --outcome denied
                  brig audit show --host api.github.com --json | jq .brig.detail

                Egress connections (sandbox.network.allow) are records of their own, one per \
                connection: host, port, resolved address, decision and rule, bytes each way, duration, \
                and the request in flight when it was opened.
                """
        )

        @Argument(help: ArgumentHelp("An audit log (default: the profile's log).", valueName: "FILE"))
        var file: String?

        @Option(help: ArgumentHelp("Only records at or after T: 2026-11-25, 2026-11-25T19:40:00Z, or an age like 30m, 2h, 7d.", valueName: "T"))
        var since: String?

        @Option(help: ArgumentHelp("Only messages with this method.", valueName: "M"))
        var method: String?

        @Option(help: ArgumentHelp("Only messages naming this tool.", valueName: "T"))
        var tool: String?

        @Option(help: ArgumentHelp("Only denied or allowed messages.", valueName: "denied|allowed"))
        var outcome: String?

        @Option(help: ArgumentHelp("Only this session (an id or its prefix).", valueName: "S"))
        var session: String?

        @Flag(help: "Only egress connections (the proxy's records under an allow-list of hosts).")
        var connections = false

        @Option(help: ArgumentHelp("Only egress connections to this host (as the server named it; implies --connections).", valueName: "H"))
        var host: String?

        @Flag(help: "Print the matching records as JSON Lines.")
        var json = false

        @OptionGroup var location: AuditLocation

        public init() {}

        public func validate() throws {
            if let outcome, outcome != "denied" && outcome != "allowed" {
                throw ValidationError("--outcome: expected denied or allowed, got \"\(outcome)\"")
            }
            if let since, AuditTable.parseSince(since) == nil {
                throw ValidationError("--since: expected a date, a timestamp, or an age like 30m, 2h, 7d; got \"\(since)\"")
            }
        }

        public func run() throws {
            let profile = try location.loadProfile()
            let paths = try location.files(file.map { [$0] } ?? [], profile: profile)
            let sinceMicros = since.flatMap(AuditTable.parseSince)
            let table = AuditTable(color: isatty(1) == 1)
            var out = json ? "" : table.header() + "\n"
            for r in try AuditLocation.records(files: paths) {
                if let sinceMicros, let t = r.value["@timestamp"]?.stringValue.flatMap(parseTimestamp), t < sinceMicros { continue }
                if let method, r["mcp.method"]?.stringValue != method { continue }
                if let tool, r["mcp.tool"]?.stringValue != tool { continue }
                if let session, !(r.sessionID ?? "").hasPrefix(session) { continue }
                let connection = r["event.action"]?.stringValue == "connection"
                if (connections || host != nil) && !connection { continue }
                if let host, r["brig.detail.host"]?.stringValue?.lowercased() != host.lowercased() { continue }
                if let outcome {
                    let allowed = connection ? r["brig.detail.decision"]?.stringValue.map { $0 == "allowed" } : r["mcp.decision.allowed"]?.boolValue
                    guard let allowed, allowed == (outcome == "allowed") else { continue }
                }
                out += json ? r.value.jsonText + "\n" : table.row(r) + "\n"
                if out.utf8.count > 1 << 16 {
                    print(out, terminator: "")
                    out = ""
                }
            }
            print(out, terminator: "")
        }
    }

    /// `brig audit tail [FILE] -f`
    public struct Tail: ParsableCommand {
        public static let configuration = CommandConfiguration(
            commandName: "tail",
            abstract: "Print denials and blocked syscalls; with -f, follow the log as brig appends to it.",
            discussion: """
                Follows FILE across rotation (when NAME.jsonl is renamed to NAME.jsonl.1, tail finishes \
                the old file and continues in the new one); with -f, a FILE that does not exist yet is \
                waited for. A FILE that cannot be read, or holds no record, exits 125.

                Examples:
                  brig audit tail -f
                  brig audit tail --profile ./server.yaml -f --all
                """
        )

        @Argument(help: ArgumentHelp("An audit log (default: the profile's log).", valueName: "FILE"))
        var file: String?

        @Flag(name: [.short, .customLong("follow")], help: "Keep reading as records are appended.")
        var follow = false

        @Option(name: .customShort("n"), help: ArgumentHelp("How many past denials to print first.", valueName: "N"))
        var count = 10

        @Flag(help: "Print every record, not only denials.")
        var all = false

        @OptionGroup var location: AuditLocation

        public init() {}

        public func run() throws {
            let profile = try location.loadProfile()
            let path = file ?? location.defaultLog(profile: profile)
            // Following a log that brig has not written yet waits for it; reading one does not.
            let missing = access(path, F_OK) != 0 && errno == ENOENT && AuditVerifier.rotatedSet(path) == [path]
            let files = try follow && missing ? [] : location.files([path], profile: profile)
            let table = AuditTable(color: isatty(1) == 1)
            let past = try AuditLocation.records(files: files).filter { all || AuditTable.isDenial($0) }
            for r in past.suffix(max(count, 0)) { print(table.line(r)) }
            guard follow else { return }
            let follower = AuditFollower(path: path)
            while true {
                var out = ""
                for line in follower.poll() {
                    guard let r = RecordFields(line: line[...]), all || AuditTable.isDenial(r) else { continue }
                    out += table.line(r) + "\n"
                }
                if !out.isEmpty {
                    print(out, terminator: "")
                    fflush(nil)
                }
                usleep(200_000)
            }
        }
    }
}

extension Brig.Audit {
    /// `brig audit forward [FILE] --to URL`
    public struct Forward: ParsableCommand {
        public static let configuration = CommandConfiguration(
            commandName: "forward",
            abstract: "Ship the audit trail to a syslog collector (TCP, TLS or RELP), resuming where it stopped.",
            discussion: """
                Reads FILE (default: the profile's log) with its rotated files, oldest first, and follows \
                it as brig appends (across rotation, like tail -f). Each record is sent unchanged as the \
                MSG of an RFC 5424 message (facility authpriv, severity warning for alerts, notice \
                otherwise; APP-NAME brig, MSGID audit), so the collector's file can be checked with \
                `brig audit verify --interleaved` and the same key.

                Transports: tcp://HOST:PORT (RFC 6587 octet counting), tls://HOST:PORT (RFC 5425; the \
                collector's certificate is checked against --ca, else the system's CAs, and its name \
                against HOST; --cert/--key present a client certificate), relp://HOST:PORT (RELP: each \
                record is acknowledged by the collector).

                The position file (--state; default $XDG_STATE_HOME/brig/forward/NAME.position) holds \
                the file identity (device, inode), offset, sequence and MAC of the last record the \
                collector confirmed; it is rewritten atomically and fsync'd at most once a second and \
                on exit (SIGTERM, SIGINT). Confirmed means: with RELP, the collector answered 200 OK; \
                with TCP and TLS, which have no acknowledgement, the collector's TCP acknowledged the \
                record's bytes and --hold seconds passed with the connection intact ("sent"). When the \
                connection fails, the forwarder reconnects (backing off up to 2 s) and sends again \
                every record not confirmed; a restart resumes after the confirmed record. The \
                collector can therefore receive a record twice (never none): verify reports those as \
                duplicates, not damage. While the collector is down, records wait in the local trail; \
                a file rotated away before it was forwarded is a gap: a WARNING line on stderr, kept \
                in the position file's "gaps".

                Examples:
                  brig audit forward --to tcp://logs.example:514
                  brig audit forward --to tls://logs.example:6514 --ca /etc/brig/collector-ca.pem
                  brig audit forward --profile ./server.yaml --to relp://127.0.0.1:2514
                """
        )

        @Argument(help: ArgumentHelp("The audit log (default: the profile's log).", valueName: "FILE"))
        var file: String?

        @Option(help: ArgumentHelp("The collector: tcp://HOST:PORT, tls://HOST:PORT or relp://HOST:PORT.", valueName: "URL"))
        var to: String

        @Option(help: ArgumentHelp("The position file.", valueName: "FILE"))
        var state: String?

        @Option(help: ArgumentHelp("CA certificates (PEM) that the collector's certificate must chain to (tls://).", valueName: "FILE"))
        var ca: String?

        @Option(help: ArgumentHelp("A client certificate (PEM) to present (tls://).", valueName: "FILE"))
        var cert: String?

        @Option(help: ArgumentHelp("The client certificate's private key (PEM; default: in --cert).", valueName: "FILE"))
        var key: String?

        @Option(help: ArgumentHelp("TCP/TLS: seconds a record's bytes must have been acknowledged by the collector's TCP before it counts as sent (default 1).", valueName: "S"))
        var hold: Double = 1

        @Option(help: ArgumentHelp("The HOSTNAME field of the messages (default: this machine's name).", valueName: "NAME"))
        var hostname: String?

        @OptionGroup var location: AuditLocation

        public init() {}

        public func validate() throws {
            if case .failure(let e) = ForwardTarget.parse(to) { throw ValidationError(e.description) }
            if hold < 0 || !hold.isFinite { throw ValidationError("--hold: expected seconds, at least 0") }
            if key != nil && cert == nil { throw ValidationError("--key needs --cert") }
        }

        public func run() throws {
            guard case .success(let target) = ForwardTarget.parse(to) else { return }
            if target.transport != .tls, ca != nil || cert != nil {
                throw BrigCLIError.brig("--ca and --cert are for tls:// (the collector is \(target))")
            }
            for f in [ca, cert, key].compactMap({ $0 }) { try InputPath.requireReadableFile(f) }
            let profile = try location.loadProfile()
            var log = file ?? location.defaultLog(profile: profile)
            if !log.hasPrefix("/") {
                // The position file names the log: the same log however it was typed.
                log = FileSystem.currentDirectory() + "/" + log
            }
            var name = String(log.split(separator: "/").last ?? "audit")
            if name.hasSuffix(".jsonl") { name.removeLast(6) }
            let statePath = state ?? stateDirectory() + "/\(name).position"
            let dir = statePath.lastIndex(of: "/").map { String(statePath[..<$0]) } ?? "."
            if state == nil { try makeDirectories(dir) }
            var options = Forwarder.Options(
                log: log, positionFile: statePath, target: target,
                tls: TLSSettings(caFile: ca, certFile: cert, keyFile: key),
                host: hostname ?? machineName())
            options.holdMicros = UInt64(hold * 1_000_000)
            let forwarder = Forwarder(options: options)
            do { try forwarder.run() } catch { throw BrigCLIError.brig(error.description) }
        }

        private func stateDirectory() -> String { StateDirectory.brig(environment: location.environment) + "/forward" }

        private func makeDirectories(_ path: String) throws(BrigCLIError) {
            do { try FileSystem.makeDirectories(path, mode: 0o700) } catch { throw .brig(error.description) }
        }

        private func machineName() -> String {
            var buf = [CChar](repeating: 0, count: 256)
            guard gethostname(&buf, buf.count - 1) == 0 else { return "-" }
            return String(decoding: buf.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
        }
    }
}

/// The readable forms of records.
struct AuditTable {
    let color: Bool

    static func isDenial(_ r: RecordFields) -> Bool {
        r["event.type"]?.arrayValue?.contains(.string("denied")) ?? false
    }

    /// A timestamp, a date, or an age (`30s`, `15m`, `2h`, `7d`) before now.
    static func parseSince(_ text: String) -> Int64? {
        if let t = parseTimestamp(text) { return t }
        guard let unit = text.last, let n = Int64(text.dropLast()), n >= 0 else { return nil }
        let seconds: Int64
        switch unit {
        case "s": seconds = n
        case "m": seconds = n * 60
        case "h": seconds = n * 3600
        case "d": seconds = n * 86400
        default: return nil
        }
        var ts = timespec()
        clock_gettime(CLOCK_REALTIME, &ts)
        return (Int64(ts.tv_sec) - seconds) * 1_000_000
    }

    private func paint(_ s: String, _ code: String) -> String {
        color ? "\u{1B}[\(code)m\(s)\u{1B}[0m" : s
    }

    private func pad(_ s: String, _ width: Int) -> String {
        s.count >= width ? s + " " : s + String(repeating: " ", count: width - s.count)
    }

    func header() -> String {
        let h =
            pad("TIME", 27) + pad("SESSION", 9) + pad("DIR", 4) + pad("METHOD/EVENT", 26) + pad("TOOL", 20)
            + pad("DECISION", 9) + "RULE"
        return color ? "\u{1B}[1m\(h)\u{1B}[0m" : h
    }

    func row(_ r: RecordFields) -> String {
        let time = r.value["@timestamp"]?.stringValue ?? ""
        let session = String((r.sessionID ?? "").prefix(8))
        let dir: String
        switch r["mcp.direction"]?.stringValue {
        case "host-to-server": dir = "->"
        case "server-to-host": dir = "<-"
        default: dir = ""
        }
        let what =
            r["mcp.method"]?.stringValue
            ?? (r["mcp.kind"]?.stringValue).map { k in "(\(k) \(r["mcp.id"]?.stringValue ?? ""))" }
            ?? eventLabel(r)
        let tool =
            r["mcp.tool"]?.stringValue ?? r["mcp.resource"]?.stringValue ?? r["mcp.prompt"]?.stringValue
            ?? r["brig.detail.tool"]?.stringValue ?? ""
        var decision = "", rule = AuditTable.blockedSummary(r) ?? ""
        if let allowed = r["mcp.decision.allowed"]?.boolValue {
            decision = allowed ? "allowed" : "denied"
            rule = r["mcp.decision.rule"]?.stringValue ?? ""
            if !allowed, let reason = r["mcp.decision.reason"]?.stringValue, !reason.isEmpty { rule += " (\(reason))" }
        } else if r.action == "connection", let d = r["brig.detail.decision"]?.stringValue {
            // An egress connection: where to, by which rule, and what moved.
            decision = d == "allowed" ? "allowed" : "denied"
            let target = (r["brig.detail.host"]?.stringValue ?? "?") + ":" + (r["brig.detail.port"].map(\.jsonText) ?? "?")
            let address = r["brig.detail.address"]?.stringValue.map { " via \($0)" } ?? ""
            let why = r["brig.detail.reason"]?.stringValue.map { " (\($0))" } ?? ""
            let bytes = "; \(r["brig.detail.bytes_up"].map(\.jsonText) ?? "0") B up, \(r["brig.detail.bytes_down"].map(\.jsonText) ?? "0") B down"
            rule = target + address + (r["brig.detail.rule"]?.stringValue.map { " by \($0)" } ?? "") + why + bytes
        } else if AuditTable.isDenial(r) {
            decision = "denied"
        }
        var line = pad(time, 27) + pad(session, 9) + pad(dir, 4) + pad(what, 26) + pad(tool, 20)
        let d = pad(decision, 9)
        line += decision == "denied" ? paint(d, "31") : decision == "allowed" ? paint(d, "32") : d
        return line + rule
    }

    private func eventLabel(_ r: RecordFields) -> String {
        let action = r.action ?? "?"
        if action == "syscall-blocked", let name = r["brig.syscall.name"]?.stringValue { return "syscall \(name)" }
        if action == "child-exit" {
            if case .number(let c)? = r["process.exit_code"] { return "child-exit \(c)" }
            if case .number(let s)? = r["brig.exit.signal"] { return "child-exit signal \(s)" }
        }
        return action
    }

    /// One line for `tail`.
    func line(_ r: RecordFields) -> String {
        let time = r.value["@timestamp"]?.stringValue ?? ""
        let session = String((r.sessionID ?? "").prefix(8))
        var s = "\(time) \(session) "
        if AuditTable.isDenial(r) { s += paint("DENIED", "31") + " " }
        if let m = r["mcp.method"]?.stringValue ?? r["mcp.kind"]?.stringValue {
            s += m
            if let t = r["mcp.tool"]?.stringValue { s += " tool=\(t)" }
            if let t = r["mcp.resource"]?.stringValue { s += " resource=\(t)" }
            if let t = r["mcp.prompt"]?.stringValue { s += " prompt=\(t)" }
            if let rule = r["mcp.decision.rule"]?.stringValue { s += " rule=\(rule)" }
            if let reason = r["mcp.decision.reason"]?.stringValue, !reason.isEmpty { s += " reason=\"\(reason)\"" }
            if let subject = r["mcp.subject"]?.stringValue { s += " subject=\(subject)" }
        } else {
            s += eventLabel(r)
            if case .number(let pid)? = r["process.pid"] { s += " pid=\(pid)" }
            if let args = r["brig.syscall.args"]?.arrayValue { s += " args=" + args.map(\.jsonText).joined(separator: ",") }
            if let d = r["brig.detail"], case .object(let members) = d, !members.isEmpty { s += " " + d.jsonText }
            if let blocked = AuditTable.blockedSummary(r) { s += " " + blocked }
        }
        return s
    }

    /// A session end's blocked-call totals: `blocked syscalls: ptrace 10000, unshare 2 (9002 not
    /// recorded one by one)`; nil for other records and sessions that had none blocked.
    static func blockedSummary(_ r: RecordFields) -> String? {
        guard r.action == AuditAction.sessionEnd.rawValue, case .object(let counts)? = r["brig.session.blocked_syscalls"],
            !counts.isEmpty
        else { return nil }
        let list = counts.map { name, n in "\(name) \(n.jsonText)" }.joined(separator: ", ")
        var text = "blocked syscalls: " + list
        if case .number(let n)? = r["brig.session.blocked_syscalls_suppressed"], n != "0" {
            text += " (\(n) not recorded one by one)"
        }
        return text
    }
}
