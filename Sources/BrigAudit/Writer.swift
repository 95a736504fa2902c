import BrigJSONRPC
import BrigProfile
import BrigSecrets
import BrigSystem
import Crypto
import Synchronization

#if canImport(Glibc)
import Glibc
#endif

/// The writer thread's state and work. Only the writer thread touches it once started.
final class Writer: @unchecked Sendable {
    let path: String
    let toStderr: Bool
    let key: SymmetricKey
    let settings: AuditSettings
    let redactor: Redactor
    let sessionID: String
    let anchorPath: String?
    /// Cleared when a record is lost under `on_failure: block`; the log reads it.
    let health = AuditHealth()
    /// Set once by `Queue.init`, before the thread starts.
    var queue: Queue?
    let syslogSocket: String

    // The writer thread alone reads and writes these once it runs (`init` before it), so they
    // skip the dynamic exclusivity checks: a record touches them a dozen times.
    @exclusivity(unchecked) var fd: Int32
    @exclusivity(unchecked) var fileSize: Int64
    @exclusivity(unchecked) var sequence: UInt64
    /// Set only through `seal` and `resetChain` (which keep `prevMACHex` in step).
    @exclusivity(unchecked) private(set) var prevMAC: [UInt8]
    /// `prevMAC`'s hex digits as the last record's `mac` has them, so that the next record's
    /// `prev_mac` is a copy; not valid after `resetChain`.
    @exclusivity(unchecked) var prevMACHex = [UInt8](repeating: 0, count: 64)
    @exclusivity(unchecked) var prevMACHexValid = false
    /// What the session-start record says about the tail this session continues.
    @exclusivity(unchecked) var chainNote: [(String, JSONValue)] = []

    // Counters for the session-end record.
    @exclusivity(unchecked) var written = 0
    @exclusivity(unchecked) var messages = 0
    @exclusivity(unchecked) var denied = 0
    @exclusivity(unchecked) var droppedTotal = 0
    @exclusivity(unchecked) var lostTotal = 0
    @exclusivity(unchecked) var lostPending = 0
    @exclusivity(unchecked) var droppedPending = 0
    @exclusivity(unchecked) var startMonotonic = monotonicMicros()

    // Failure handling.
    @exclusivity(unchecked) var failing = false
    @exclusivity(unchecked) var failures = 0

    // fsync and anchor pacing.
    @exclusivity(unchecked) var dirty = false
    @exclusivity(unchecked) var lastSync = monotonicMicros()
    @exclusivity(unchecked) var sinceAnchor = 0
    @exclusivity(unchecked) var lastAnchor = monotonicMicros()
    @exclusivity(unchecked) var anchorFailed = false

    @exclusivity(unchecked) var syslogFD: Int32 = -1
    @exclusivity(unchecked) var syslogFailed = false

    /// Signs each record (the key's HMAC pads hashed once).
    let signer: ChainSigner
    /// `sessionID`'s bytes, written into every record.
    let sessionIDBytes: [UInt8]
    /// The members every record's `brig` object starts with (see `beginBrig`).
    let brigMembers: [UInt8]
    /// The writer thread's reused buffers and timestamp text.
    let batchBuffer = ByteBuffer(capacity: 1 << 16)
    @exclusivity(unchecked) var recordWriter = ObjectWriter(capacity: 4096)
    @exclusivity(unchecked) var clock = TimestampText()

    init(path: String, key keyBytes: [UInt8], options: AuditOptions) throws(AuditError) {
        self.path = path
        self.toStderr = path == "-"
        self.key = SymmetricKey(data: keyBytes)
        self.signer = ChainSigner(key: SymmetricKey(data: keyBytes))
        self.settings = options.settings
        self.redactor = Redactor(extraKeys: options.settings.redactKeys, secretValues: options.secretValues)
        var rng = SystemRandomNumberGenerator()
        self.sessionID = Hex.encode((0..<8).map { _ in UInt8.random(in: 0...255, using: &rng) })
        self.sessionIDBytes = Array(sessionID.utf8)
        self.brigMembers = Writer.brigMembers(sessionID: sessionIDBytes)
        self.anchorPath = toStderr ? nil : options.settings.anchor
        self.sequence = 0
        self.prevMAC = Chain.zeroMAC
        self.fileSize = 0
        self.fd = -1
        self.syslogSocket = options.syslogSocket
        if toStderr {
            fd = 2
            chainNote = [("previous_tail", .string("none (stderr)"))]
            return
        }
        do { try FileSystem.makeDirectories(FileSystem.parent(of: path)) } catch { throw AuditError(error.description) }
        readTail()
        fd = Glibc.open(path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0o600)
        guard fd >= 0 else { throw AuditError("cannot open audit log \(path): \(SystemError.text())") }
        var st = stat()
        if fstat(fd, &st) == 0 {
            fileSize = Int64(st.st_size)
            if st.st_mode & 0o077 != 0 && st.st_uid == geteuid() { fchmod(fd, 0o600) }
        }
        if partialTail {
            // A write was cut short (crash, disk full): end that line so ours start clean.
            if FileSystem.writeAll(fd, [0x0A][...]) { fileSize += 1 }
        }
    }

    private var partialTail = false

    /// Finds where the existing log (or, when it is empty, its newest rotated file) ends.
    private func readTail() {
        var candidates = [path]
        candidates.append(path + ".1")
        for file in candidates {
            guard let (line, partial, size) = lastLine(file), size > 0 else { continue }
            if file == path { partialTail = partial }
            guard let line else {
                chainNote = [("previous_tail", .string("unreadable")), ("previous_file", .string(file))]
                return
            }
            var note: [(String, JSONValue)] = []
            let fields = RecordFields(line: line[...])
            guard let fields, let seq = fields.sequence, let mac = fields.mac else {
                chainNote = [("previous_tail", .string("not a record")), ("previous_file", .string(file))]
                return
            }
            resetChain(sequence: seq, mac: mac)
            var status = "intact"
            if let (canonical, carried) = Chain.split(line[...]) {
                let prev = fields.prevMAC ?? Chain.zeroMAC
                if Chain.mac(key: key, prev: prev, canonical: canonical) != carried { status = "bad-mac" }
            } else {
                status = "bad-mac"
            }
            if partial && file == path { status = "partial-line" }
            note.append(("previous_sequence", .number(String(seq))))
            note.append(("previous_mac", .string(Hex.encode(mac))))
            note.append(("previous_tail", .string(status)))
            note.append(("previous_session_ended", .bool(fields.action == AuditAction.sessionEnd.rawValue)))
            chainNote = note
            return
        }
        chainNote = [("previous_tail", .string("new log"))]
    }

    // MARK: The thread

    func run() {
        startMonotonic = monotonicMicros()
        while true {
            let wait = nextWakeMicros()
            guard let queue else { return }
            // With `fsync: always` callers wait for their records: nothing is held back then.
            let (batch, dropped, closing, flushNow) = queue.take(timeoutMicros: wait, deferring: settings.fsync != .always)
            droppedPending += dropped
            droppedTotal += dropped
            process(batch.items, batch.chunks)
            if closing || flushNow || settings.fsync == .always { sync(force: closing || flushNow) }
            periodic()
            if closing {
                writeAnchor()
                if syslogFD >= 0 { Glibc.close(syslogFD) }
                if !toStderr { Glibc.close(fd) }
                queue.done(batch, finished: true)
                return
            }
            queue.done(batch, finished: false)
        }
    }

    private func nextWakeMicros() -> UInt64 {
        var wait: UInt64 = 1_000_000
        if anchorPath != nil {
            let every = UInt64(max(settings.anchorEverySeconds, 0.01) * 1_000_000)
            let elapsed = monotonicMicros() &- lastAnchor
            wait = min(wait, elapsed >= every ? 1000 : every - elapsed)
        }
        return max(wait, 1000)
    }

    private func periodic() {
        let now = monotonicMicros()
        if settings.fsync == .interval, dirty, now &- lastSync >= 1_000_000 { sync(force: true) }
        if anchorPath != nil, sinceAnchor > 0,
            sinceAnchor >= settings.anchorEveryRecords
                || Double(now &- lastAnchor) >= settings.anchorEverySeconds * 1_000_000
        {
            writeAnchor()
        }
    }

    private func sync(force: Bool) {
        guard dirty, !toStderr, settings.fsync != .never else { return }
        _ = force
        if fsync(fd) != 0 { reportFailure(errno, what: "fsync") }
        dirty = false
        lastSync = monotonicMicros()
    }

    // MARK: Records

    private func process(_ items: [Item], _ chunks: [ByteBuffer]) {
        // The batch and the record being built reuse the writer's buffers (no allocation per record).
        let buf = batchBuffer
        var w = recordWriter
        var count = 0
        // Chain state before `buf`, restored when its write fails.
        var savedSequence = sequence, savedMAC = prevMAC
        var pendingSyslog: [String] = []
        // Lost records counted by a note in `buf`: counted again if the note is lost too.
        var carriedLost = 0

        func flushBuffer() {
            guard !buf.isEmpty else { return }
            if writeRecords(buf.bytes, count: count) {
                sinceAnchor += count
                written += count
                for s in pendingSyslog { sendSyslog(s) }
            } else {
                resetChain(sequence: savedSequence, mac: savedMAC)
                lostPending += carriedLost
            }
            carriedLost = 0
            pendingSyslog.removeAll()
            buf.removeAll()
            count = 0
            savedSequence = sequence
            savedMAC = prevMAC
        }

        func append(syslog: String? = nil, _ build: (inout ObjectWriter) -> Void) {
            w.reset()
            build(&w)
            seal(&w)
            if !toStderr, fileSize + Int64(buf.count) > 0,
                UInt64(fileSize) + UInt64(buf.count) + UInt64(w.out.count) > settings.rotateMaxBytes
            {
                flushBuffer()
                rotate()
            }
            buf.append(contentsOf: w.out.bytes)
            count += 1
            if let syslog, settings.syslog { pendingSyslog.append(syslog) }
        }

        /// A message's record, counted for the session-end record; a denial also goes to syslog.
        func appendMessage(_ m: MessageEvent, _ t: Int64, _ line: UnsafeBufferPointer<UInt8>?) {
            messages += 1
            let deniedNow = m.decision.map { !$0.allowed } ?? false
            if deniedNow { denied += 1 }
            append(syslog: deniedNow ? syslogText(m) : nil) { messageRecord(&$0, m, t, line: line) }
        }

        if lostPending > 0 {
            let n = lostPending
            append {
                note(
                    &$0, .auditRecordsLost, .failure,
                    [
                        ("count", .number(String(n))),
                        ("reason", .string("write failures")),
                    ])
            }
            carriedLost = lostPending
            lostPending = 0
        }
        if droppedPending > 0 {
            let n = droppedPending
            append {
                note(
                    &$0, .auditRecordsDropped, .failure,
                    [
                        ("count", .number(String(n))),
                        ("reason", .string("queue full")),
                    ])
            }
            droppedPending = 0
        }
        for item in items {
            switch item {
            case .sessionStart(let info, let t): append { sessionStartRecord(&$0, info, t) }
            case .line(let chunk, let offset):
                let (line, fields, direction, context, t) = MessageArena.read(chunks[chunk].bytes, at: offset)
                appendMessage(Writer.event(line: line, fields: fields, direction: direction, context: context), t, line)
            case .message(let m, let t):
                m.raw.withOptionalBuffer { appendMessage(m, t, $0) }
            case .syscall(let pid, let name, let args, let howToAllow, let t):
                append(syslog: "blocked syscall \(name) pid=\(pid) session=\(sessionID)") {
                    syscallRecord(&$0, pid: pid, name: name, args: args, howToAllow: howToAllow, t)
                }
            case .event(let action, let outcome, let detail, let t):
                append { eventRecord(&$0, action: action, outcome: outcome, detail: detail, t) }
            case .childExit(let info, let t): append { exitRecord(&$0, info, t) }
            case .sessionEnd(let t, let blocked):
                flushBuffer()
                append { sessionEndRecord(&$0, t, blocked: blocked) }
            }
            if buf.count >= 1 << 18 { flushBuffer() }
        }
        flushBuffer()
    }

    /// Puts the chain's head back (a batch whose write failed) or where an existing log ends.
    func resetChain(sequence: UInt64, mac: [UInt8]) {
        self.sequence = sequence
        prevMAC = mac
        prevMACHexValid = false
    }

    /// Ends the record in `w` (its open `brig` object and the record itself) with `prev_mac` and
    /// `mac`, and a newline; advances the chain.
    private func seal(_ w: inout ObjectWriter) {
        if prevMACHexValid {
            w.string("prev_mac", plain: prevMACHex)
        } else {
            w.hexString("prev_mac", prevMAC)
        }
        // In place: `prevMAC` is not shared but once per batch (the saved chain state), and the
        // MAC is computed before it is overwritten.
        let canonical = w.out.bytes
        prevMAC.withUnsafeMutableBytes { mac in
            Chain.closing.withUnsafeBytes {
                signer.sign(prev: UnsafeRawBufferPointer(mac), canonical: canonical, tail: $0, into: mac)
            }
        }
        w.out.append(contentsOf: Chain.macPrefix)
        let hexStart = w.out.count
        prevMAC.withUnsafeBytes { w.out.appendHex($0) }
        prevMACHex.withUnsafeMutableBytes { $0.copyMemory(from: UnsafeRawBufferPointer(rebasing: w.out.bytes[hexStart...])) }
        prevMACHexValid = true
        w.out.append(contentsOf: Chain.recordEnd)
        sequence += 1
    }

    /// The event of a relayed line: what the line says (kind, id, method, where its payload is:
    /// from the relay's parse, else parsed here) and what the relay knew (the request a response
    /// answers, the decision...). A line that does not parse is recorded with the kind `unknown`.
    static func event(
        line: UnsafeBufferPointer<UInt8>, fields: MessageArena.ViewFields?, direction: Direction,
        context: MessageContext
    ) -> MessageEvent {
        var fields = fields
        if fields == nil, case .success(let v) = MessageView.parse(line) {
            fields = MessageArena.ViewFields(
                kind: v.kind, id: v.id, method: v.method,
                ranges: PayloadRanges(
                    params: v.params, result: v.result, error: v.error,
                    count: line.count))
        }
        let method = fields?.method ?? context.requestMethod
        let subject = context.subject
        return MessageEvent(
            direction: direction, kind: fields?.kind.rawValue ?? "unknown", method: method, id: fields?.id,
            tool: method == MCPMethod.toolsCall ? subject : nil,
            resource: method?.hasPrefix("resources/") == true ? subject : nil,
            prompt: method == MCPMethod.promptsGet ? subject : nil,
            size: line.count, decision: context.decision, ask: context.ask, subject: subject, scopes: context.scopes,
            durationMicros: context.durationMicros, payload: fields?.ranges)
    }

    /// Writes a batch at the end of the file; on failure cuts the file back to where it was, so
    /// the log stays a sequence of whole records.
    private func writeRecords(_ bytes: UnsafeRawBufferPointer, count: Int) -> Bool {
        if FileSystem.writeAll(fd, bytes) {
            fileSize += Int64(bytes.count)
            dirty = true
            if failing {
                failing = false
                if settings.onFailure == .continue {
                    stderrLine("brig: audit: writing \(path) again (\(failures) failed writes, \(lostTotal) records lost)")
                }
            }
            return true
        }
        let code = errno
        if !toStderr { _ = ftruncate(fd, off_t(fileSize)) }
        lostTotal += count
        lostPending += count
        reportFailure(code, what: "write")
        return false
    }

    private func reportFailure(_ code: Int32, what: String) {
        failures += 1
        if settings.onFailure == .block { health.healthy.store(false, ordering: .releasing) }
        guard !failing else { return }
        failing = true
        let consequence =
            settings.onFailure == .block
            ? "the relay stops (on_failure: block)" : "records are lost until writes succeed (on_failure: continue)"
        stderrLine("brig: audit: cannot \(what) \(path): \(SystemError.text(code)); \(consequence)")
    }

    // MARK: Rotation, anchor, syslog

    /// `NAME.jsonl` -> `NAME.jsonl.1`, `.1` -> `.2`, ... up to `keep`; the chain continues in the new file.
    private func rotate() {
        sync(force: true)
        let keep = max(settings.rotateKeep, 1)
        unlink(path + ".\(keep)")
        if keep > 1 {
            for i in stride(from: keep - 1, through: 1, by: -1) {
                rename(path + ".\(i)", path + ".\(i + 1)")
            }
        }
        rename(path, path + ".1")
        let newFD = Glibc.open(path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0o600)
        if newFD < 0 {
            reportFailure(errno, what: "open (rotation)")
            return
        }
        Glibc.close(fd)
        fd = newFD
        fileSize = 0
    }

    func writeAnchor() {
        guard let anchorPath, sequence > 0 else { return }
        sinceAnchor = 0
        lastAnchor = monotonicMicros()
        var w = ObjectWriter(capacity: 200)
        w.beginObject()
        w.int("sequence", sequence)
        w.string("mac", Hex.encode(prevMAC))
        w.string("session", sessionID)
        w.string("@timestamp", formatTimestamp(nowMicros()))
        w.string("log", path)
        w.endObject()
        w.out.append(0x0A)
        let line = w.out.array
        let tmp = anchorPath + ".tmp"
        try? FileSystem.makeDirectories(FileSystem.parent(of: anchorPath))
        let afd = Glibc.open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0o600)
        var ok = afd >= 0
        if ok {
            ok = FileSystem.writeAll(afd, line[...])
            if settings.fsync != .never { fsync(afd) }
            Glibc.close(afd)
            ok = ok && rename(tmp, anchorPath) == 0
        }
        if !ok, !anchorFailed {
            anchorFailed = true
            stderrLine("brig: audit: cannot write anchor \(anchorPath): \(SystemError.text())")
        }
    }

    private func syslogText(_ m: MessageEvent) -> String {
        var s = "denied \(m.direction.rawValue) \(m.kind)"
        if let method = m.method { s += " method=\(method)" }
        if let tool = m.tool { s += " tool=\(tool)" }
        if let r = m.resource { s += " resource=\(redactor.redact(r))" }
        if let p = m.prompt { s += " prompt=\(p)" }
        if let d = m.decision { s += " rule=\(d.rule) reason=\"\(redactor.redact(d.reason))\"" }
        return s + " session=\(sessionID)"
    }

    private func sendSyslog(_ text: String) {
        if syslogFD < 0 {
            guard !syslogFailed else { return }
            syslogFD = socket(AF_UNIX, Int32(SOCK_DGRAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
            if syslogFD < 0 { syslogFailed = true; return }
            if !Syslog.connect(syslogFD, to: syslogSocket) {
                Glibc.close(syslogFD)
                syslogFD = -1
                syslogFailed = true
                stderrLine("brig: audit: syslog: cannot reach \(syslogSocket): \(SystemError.text())")
                return
            }
        }
        let msg = Syslog.format(message: text, time: nowMicros())
        _ = msg.withUnsafeBytes { send(syslogFD, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL)) }
    }
}

extension Optional where Wrapped == [UInt8] {
    /// Calls `body` with the bytes, or with nil.
    func withOptionalBuffer<R>(_ body: (UnsafeBufferPointer<UInt8>?) -> R) -> R {
        guard let self else { return body(nil) }
        return self.withUnsafeBufferPointer { body($0) }
    }
}
