public import BrigJSONRPC
import BrigProfile
import Crypto
import Foundation
import Synchronization

#if canImport(Glibc)
import Glibc
#endif

/// The audit trail of one brig session: JSON Lines records (schema version 1, docs/audit.md),
/// each chained to the one before by an HMAC (see `Chain`).
///
/// ## Concurrency model
///
/// Callers (the relay's threads) only append a small item to a bounded queue: the record's time
/// is taken there, everything else (payload parsing and redaction, JSON writing, the HMAC, the
/// write, fsync, rotation, the anchor, syslog) happens on the log's own writer thread (a
/// Foundation `Thread`, not the cooperative pool). The queue is guarded by one pthread mutex with
/// two condition variables (`Queue`); the writer's state (`Writer`) is touched by the writer
/// thread only, and by `open` before the thread starts.
///
/// When the queue is full (4096 items) a caller waits up to 2 s for room; after that the item
/// is dropped and counted, and the next record written says how many were dropped. With
/// `fsync: always` a caller waits until its record is written and synced.
public final class AuditLog: Sendable {
    /// The log file (`"-"` for stderr).
    public let path: String
    /// The anchor file, if any.
    public let anchorPath: String?
    /// This session's id (16 hex digits), in every record as `brig.session.id`.
    public let sessionID: String
    let queue: Queue
    let healthy: Atomic<Bool>
    let closed: Atomic<Bool>
    let waitForDurable: Bool

    /// The queue's capacity.
    public static let capacity = 4096

    /// Opens (creating it, 0600, parent directories 0700) the log and the key, reads the tail of
    /// the existing log to continue its chain, and starts the writer thread.
    public static func open(_ options: AuditOptions) throws(AuditError) -> AuditLog {
        let env = options.environment ?? processEnvironment()
        let settings = options.settings
        let safeName = String(options.sessionName.map { $0 == "/" || $0 == "\0" ? "_" : $0 })
        let name = safeName.isEmpty || safeName.hasPrefix(".") ? "brig" + safeName : safeName
        let path = options.path ?? settings.path ?? (stateHome(env) + "/brig/audit/\(name).jsonl")
        let keyPath = options.keyFile ?? settings.keyFile ?? AuditKey.defaultPath(environment: env)
        let key: [UInt8]
        if options.keyFile == nil && settings.keyFile == nil {
            key = try AuditKey.loadOrCreate(keyPath)
        } else {
            key = try AuditKey.load(keyPath)
        }
        let writer = try Writer(path: path, key: key, options: options)
        let log = AuditLog(path: path, anchor: settings.anchor, writer: writer, settings: settings)
        writer.owner = log
        // The writer thread takes no asynchronous signals: it starts with them blocked (a new
        // thread inherits its creator's mask), so a process-directed signal (brig's SIGUSR1,
        // SIGCHLD...) is never delivered to it before or after its owner installs handlers.
        var all = sigset_t(), saved = sigset_t()
        blockableSignals(&all)
        pthread_sigmask(SIG_BLOCK, &all, &saved)
        let thread = Thread { [writer] in
            var mask = sigset_t()
            blockableSignals(&mask)
            pthread_sigmask(SIG_BLOCK, &mask, nil)
            writer.run()
        }
        thread.name = "brig-audit"
        thread.start()
        pthread_sigmask(SIG_SETMASK, &saved, nil)
        return log
    }

    init(path: String, anchor: String?, writer: Writer, settings: AuditSettings) {
        self.path = path
        self.anchorPath = anchor
        self.sessionID = writer.sessionID
        self.queue = Queue(writer: writer)
        self.healthy = Atomic(true)
        self.closed = Atomic(false)
        self.waitForDurable = settings.fsync == .always && path != "-"
    }

    /// False once a record could not be written under `on_failure: block`: the relay should stop
    /// forwarding and answer requests with an error.
    public var isHealthy: Bool { healthy.load(ordering: .acquiring) }

    /// The session-start record (call once, first).
    public func sessionStart(_ info: SessionInfo) {
        enqueue(.sessionStart(info, nowMicros()))
    }

    /// One message in either direction. Returns false when the log is unhealthy (`on_failure: block`).
    @discardableResult
    public func message(_ m: MessageEvent) -> Bool {
        enqueue(.message(m, nowMicros()))
    }

    /// A syscall the seccomp filter refused.
    public func blockedSyscall(pid: Int32, name: String, args: [UInt64]) {
        enqueue(.syscall(pid: pid, name: name, args: args, time: nowMicros()))
    }

    /// Any other event: `rate-limited`, `malformed-message`, `tool-pinning`, `sanitized`...
    /// `detail` becomes `brig.detail` (strings in it are redacted like payloads).
    @discardableResult
    public func event(action: String, outcome: String, detail: [(String, JSONValue)]) -> Bool {
        enqueue(.event(action: action, outcome: outcome, detail: detail, time: nowMicros()))
    }

    /// The server process ended.
    public func childExit(_ info: ExitInfo) {
        enqueue(.childExit(info, nowMicros()))
    }

    /// Writes the session-end record, flushes, fsyncs, updates the anchor and stops the writer.
    /// Later calls do nothing.
    public func close() {
        guard !closed.exchange(true, ordering: .acquiringAndReleasing) else { return }
        queue.close(end: .sessionEnd(nowMicros()))
    }

    /// Waits until every record queued so far is written (and synced when `fsync` is not `never`).
    public func flush() {
        queue.flush()
    }

    @discardableResult
    func enqueue(_ item: Item) -> Bool {
        guard !closed.load(ordering: .acquiring) else { return isHealthy }
        queue.push(item, waitForDurable: waitForDurable)
        return isHealthy
    }

    func setHealthy(_ value: Bool) { healthy.store(value, ordering: .releasing) }

    deinit { close() }
}

enum Item: Sendable {
    case sessionStart(SessionInfo, Int64)
    case message(MessageEvent, Int64)
    case syscall(pid: Int32, name: String, args: [UInt64], time: Int64)
    case event(action: String, outcome: String, detail: [(String, JSONValue)], time: Int64)
    case childExit(ExitInfo, Int64)
    case sessionEnd(Int64)
}

/// The bounded queue between callers and the writer thread.
final class Queue: @unchecked Sendable {
    // Guarded by `mutex`.
    private var items: [Item] = []
    private var closing = false
    private var finished = false
    private var dropped = 0
    private var pushed: UInt64 = 0
    private var processed: UInt64 = 0
    private var flushRequested: UInt64 = 0

    private let mutex = UnsafeMutablePointer<pthread_mutex_t>.allocate(capacity: 1)
    /// Signals the writer (items, close, flush) and callers (room, progress).
    private let toWriter = UnsafeMutablePointer<pthread_cond_t>.allocate(capacity: 1)
    private let toCallers = UnsafeMutablePointer<pthread_cond_t>.allocate(capacity: 1)
    init(writer: Writer) {
        pthread_mutex_init(mutex, nil)
        var attr = pthread_condattr_t()
        pthread_condattr_init(&attr)
        pthread_condattr_setclock(&attr, CLOCK_MONOTONIC)
        pthread_cond_init(toWriter, &attr)
        pthread_cond_init(toCallers, &attr)
        pthread_condattr_destroy(&attr)
        writer.queue = self
    }

    deinit {
        pthread_cond_destroy(toWriter)
        pthread_cond_destroy(toCallers)
        pthread_mutex_destroy(mutex)
        mutex.deallocate()
        toWriter.deallocate()
        toCallers.deallocate()
    }

    private func deadline(afterMicros us: UInt64) -> timespec {
        var ts = timespec()
        clock_gettime(CLOCK_MONOTONIC, &ts)
        let total = UInt64(ts.tv_nsec) + (us % 1_000_000) * 1000
        ts.tv_sec += Int(us / 1_000_000) + Int(total / 1_000_000_000)
        ts.tv_nsec = Int(total % 1_000_000_000)
        return ts
    }

    func push(_ item: Item, waitForDurable: Bool) {
        pthread_mutex_lock(mutex)
        defer { pthread_mutex_unlock(mutex) }
        if items.count >= AuditLog.capacity && !finished {
            var until = deadline(afterMicros: 2_000_000)
            while items.count >= AuditLog.capacity && !finished {
                if pthread_cond_timedwait(toCallers, mutex, &until) == ETIMEDOUT { break }
            }
        }
        if finished || items.count >= AuditLog.capacity {
            dropped += 1
            return
        }
        items.append(item)
        pushed += 1
        let ticket = pushed
        pthread_cond_signal(toWriter)
        if waitForDurable {
            while processed < ticket && !finished { pthread_cond_wait(toCallers, mutex) }
        }
    }

    func flush() {
        pthread_mutex_lock(mutex)
        defer { pthread_mutex_unlock(mutex) }
        let ticket = pushed
        flushRequested = max(flushRequested, ticket)
        pthread_cond_signal(toWriter)
        while processed < ticket && !finished { pthread_cond_wait(toCallers, mutex) }
    }

    /// Queues the end record and waits for the writer to finish.
    func close(end: Item) {
        pthread_mutex_lock(mutex)
        defer { pthread_mutex_unlock(mutex) }
        items.append(end)
        pushed += 1
        closing = true
        pthread_cond_signal(toWriter)
        while !finished { pthread_cond_wait(toCallers, mutex) }
    }

    /// Writer side: the next batch, waiting up to `timeoutMicros` for one. `closing` is true when
    /// the batch is the last.
    func take(timeoutMicros: UInt64) -> (items: [Item], dropped: Int, closing: Bool, flush: Bool) {
        pthread_mutex_lock(mutex)
        defer { pthread_mutex_unlock(mutex) }
        if items.isEmpty && !closing && flushRequested <= processed {
            var until = deadline(afterMicros: timeoutMicros)
            while items.isEmpty && !closing && flushRequested <= processed {
                if pthread_cond_timedwait(toWriter, mutex, &until) == ETIMEDOUT { break }
            }
        }
        let batch = items
        items.removeAll(keepingCapacity: true)
        let d = dropped
        dropped = 0
        pthread_cond_broadcast(toCallers)
        return (batch, d, closing, flushRequested > processed)
    }

    /// Writer side: `count` items are done.
    func done(_ count: Int, finished last: Bool) {
        pthread_mutex_lock(mutex)
        processed += UInt64(count)
        if last { finished = true }
        pthread_cond_broadcast(toCallers)
        pthread_mutex_unlock(mutex)
    }
}

/// The writer thread's state and work. Only the writer thread touches it once started.
final class Writer: @unchecked Sendable {
    let path: String
    let toStderr: Bool
    let key: SymmetricKey
    let settings: AuditSettings
    let redactor: Redactor
    let sessionID: String
    let anchorPath: String?
    weak var owner: AuditLog?
    /// Set once by `Queue.init`, before the thread starts.
    var queue: Queue?
    let syslogSocket: String

    var fd: Int32
    var fileSize: Int64
    var sequence: UInt64
    var prevMAC: [UInt8]
    /// What the session-start record says about the tail this session continues.
    var chainNote: [(String, JSONValue)] = []

    // Counters for the session-end record.
    var written = 0
    var messages = 0
    var denied = 0
    var droppedTotal = 0
    var lostTotal = 0
    var lostPending = 0
    var droppedPending = 0
    var startMonotonic = monotonicMicros()

    // Failure handling.
    var failing = false
    var failures = 0

    // fsync and anchor pacing.
    var dirty = false
    var lastSync = monotonicMicros()
    var sinceAnchor = 0
    var lastAnchor = monotonicMicros()
    var anchorFailed = false

    var syslogFD: Int32 = -1
    var syslogFailed = false

    init(path: String, key keyBytes: [UInt8], options: AuditOptions) throws(AuditError) {
        self.path = path
        self.toStderr = path == "-"
        self.key = SymmetricKey(data: keyBytes)
        self.settings = options.settings
        self.redactor = Redactor(extraKeys: options.settings.redactKeys, secretValues: options.secretValues)
        var rng = SystemRandomNumberGenerator()
        self.sessionID = hex((0..<8).map { _ in UInt8.random(in: 0...255, using: &rng) })
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
        try makeDirectories(parent(of: path))
        readTail()
        fd = Glibc.open(path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0o600)
        guard fd >= 0 else { throw AuditError("cannot open audit log \(path): \(errnoText())") }
        var st = stat()
        if fstat(fd, &st) == 0 {
            fileSize = Int64(st.st_size)
            if st.st_mode & 0o077 != 0 && st.st_uid == geteuid() { fchmod(fd, 0o600) }
        }
        if partialTail {
            // A write was cut short (crash, disk full): end that line so ours start clean.
            if writeAll(fd, [0x0A][...]) { fileSize += 1 }
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
            sequence = seq
            prevMAC = mac
            var status = "intact"
            if let (canonical, carried) = Chain.split(line[...]) {
                let prev = fields.prevMAC ?? Chain.zeroMAC
                if Chain.mac(key: key, prev: prev, canonical: canonical) != carried { status = "bad-mac" }
            } else {
                status = "bad-mac"
            }
            if partial && file == path { status = "partial-line" }
            note.append(("previous_sequence", .number(String(seq))))
            note.append(("previous_mac", .string(hex(mac))))
            note.append(("previous_tail", .string(status)))
            note.append(("previous_session_ended", .bool(fields.action == "session-end")))
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
            let (items, dropped, closing, flushNow) = queue.take(timeoutMicros: wait)
            droppedPending += dropped
            droppedTotal += dropped
            process(items)
            if closing || flushNow || settings.fsync == .always { sync(force: closing || flushNow) }
            periodic()
            if closing {
                writeAnchor()
                if syslogFD >= 0 { Glibc.close(syslogFD) }
                if !toStderr { Glibc.close(fd) }
                queue.done(items.count, finished: true)
                return
            }
            queue.done(items.count, finished: false)
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
            || Double(now &- lastAnchor) >= settings.anchorEverySeconds * 1_000_000 {
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

    private func process(_ items: [Item]) {
        var buf: [UInt8] = []
        var count = 0
        // Chain state before `buf`, restored when its write fails.
        var savedSequence = sequence, savedMAC = prevMAC
        var pendingSyslog: [String] = []
        // Lost records counted by a note in `buf`: counted again if the note is lost too.
        var carriedLost = 0

        func flushBuffer() {
            guard !buf.isEmpty else { return }
            if writeRecords(buf, count: count) {
                sinceAnchor += count
                written += count
                for s in pendingSyslog { sendSyslog(s) }
            } else {
                sequence = savedSequence
                prevMAC = savedMAC
                lostPending += carriedLost
            }
            carriedLost = 0
            pendingSyslog.removeAll()
            buf.removeAll(keepingCapacity: true)
            count = 0
            savedSequence = sequence
            savedMAC = prevMAC
        }

        func append(_ record: ObjectWriter, syslog: String? = nil) {
            let line = seal(record)
            if !toStderr, fileSize + Int64(buf.count) > 0,
               UInt64(fileSize) + UInt64(buf.count) + UInt64(line.count) > settings.rotateMaxBytes {
                flushBuffer()
                rotate()
            }
            buf.append(contentsOf: line)
            count += 1
            if let syslog, settings.syslog { pendingSyslog.append(syslog) }
        }

        if lostPending > 0 {
            append(note("audit-records-lost", "failure", [("count", .number(String(lostPending))),
                                                          ("reason", .string("write failures"))]))
            carriedLost = lostPending
            lostPending = 0
        }
        if droppedPending > 0 {
            append(note("audit-records-dropped", "failure", [("count", .number(String(droppedPending))),
                                                             ("reason", .string("queue full"))]))
            droppedPending = 0
        }
        for item in items {
            switch item {
            case .sessionStart(let info, let t): append(sessionStartRecord(info, t))
            case .message(let m, let t):
                messages += 1
                let deniedNow = m.decision.map { !$0.allowed } ?? false
                if deniedNow { denied += 1 }
                append(messageRecord(m, t), syslog: deniedNow ? syslogText(m) : nil)
            case .syscall(let pid, let name, let args, let t):
                append(syscallRecord(pid: pid, name: name, args: args, t),
                       syslog: "blocked syscall \(name) pid=\(pid) session=\(sessionID)")
            case .event(let action, let outcome, let detail, let t):
                append(eventRecord(action: action, outcome: outcome, detail: detail, t))
            case .childExit(let info, let t): append(exitRecord(info, t))
            case .sessionEnd(let t):
                flushBuffer()
                append(sessionEndRecord(t))
            }
            if buf.count >= 1 << 18 { flushBuffer() }
        }
        flushBuffer()
    }

    /// Writes a batch at the end of the file; on failure cuts the file back to where it was, so
    /// the log stays a sequence of whole records.
    private func writeRecords(_ bytes: [UInt8], count: Int) -> Bool {
        if writeAll(fd, bytes[...]) {
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
        if settings.onFailure == .block { owner?.setHealthy(false) }
        guard !failing else { return }
        failing = true
        let consequence = settings.onFailure == .block
            ? "the relay stops (on_failure: block)" : "records are lost until writes succeed (on_failure: continue)"
        stderrLine("brig: audit: cannot \(what) \(path): \(errnoText(code)); \(consequence)")
    }

    private func header(_ t: Int64, action: StaticString, kind: StaticString = "event", category: [String],
                        type: String, outcome: String) -> ObjectWriter {
        var w = ObjectWriter()
        w.beginObject()
        w.string("@timestamp", formatTimestamp(t))
        w.beginObject("event")
        w.string("kind", String(describing: kind))
        w.strings("category", category)
        w.strings("type", [type])
        w.string("action", String(describing: action))
        w.string("outcome", outcome)
        w.int("sequence", sequence + 1)
        w.endObject()
        return w
    }

    private func beginBrig(_ w: inout ObjectWriter) {
        w.beginObject("brig")
        w.int("schema", 1)
        w.beginObject("session")
        w.string("id", sessionID)
        w.endObject()
    }

    /// Ends `brig` and the record with `prev_mac` and `mac`; advances the chain.
    private func seal(_ record: ObjectWriter) -> [UInt8] {
        var w = record
        w.string("prev_mac", hex(prevMAC))
        var line = w.out
        line.reserveCapacity(line.count + Chain.suffixLength + 1)
        line.append(0x7D)
        line.append(0x7D)
        let mac = Chain.mac(key: key, prev: prevMAC, canonical: line)
        line.removeLast(2)
        line.append(contentsOf: Chain.macPrefix)
        for b in mac {
            line.append(hexDigits[Int(b >> 4)])
            line.append(hexDigits[Int(b & 0xF)])
        }
        line.append(contentsOf: [0x22, 0x7D, 0x7D, 0x0A])
        sequence += 1
        prevMAC = mac
        return line
    }

    private func note(_ action: StaticString, _ outcome: String, _ detail: [(String, JSONValue)]) -> ObjectWriter {
        var w = header(nowMicros(), action: action, category: ["configuration"], type: "info", outcome: outcome)
        beginBrig(&w)
        w.value("detail", .object(detail))
        return w
    }

    private func sessionStartRecord(_ info: SessionInfo, _ t: Int64) -> ObjectWriter {
        var w = header(t, action: "session-start", category: ["session"], type: "start", outcome: "success")
        w.beginObject("process")
        if let pid = info.serverPID { w.int("pid", pid) }
        w.string("executable", info.executable)
        w.strings("args", info.command.map { redactor.redact($0) })
        if let sha = info.executableSHA256 ?? info.executable.flatMap(sha256File) {
            w.beginObject("hash")
            w.string("sha256", sha)
            w.endObject()
        }
        w.endObject()
        w.beginObject("user")
        w.string("id", String(info.userID))
        w.string("name", info.userName)
        w.endObject()
        beginBrig(&w)
        w.string("version", info.brigVersion)
        w.int("pid", info.brigPID)
        w.int("parent_pid", info.parentPID)
        w.beginObject("profile")
        w.string("name", info.profileName)
        w.string("source", info.profileSource)
        if let sha = info.profileSHA256 ?? info.profileText.map({ sha256Hex($0.utf8) }) { w.string("sha256", sha) }
        w.endObject()
        w.beginObject("audit")
        w.string("payloads", settings.payloads.rawValue)
        w.string("fsync", settings.fsync.rawValue)
        w.string("on_failure", settings.onFailure.rawValue)
        w.endObject()
        w.strings("sandbox", info.sandbox)
        w.strings("kernel_features", info.kernelFeatures)
        w.value("chain", .object(chainNote))
        return w
    }

    private func messageRecord(_ m: MessageEvent, _ t: Int64) -> ObjectWriter {
        let outcome: String, type: String
        if let d = m.decision {
            outcome = d.allowed ? "success" : "failure"
            type = d.allowed ? "allowed" : "denied"
        } else {
            outcome = "unknown"
            type = "info"
        }
        let alert = !(m.decision?.allowed ?? true)
        var w = alert
            ? header(t, action: "message", kind: "alert", category: ["api"], type: type, outcome: outcome)
            : header(t, action: "message", category: ["api"], type: type, outcome: outcome)
        w.beginObject("mcp")
        w.string("direction", m.direction.rawValue)
        w.string("kind", m.kind)
        w.string("method", m.method)
        w.string("id", m.id)
        w.string("tool", m.tool)
        w.string("resource", m.resource.map { redactor.redact($0) })
        w.string("prompt", m.prompt)
        w.int("size", m.size)
        if let d = m.durationMicros { w.int("duration_us", d) }
        if let d = m.decision {
            w.beginObject("decision")
            w.bool("allowed", d.allowed)
            w.bool("enforced", d.enforced)
            w.string("rule", d.rule)
            w.string("reason", redactor.redact(d.reason))
            w.string("category", d.category)
            w.endObject()
        }
        w.string("subject", m.subject)
        if !m.scopes.isEmpty { w.strings("scopes", m.scopes) }
        if let raw = m.raw { writePayload(raw, into: &w) }
        w.endObject()
        beginBrig(&w)
        return w
    }

    private func writePayload(_ raw: [UInt8], into w: inout ObjectWriter) {
        switch settings.payloads {
        case .none: return
        case .hash:
            w.beginObject("payload")
            w.string("sha256", sha256Hex(raw))
            w.endObject()
        case .redacted, .full:
            // Fast path: when nothing in the line could be redacted (no sensitive key name, no
            // secret pattern, no injected value), the payload is the message's own members,
            // copied as they are: no tree, no re-serialization.
            if writeRawPayload(raw, into: &w) { return }
            let parsed: JSONValue? = raw.withUnsafeBufferPointer { buf in
                do throws(JSONScanner.Failure) { return try JSONValue.parse(buf) } catch { return nil }
            }
            let redact = settings.payloads == .redacted
            guard let parsed else {
                w.beginObject("payload")
                w.bool("unparsed", true)
                let text = String(decoding: raw, as: UTF8.self)
                w.string("text", redact ? redactor.redact(text) : text)
                w.endObject()
                return
            }
            switch parsed {
            case .object(let members):
                w.beginObject("payload")
                for (k, v) in members where k != "jsonrpc" && k != "id" && k != "method" {
                    w.member(k, redact ? redactor.redact(v) : v)
                }
                w.endObject()
            default:
                w.beginObject("payload")
                w.value("batch", redact ? redactor.redact(parsed) : parsed)
                w.endObject()
            }
        }
    }

    private func writeRawPayload(_ raw: [UInt8], into w: inout ObjectWriter) -> Bool {
        raw.withUnsafeBufferPointer { buf in
            if settings.payloads == .redacted {
                if SecretScan.containsFolded(buf, anyOf: redactor.keys) || SecretScan.hasSecretPrefix(buf) { return false }
                for (_, value) in redactor.secrets where SecretScan.contains(buf, value) { return false }
            }
            guard case .success(let view) = MessageView.parse(buf), view.kind != .batch else { return false }
            w.beginObject("payload")
            for (name, range) in [("params", view.params), ("result", view.result), ("error", view.error)] {
                guard let range else { continue }
                w.member(rawName: name, Array(buf[range]))
            }
            w.endObject()
            return true
        }
    }

    private func syscallRecord(pid: Int32, name: String, args: [UInt64], _ t: Int64) -> ObjectWriter {
        var w = header(t, action: "syscall-blocked", kind: "alert", category: ["process", "intrusion_detection"],
                       type: "denied", outcome: "failure")
        w.beginObject("process")
        w.int("pid", pid)
        w.endObject()
        beginBrig(&w)
        w.beginObject("syscall")
        w.string("name", name)
        w.beginArray("args")
        for a in args { w.element(a) }
        w.endArray()
        w.endObject()
        return w
    }

    private func eventRecord(action: String, outcome: String, detail: [(String, JSONValue)], _ t: Int64) -> ObjectWriter {
        let o = ["success", "failure", "unknown"].contains(outcome) ? outcome : "unknown"
        var w = ObjectWriter()
        w.beginObject()
        w.string("@timestamp", formatTimestamp(t))
        w.beginObject("event")
        w.string("kind", o == "failure" ? "alert" : "event")
        w.strings("category", ["api"])
        w.strings("type", [o == "failure" ? "denied" : "info"])
        w.string("action", action)
        w.string("outcome", o)
        w.int("sequence", sequence + 1)
        w.endObject()
        beginBrig(&w)
        let d = JSONValue.object(detail)
        w.value("detail", settings.payloads == .full ? d : redactor.redact(d))
        return w
    }

    private func exitRecord(_ info: ExitInfo, _ t: Int64) -> ObjectWriter {
        var w = header(t, action: "child-exit", category: ["process"], type: "end",
                       outcome: info.code == 0 ? "success" : "failure")
        w.beginObject("process")
        w.int("pid", info.pid)
        if let c = info.code { w.int("exit_code", c) }
        w.endObject()
        beginBrig(&w)
        w.beginObject("exit")
        if let s = info.signal { w.int("signal", s) }
        w.int("user_cpu_us", info.userCPUMicros)
        w.int("system_cpu_us", info.systemCPUMicros)
        w.int("max_rss_kib", info.maxRSSKiB)
        w.int("wall_us", info.wallMicros)
        w.endObject()
        return w
    }

    private func sessionEndRecord(_ t: Int64) -> ObjectWriter {
        var w = header(t, action: "session-end", category: ["session"], type: "end",
                       outcome: lostTotal + droppedTotal == 0 ? "success" : "failure")
        w.beginObject("brig")
        w.int("schema", 1)
        w.beginObject("session")
        w.string("id", sessionID)
        w.int("records", written + 1)
        w.int("messages", messages)
        w.int("denied", denied)
        w.int("dropped", droppedTotal)
        w.int("lost", lostTotal)
        w.int("duration_us", monotonicMicros() &- startMonotonic)
        w.endObject()
        return w
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
        w.string("mac", hex(prevMAC))
        w.string("session", sessionID)
        w.string("@timestamp", formatTimestamp(nowMicros()))
        w.string("log", path)
        w.endObject()
        w.out.append(0x0A)
        let tmp = anchorPath + ".tmp"
        do throws(AuditError) { try makeDirectories(parent(of: anchorPath)) } catch {}
        let afd = Glibc.open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0o600)
        var ok = afd >= 0
        if ok {
            ok = writeAll(afd, w.out[...])
            if settings.fsync != .never { fsync(afd) }
            Glibc.close(afd)
            ok = ok && rename(tmp, anchorPath) == 0
        }
        if !ok, !anchorFailed {
            anchorFailed = true
            stderrLine("brig: audit: cannot write anchor \(anchorPath): \(errnoText())")
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
                stderrLine("brig: audit: syslog: cannot reach \(syslogSocket): \(errnoText())")
                return
            }
        }
        let msg = Syslog.format(message: text, time: nowMicros())
        _ = msg.withUnsafeBytes { send(syslogFD, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL)) }
    }
}

/// Every signal but the synchronous faults.
func blockableSignals(_ set: inout sigset_t) {
    sigfillset(&set)
    for s in [SIGSEGV, SIGBUS, SIGFPE, SIGILL, SIGTRAP, SIGABRT, SIGSYS] { sigdelset(&set, s) }
}

func stderrLine(_ s: String) {
    var text = s
    text.append("\n")
    text.withUTF8 { _ = writeAll(2, Array($0)[...]) }
}
