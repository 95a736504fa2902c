import BrigAudit
import BrigJSONRPC
import BrigSystem
import Synchronization

#if canImport(Glibc)
@preconcurrency import Glibc
#endif

/// Set by SIGTERM and SIGINT: the forwarder finishes what it sent, saves its position and returns.
let stopRequested = Atomic<Bool>(false)

/// `brig audit forward`: reads a log (with its rotated files) from where it stopped and ships each
/// record to a collector; the position file says how far the collector confirmed.
///
/// What "confirmed" means: with RELP, the collector's `200 OK` for the record's transaction. With
/// TCP and TLS (no acknowledgement in the protocol), the collector's TCP has acknowledged the
/// record's bytes and `holdMicros` has passed since without the connection failing. Records sent
/// but not confirmed are kept as positions only (`window`); a reconnect or a restart reads them
/// again from the log, from the confirmed position: the collector may then hold a record twice,
/// which `brig audit verify` reports as a duplicate.
public final class Forwarder {
    public struct Options: Sendable {
        public var log: String
        public var positionFile: String
        public var target: ForwardTarget
        public var tls: TLSSettings?
        public var holdMicros: UInt64 = 1_000_000
        public var host: String
        /// Most bytes read and not yet sent, and most records sent and not confirmed, before
        /// reading waits.
        public var windowBytes = 16 << 20
        public var windowRecords = 1 << 19
        /// Most RELP transactions in flight.
        public var relpWindow = 1024
        public var pollMicros: UInt32 = 20_000

        public init(log: String, positionFile: String, target: ForwardTarget, tls: TLSSettings?, host: String) {
            self.log = log
            self.positionFile = positionFile
            self.target = target
            self.tls = tls
            self.host = host
        }
    }

    struct Pending {
        /// The record's bytes until they are sent (a resend reads them from the log again).
        var line: [UInt8]
        var end: LogPosition
        var mark: RecordMark
        /// `Link.written` once its bytes were handed to the socket; the RELP transaction number.
        var sentEnd: UInt64 = 0
        var txnr: UInt64 = 0
        var ackedAt: UInt64?
    }

    let options: Options
    let host: [UInt8]
    var confirmed: ForwardPosition?
    var gaps: [String] = []
    var window: [Pending] = []
    var windowHead = 0
    var windowBytes = 0
    var link: Link?
    var relpBuffer: [UInt8] = []
    var txnr: UInt64 = 0
    var relpOpen = false
    var lastSequence: UInt64 = 0
    /// The last record queued (or, at start, confirmed): a gap note names it.
    var lastMark: RecordMark?
    var lastEnd: LogPosition?
    var dirty = false
    var lastSave: UInt64 = 0
    var outage = false
    var nextConnect: UInt64 = 0
    var backoff: UInt64 = 100_000
    public private(set) var shipped = 0
    var follower: AuditFollower?
    var notesSeen = 0

    public init(options: Options) {
        self.options = options
        self.host = SyslogFrame.hostField(options.host)
    }

    static func say(_ s: String) {
        let line = "brig: forward: " + s + "\n"
        _ = line.withCString { write(2, $0, strlen($0)) }
    }

    /// Microseconds of the monotonic clock (timeouts, hold times, backoff).
    static func now() -> UInt64 { MonotonicClock.microseconds() }

    /// Where to start: the saved position (its file found again by identity and the MAC of the
    /// record before it), else the oldest file of the log's rotated set.
    func startFollower() throws(ForwardError) -> AuditFollower {
        let saved: ForwardPosition?
        do { saved = try ForwardPosition.load(options.positionFile) } catch { throw ForwardError(error.description) }
        guard let saved else { return AuditFollower(oldestOf: options.log) }
        if saved.log != options.log {
            throw ForwardError("\(options.positionFile): the position is for \(saved.log), not \(options.log) (another --state file?)")
        }
        confirmed = saved
        gaps = saved.gaps
        return openFollower(at: saved)
    }

    /// A follower at `saved` (the chain state set to it), or at the oldest file kept when its
    /// file was rotated away (a gap, said loudly).
    func openFollower(at saved: ForwardPosition) -> AuditFollower {
        lastSequence = saved.sequence
        lastMark = RecordMark(sequence: saved.sequence, mac: saved.mac)
        lastEnd = saved.position
        if let file = AuditFollower.file(of: saved.position, in: options.log), Forwarder.macBefore(saved.position.offset, in: file) == saved.mac,
            let f = AuditFollower(path: options.log, resume: saved.position)
        {
            return f
        }
        let note =
            "the file holding the last forwarded record (sequence \(saved.sequence)) was rotated away before the forwarder read the rest of it: the records after it that were in it are not forwarded (a gap); continuing with the oldest file kept"
        Forwarder.say("WARNING: \(options.log): " + note)
        gaps.append("after sequence \(saved.sequence): \(note)")
        dirty = true
        return AuditFollower(oldestOf: options.log)
    }

    /// The 64 hex digits of the MAC of the line that ends at `offset` in `file`.
    static func macBefore(_ offset: Int64, in file: String) -> String? {
        guard offset >= 76 else { return nil }
        let fd = open(file, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else { return nil }
        defer { close(fd) }
        var buf = [UInt8](repeating: 0, count: 68)
        guard pread(fd, &buf, 68, off_t(offset - 68)) == 68, buf[64...] == [0x22, 0x7D, 0x7D, 0x0A] else { return nil }
        return String(decoding: buf[..<64], as: UTF8.self)
    }

    /// Runs until SIGTERM or SIGINT (or `until` says stop); returns after saving the position.
    public func run(until shouldStop: () -> Bool = { false }) throws(ForwardError) {
        signal(SIGPIPE, SIG_IGN)
        installStopHandlers()
        follower = try startFollower()
        while !stopRequested.load(ordering: .relaxed) && !shouldStop() {
            if link == nil { connect() }
            var idle = true
            if let follower, windowBytes < options.windowBytes, window.count - windowHead < options.windowRecords {
                let lines = follower.pollLines(limit: 8192)
                if follower.notes.count > notesSeen {
                    for n in follower.notes[notesSeen...] { Forwarder.say("WARNING: " + n) }
                    notesSeen = follower.notes.count
                }
                if !lines.isEmpty {
                    idle = false
                    queue(lines)
                }
            }
            if link != nil { sendUnsent() }
            if link != nil { confirm(final: false) }
            saveIfDue(force: false)
            // Idle: nothing new in the log and nothing left to send (or no collector to send to).
            if idle && (link == nil || unsent >= window.count) { usleep(link == nil ? 50_000 : options.pollMicros) }
        }
        finish()
    }

    private func installStopHandlers() {
        stopRequested.store(false, ordering: .relaxed)
        signal(SIGTERM) { _ in stopRequested.store(true, ordering: .relaxed) }
        signal(SIGINT) { _ in stopRequested.store(true, ordering: .relaxed) }
    }

    private func queue(_ lines: [FollowedLine]) {
        for l in lines {
            guard let mark = RecordMark(line: l.bytes[...]) else {
                Forwarder.say("\(options.log): skipping a line that is not a whole record (ending at offset \(l.end.offset))")
                continue
            }
            if lastSequence > 0, mark.sequence > lastSequence + 1 {
                let note = "records \(lastSequence + 1)-\(mark.sequence - 1) were not in the log when the forwarder read it (rotated away before they were forwarded): a gap"
                Forwarder.say("WARNING: \(options.log): " + note)
                gaps.append(note)
                dirty = true
                if let lastMark, let lastEnd {
                    // Said to the collector too, so that its file names the gap (`verify --interleaved`).
                    let text =
                        "{\"brig_forward_gap\":{\"host\":\(jsonString(options.host)),\"log\":\(jsonString(options.log)),"
                        + "\"after_sequence\":\(lastMark.sequence),\"after_mac\":\"\(lastMark.mac)\","
                        + "\"next_sequence\":\(mark.sequence),\"next_mac\":\"\(mark.mac)\","
                        + "\"reason\":\"rotated away before they were forwarded\"}}"
                    let line = Array(text.utf8)
                    window.append(Pending(line: line, end: lastEnd, mark: lastMark))
                    windowBytes += line.count
                }
            }
            lastSequence = mark.sequence
            lastMark = mark
            lastEnd = l.end
            window.append(Pending(line: l.bytes, end: l.end, mark: mark))
            windowBytes += l.bytes.count
        }
    }

    /// The index of the first record not yet handed to the current link.
    var unsent = 0

    private func connect() {
        let now = Forwarder.now()
        guard now >= nextConnect else { return }
        do {
            let l = try Link.connect(options.target, tls: options.target.transport == .tls ? options.tls ?? TLSSettings(caFile: nil, certFile: nil, keyFile: nil) : nil)
            link = l
            if options.target.transport == .relp { try openRELP(l) }
            if outage {
                Forwarder.say("\(options.target): connected again; sending from sequence \(window.count > windowHead ? String(window[windowHead].mark.sequence) : "(next)")")
            }
            outage = false
            backoff = 100_000
            rewind()
        } catch {
            dropLink(error.description)
        }
    }

    /// After a reconnect: every record not confirmed is read again from the log, from the
    /// confirmed position (or from where the forwarder started).
    private func rewind() {
        guard windowHead < window.count else { return }
        window.removeAll()
        windowHead = 0
        unsent = 0
        windowBytes = 0
        notesSeen = 0
        if let c = confirmed {
            follower = openFollower(at: c)
        } else {
            lastSequence = 0
            lastMark = nil
            lastEnd = nil
            follower = AuditFollower(oldestOf: options.log)
        }
    }

    private func openRELP(_ l: Link) throws(ForwardError) {
        relpBuffer = []
        txnr = 1
        try l.send(RELPFrame.frame(txnr: txnr, command: "open", data: RELPFrame.openData))
        let deadline = Forwarder.now() + 10_000_000
        while Forwarder.now() < deadline {
            relpBuffer += try l.receive(timeoutMillis: 200)
            for r in try RELPFrame.parse(&relpBuffer) where r.txnr == 1 {
                guard r.command == "rsp", r.code == 200 else { throw ForwardError("\(options.target): RELP open refused: \(r.text)") }
                relpOpen = true
                return
            }
        }
        throw ForwardError("\(options.target): RELP: no answer to open")
    }

    private func dropLink(_ why: String) {
        if !outage {
            Forwarder.say("\(options.target): \(why); records wait in the local trail, retrying")
        }
        outage = true
        link = nil
        relpOpen = false
        nextConnect = Forwarder.now() + backoff
        backoff = min(backoff * 2, 2_000_000)
    }

    private func sendUnsent() {
        guard let l = link, unsent < window.count else { return }
        var out: [UInt8] = []
        let relp = options.target.transport == .relp
        var end = unsent
        while end < window.count, out.count < 1 << 20 {
            if relp {
                if end - windowHead >= options.relpWindow { break }
                txnr = txnr >= 999_999_999 ? 1 : txnr + 1
                window[end].txnr = txnr
                out += RELPFrame.frame(txnr: txnr, command: "syslog", data: SyslogFrame.message(record: window[end].line[...], host: host))
            } else {
                SyslogFrame.appendOctetCounted(record: window[end].line[...], host: host, to: &out)
            }
            end += 1
        }
        guard !out.isEmpty else { return }
        do {
            try l.send(out)
        } catch {
            dropLink(error.description)
            return
        }
        for i in unsent..<end {
            window[i].sentEnd = l.written
            windowBytes -= window[i].line.count
            window[i].line = []
        }
        shipped += end - unsent
        unsent = end
    }

    /// Moves the confirmed position past records the collector confirmed (see the type's note).
    private func confirm(final: Bool) {
        guard let l = link else { return }
        let now = Forwarder.now()
        if options.target.transport == .relp {
            do throws(ForwardError) {
                // A full window waits for answers rather than spinning.
                relpBuffer += try l.receive(timeoutMillis: unsent - windowHead >= options.relpWindow ? 20 : 0)
                for r in try RELPFrame.parse(&relpBuffer) {
                    if r.command == "serverclose" { throw ForwardError("the collector closed the RELP session") }
                    guard r.command == "rsp" else { continue }
                    guard r.code == 200 else { throw ForwardError("the collector refused transaction \(r.txnr): \(r.text)") }
                    // In flight, transaction numbers follow each other from the window's head.
                    guard windowHead < unsent else { continue }
                    let guess = windowHead + Int(truncatingIfNeeded: r.txnr &- window[windowHead].txnr)
                    if guess >= windowHead, guess < unsent, window[guess].txnr == r.txnr {
                        window[guess].ackedAt = now
                    } else if let i = window[windowHead..<unsent].firstIndex(where: { $0.txnr == r.txnr }) {
                        window[i].ackedAt = now
                    }
                }
            } catch {
                dropLink(error.description)
                return
            }
            while windowHead < unsent, window[windowHead].ackedAt != nil { advance() }
        } else {
            if l.peerClosed() {
                dropLink("the collector closed the connection")
                return
            }
            guard let acked = l.acknowledged() else { return }
            var i = windowHead
            while i < unsent, window[i].sentEnd <= acked {
                if window[i].ackedAt == nil { window[i].ackedAt = now }
                i += 1
            }
            while windowHead < unsent, let at = window[windowHead].ackedAt, final || now &- at >= options.holdMicros { advance() }
        }
        if windowHead > 4096 && windowHead * 2 > window.count {
            window.removeSubrange(..<windowHead)
            unsent -= windowHead
            windowHead = 0
        }
    }

    private func advance() {
        let p = window[windowHead]
        confirmed = ForwardPosition(log: options.log, position: p.end, sequence: p.mark.sequence, mac: p.mark.mac, gaps: gaps)
        windowHead += 1
        dirty = true
    }

    private func saveIfDue(force: Bool) {
        let now = Forwarder.now()
        guard dirty, force || now &- lastSave >= 1_000_000 else { return }
        lastSave = now
        guard var c = confirmed else {
            dirty = false  // nothing confirmed yet: nothing to save (the gap was said on stderr)
            return
        }
        c.gaps = gaps
        do {
            try c.save(options.positionFile)
            dirty = false
        } catch {
            Forwarder.say("cannot save the position: \(error.description)")
        }
    }

    /// On stop: waits (up to 5 s) for what was sent to be confirmed, then saves the position.
    private func finish() {
        let deadline = Forwarder.now() + 5_000_000
        while link != nil, windowHead < unsent, Forwarder.now() < deadline {
            confirm(final: true)
            if windowHead < unsent { usleep(10_000) }
        }
        if let l = link, options.target.transport == .relp, relpOpen {
            // End the RELP session: `close`, answered by `rsp` (and the server's `serverclose`).
            txnr = txnr >= 999_999_999 ? 1 : txnr + 1
            let closing = txnr
            do throws(ForwardError) {
                try l.send(RELPFrame.frame(txnr: closing, command: "close", data: []))
                let until = Forwarder.now() + 2_000_000
                var answered = false
                while !answered, Forwarder.now() < until {
                    relpBuffer += try l.receive(timeoutMillis: 100)
                    answered = try RELPFrame.parse(&relpBuffer).contains { $0.txnr == closing || $0.command == "serverclose" }
                }
            } catch {}
        }
        link?.shutdownWrite()
        saveIfDue(force: true)
        link = nil
    }
}

/// `text` as a JSON string literal.
func jsonString(_ text: String) -> String { JSONValue.string(text).jsonText }
