public import BrigJSONRPC
import BrigProfile
public import BrigSecrets
import BrigSystem
import Crypto
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
/// write, fsync, rotation, the anchor, syslog) happens on the log's own writer thread (an
/// `OSThread`, not the cooperative pool). The queue is guarded by one pthread mutex with
/// two condition variables (`Queue`); the writer's state (`Writer`) is touched by the writer
/// thread only, and by `open` before the thread starts.
///
/// The queue absorbs bursts: up to 65,536 items or 32 MiB (a relayed message counts its line plus
/// 64 bytes, another event 512). When it is full a caller waits up to 2 s for room; after that the
/// item is dropped and counted, and the next record written says how many were dropped. With
/// `fsync: always` a caller waits until its record is written and synced.
///
/// The writer thread runs at a lower CPU priority (nice +5) than the relay, and holds a burst's
/// records back while the burst lasts (over 64 messages a millisecond; up to 250 ms, three
/// quarters of the queue, or the first denial or event: `Queue.deferWhileBusy`): the messages go first and the records follow; the
/// bounded queue is the backpressure when the writer cannot keep up for longer. With
/// `fsync: always` (callers wait for the writer) it keeps the relay's priority and holds nothing.
public final class AuditLog: Sendable {
    /// The log file (`"-"` for stderr).
    public let path: String
    /// The anchor file, if any.
    public let anchorPath: String?
    /// This session's id (16 hex digits), in every record as `brig.session.id`.
    public let sessionID: String
    let queue: Queue
    /// Shared with the writer, which clears it (a flag object, not a weak reference to the log:
    /// a weakly referenced object takes the slow reference-counting path on every retain, and
    /// the relay retains the log for every message).
    let health: AuditHealth
    let closed: Atomic<Bool>
    let waitForDurable: Bool

    /// The queue's capacity in items, and in bytes (see `Item.cost`).
    public static let capacity = 65_536
    public static let capacityBytes = 32 << 20

    /// Opens (creating it, 0600, parent directories 0700) the log and the key, reads the tail of
    /// the existing log to continue its chain, and starts the writer thread.
    public static func open(_ options: AuditOptions) throws(AuditError) -> AuditLog {
        let env = options.environment ?? ProcessEnvironment.snapshot()
        let settings = options.settings
        let safeName = String(options.sessionName.map { $0 == "/" || $0 == "\0" ? "_" : $0 })
        let name = safeName.isEmpty || safeName.hasPrefix(".") ? "brig" + safeName : safeName
        let path = options.path ?? settings.path ?? (StateDirectory.brig(environment: env) + "/audit/\(name).jsonl")
        let keyPath = options.keyFile ?? settings.keyFile ?? AuditKey.defaultPath(environment: env)
        let key: [UInt8]
        if options.keyFile == nil && settings.keyFile == nil {
            key = try AuditKey.loadOrCreate(keyPath)
        } else {
            key = try AuditKey.load(keyPath)
        }
        let writer = try Writer(path: path, key: key, options: options)
        let log = AuditLog(path: path, anchor: settings.anchor, writer: writer, settings: settings)
        // The writer thread takes no asynchronous signals: it starts with them blocked, so a
        // process-directed signal (brig's SIGUSR1, SIGCHLD...) is never delivered to it before
        // or after its owner installs handlers.
        let lowerPriority = settings.fsync != .always
        let started = OSThread.start(name: "brig-audit", blockingSignals: true) { [writer] in
            // Linux nice values are per thread (who = 0 is the calling thread): this one yields to the relay.
            if lowerPriority { _ = setpriority(__priority_which_t(PRIO_PROCESS.rawValue), 0, 5) }
            writer.run()
        }
        guard started else { throw AuditError("\(path): cannot start the audit writer thread: \(SystemError.text())") }
        return log
    }

    init(path: String, anchor: String?, writer: Writer, settings: AuditSettings) {
        self.path = path
        self.anchorPath = anchor
        self.sessionID = writer.sessionID
        self.redactor = writer.redactor
        self.queue = Queue(writer: writer)
        self.health = writer.health
        self.closed = Atomic(false)
        self.waitForDurable = settings.fsync == .always && path != "-"
    }

    /// What the writer redacts with (built-in names and patterns, the profile's keys, the injected
    /// secrets): text brig shows the host's user is redacted the same way.
    public let redactor: Redactor

    /// With `fsync: always`, each call returns once its record is written and synced; callers that
    /// batch records (`AuditStage`) must not batch then.
    public var waitsForDurableRecords: Bool { waitForDurable }

    /// False once a record could not be written under `on_failure: block`: the relay should stop
    /// forwarding and answer requests with an error.
    public var isHealthy: Bool { health.healthy.load(ordering: .acquiring) }

    /// The session-start record (call once, first).
    public func sessionStart(_ info: SessionInfo) {
        enqueue(.sessionStart(info, nowMicros()))
    }

    /// One message in either direction. Returns false when the log is unhealthy (`on_failure: block`).
    @discardableResult
    public func message(_ m: consuming MessageEvent) -> Bool {
        enqueue(.message(consume m, nowMicros()))
    }

    /// One message, from the relay's hot path: the queue copies `line`, what `view` (the relay's
    /// parse of it; its ranges count from `lineStart`) says and `context`; the writer builds the
    /// record on its own thread (parsing the line itself when `view` is nil). Returns false when
    /// the log is unhealthy (`on_failure: block`).
    @discardableResult
    public func message(
        line: UnsafeBufferPointer<UInt8>, view: MessageView? = nil, lineStart: Int = 0,
        direction: Direction, context: MessageContext
    ) -> Bool {
        guard !closed.load(ordering: .acquiring) else { return isHealthy }
        queue.push(
            line: line, view: view, lineStart: lineStart, direction: direction, context: context, time: nowMicros(),
            waitForDurable: waitForDurable)
        return isHealthy
    }

    /// Queues the messages of `stage` in their order and empties it. Returns false when the log
    /// is unhealthy (`on_failure: block`).
    @discardableResult
    public func push(_ stage: AuditStage) -> Bool {
        guard !stage.isEmpty else { return isHealthy }
        defer { stage.reset() }
        guard !closed.load(ordering: .acquiring) else { return isHealthy }
        queue.push(stage: stage, waitForDurable: waitForDurable)
        return isHealthy
    }

    /// A syscall the seccomp filter refused.
    /// `howToAllow`: the profile line that would allow the call (`brig.syscall.suggestion`).
    public func blockedSyscall(pid: Int32, name: String, args: [UInt64], howToAllow: String? = nil) {
        enqueue(.syscall(pid: pid, name: name, args: args, howToAllow: howToAllow, time: nowMicros()))
    }

    /// Any other event: `rate-limited`, `malformed-message`, `withheld-call`, a content finding,
    /// a `connection`... `detail` becomes `brig.detail` (strings in it are redacted like payloads).
    @discardableResult
    public func event(action: AuditAction, outcome: AuditOutcome, detail: [(String, JSONValue)]) -> Bool {
        enqueue(.event(action: action, outcome: outcome, detail: detail, time: nowMicros()))
    }

    /// The server process ended.
    public func childExit(_ info: ExitInfo) {
        enqueue(.childExit(info, nowMicros()))
    }

    /// Writes the session-end record (with `blocked`, the session's seccomp refusals), flushes,
    /// fsyncs, updates the anchor and stops the writer. Later calls do nothing.
    public func close(blocked: BlockedSyscallTotals? = nil) {
        guard !closed.exchange(true, ordering: .acquiringAndReleasing) else { return }
        queue.close(end: .sessionEnd(nowMicros(), blocked))
    }

    /// Waits until every record queued so far is written (and synced when `fsync` is not `never`).
    public func flush() {
        queue.flush()
    }

    @discardableResult
    func enqueue(_ item: consuming Item) -> Bool {
        guard !closed.load(ordering: .acquiring) else { return isHealthy }
        queue.push(consume item, waitForDurable: waitForDurable)
        return isHealthy
    }

    deinit { close() }
}

/// Whether records can still be written (`on_failure: block`).
final class AuditHealth: Sendable {
    let healthy = Atomic(true)
}

/// One queued event. A relayed line is an offset into the batch's `MessageArena` bytes (a burst
/// of messages allocates nothing); the other events are boxed, so that an item is two words.
enum Item: Sendable {
    indirect case sessionStart(SessionInfo, Int64)
    case line(chunk: Int, offset: Int)
    indirect case message(MessageEvent, Int64)
    indirect case syscall(pid: Int32, name: String, args: [UInt64], howToAllow: String?, time: Int64)
    indirect case event(action: AuditAction, outcome: AuditOutcome, detail: [(String, JSONValue)], time: Int64)
    indirect case childExit(ExitInfo, Int64)
    indirect case sessionEnd(Int64, BlockedSyscallTotals?)

    /// What an item holds in memory while queued, roughly (a line's is counted by the arena).
    var cost: Int {
        switch self {
        case .line: return 0
        case .message(let m, _): return 256 + (m.raw?.count ?? 0)
        default: return 512
        }
    }
}

/// A batch taken by the writer: the items in order and the chunks holding their lines.
struct Batch {
    var items: [Item] = []
    var chunks: [ByteBuffer] = []
}

/// The bounded queue between callers and the writer thread.
final class Queue: @unchecked Sendable {
    // Guarded by `mutex`.
    private var items: [Item] = []
    /// The lines of the `.line` items, with their contexts, in chunks filled one after another
    /// (`MessageArena` entries never straddle two). A full chunk is not grown but followed by a
    /// new one, so queuing a burst never copies what is queued already; a large stage becomes a
    /// chunk as it is (no copy at all). The writer hands emptied chunks back (`done`).
    private var chunks: [ByteBuffer] = []
    /// The memory `chunks` hold (their capacities: a chunk handed over part full counts whole),
    /// for the queue's byte budget.
    private var chunkBytes = 0
    /// Empty chunks of `chunkSize` for the next pushes and stages: the writer returns them
    /// (`done`), and while it holds a burst back it keeps `spareChunks` of them with their pages
    /// touched (`touchedChunks`), so that a relay thread does not take a page fault per 4 KiB.
    private var pool: [ByteBuffer] = []
    static let chunkSize = 1 << 16
    /// 4 MiB are kept after a burst (more is freed: a quiet server should not hold a burst's
    /// memory); the writer touches new chunks ahead of the relay during the next one.
    static let poolLimit = (4 << 20) / chunkSize
    static let spareChunks = 32
    /// A stage at least this large is queued as a chunk of its own instead of being copied.
    static let handOverBytes = 1 << 14
    private var closing = false
    private var finished = false
    private var dropped = 0
    private var pushed: UInt64 = 0
    private var processed: UInt64 = 0
    private var flushRequested: UInt64 = 0
    /// The cost of the items queued (`Item.cost`), besides the arena.
    private var queuedBytes = 0
    /// The writer's emptied batch (`done`), whose storage the next `take` reuses.
    private var spare: Batch?
    /// The writer sleeps on `toWriter` (so a push must wake it), and whether one did already.
    private var writerWaiting = false
    private var wakeSent = false
    /// How long the writer sleeps before looking again while messages keep coming (`take`).
    static let pollMicros: UInt32 = 1000
    /// The longest a burst's messages wait for the writer (`deferWhileBusy`).
    static let maxDeferMicros: UInt64 = 250_000
    /// Messages per look (a millisecond) that make a burst: 64,000 a second, about a tenth of a
    /// CPU for the writer (1 to 2 microseconds a record). A client that waits for each answer
    /// (one round trip at a time) stays below it, and its records are written as they come.
    static let burstPerPoll: UInt64 = 64
    /// Slower looks in a row that end a burst: 20 ms, longer than a busy peer's scheduling gaps
    /// (a Python client's threads take turns every 5 ms).
    static let quietPolls = 20
    /// Whether the writer's last batch had items: traffic, so the next empty look polls.
    private var lastTakeHadItems = false
    /// When the oldest queued item came (monotonic microseconds; set when the queue was empty).
    private var firstQueuedAt: UInt64 = 0
    /// Something queued that should not wait for a burst to end: an event that is not a relayed
    /// message (session start, exit, a blocked syscall...) or a denial.
    private var urgent = false

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

    func push(_ item: consuming Item, waitForDurable: Bool) {
        pthread_mutex_lock(mutex)
        defer { pthread_mutex_unlock(mutex) }
        let cost = item.cost
        guard waitForRoom(cost: cost) else { return }
        noteFirst()
        if case .message(let m, _) = item { if m.decision?.allowed == false { urgent = true } } else { urgent = true }
        items.append(consume item)
        queuedBytes += cost
        queued(waitForDurable: waitForDurable)
    }

    func push(
        line: UnsafeBufferPointer<UInt8>, view: MessageView?, lineStart: Int, direction: Direction,
        context: MessageContext, time: Int64, waitForDurable: Bool
    ) {
        pthread_mutex_lock(mutex)
        defer { pthread_mutex_unlock(mutex) }
        guard waitForRoom(cost: MessageArena.cost(line: line)) else { return }
        noteFirst()
        if context.decision?.allowed == false { urgent = true }
        let tail = tailChunk(room: MessageArena.cost(line: line))
        items.append(.line(chunk: chunks.count - 1, offset: tail.count))
        MessageArena.append(
            line: line, view: view, lineStart: lineStart, direction: direction, context: context,
            time: time, to: tail)
        queued(waitForDurable: waitForDurable)
    }

    func push(stage: AuditStage, waitForDurable: Bool) {
        pthread_mutex_lock(mutex)
        defer { pthread_mutex_unlock(mutex) }
        let count = stage.offsets.count
        guard waitForRoom(cost: stage.bytes.count, items: count) else {
            dropped += count - 1
            return
        }
        noteFirst()
        if stage.hasDenial { urgent = true }
        let base: Int
        if stage.bytes.count >= Queue.handOverBytes {
            chunks.append(stage.bytes)
            chunkBytes += stage.bytes.capacity
            base = 0
            stage.bytes = pool.popLast() ?? ByteBuffer(capacity: Queue.chunkSize)
        } else {
            let tail = tailChunk(room: stage.bytes.count)
            base = tail.count
            tail.append(contentsOf: stage.bytes.bytes)
        }
        let chunk = chunks.count - 1
        for offset in stage.offsets { items.append(.line(chunk: chunk, offset: base + offset)) }
        pushed += UInt64(count - 1)
        queued(waitForDurable: waitForDurable)
    }

    /// `n` new chunks with every page written once: the page faults are taken here, on the
    /// writer's thread while it holds a burst back, not by the relay's threads that fill them.
    private static func touchedChunks(_ n: Int) -> [ByteBuffer] {
        (0..<n).map { _ in
            let chunk = ByteBuffer(capacity: chunkSize)
            chunk.touchPages()
            return chunk
        }
    }

    /// The chunk to append `room` bytes to: the last one when they fit, else a new one (from the
    /// pool when it has one and they fit in `chunkSize`).
    private func tailChunk(room: Int) -> ByteBuffer {
        if let last = chunks.last, last.capacity - last.count >= room { return last }
        let chunk = room <= Queue.chunkSize ? (pool.popLast() ?? ByteBuffer(capacity: Queue.chunkSize)) : ByteBuffer(capacity: room)
        chunks.append(chunk)
        chunkBytes += chunk.capacity
        return chunk
    }

    /// Notes when the queue stopped being empty (`deferWhileBusy`).
    @inline(__always)
    private func noteFirst() {
        if items.isEmpty { firstQueuedAt = monotonicMicros() }
    }

    /// Waits (up to 2 s) until an item of `cost` bytes fits; false when it was dropped instead.
    /// An item larger than the whole budget still goes in, alone.
    private func waitForRoom(cost: Int, items added: Int = 1) -> Bool {
        func full() -> Bool {
            (!items.isEmpty && items.count + added > AuditLog.capacity)
                || (!items.isEmpty && chunkBytes + queuedBytes + cost > AuditLog.capacityBytes)
        }
        if full() && !finished {
            var until = deadline(afterMicros: 2_000_000)
            while full() && !finished {
                if pthread_cond_timedwait(toCallers, mutex, &until) == ETIMEDOUT { break }
            }
        }
        if finished || full() {
            dropped += 1
            return false
        }
        return true
    }

    private func queued(waitForDurable: Bool) {
        pushed += 1
        let ticket = pushed
        // One wake-up per wait of the writer: the items that follow it join the same batch.
        if writerWaiting && !wakeSent {
            wakeSent = true
            pthread_cond_signal(toWriter)
        }
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

    /// The writer stays out of the relay's way during a burst. While messages come faster than
    /// `burstPerPoll` a millisecond, it leaves them queued, looking again every `pollMicros`,
    /// until they have come slower than that for `quietPolls` looks in a row (the burst is over:
    /// a few milliseconds' pause, such as a Python client's threads taking turns, does not end
    /// it), something urgent is queued, someone waits (close, flush), the queue passes three
    /// quarters of its capacity (the last quarter is the callers' margin while the writer catches
    /// up), or the oldest item has waited `maxDeferMicros`. The records are then written after
    /// the burst; its messages were relayed without the writer competing for the CPU. Slower
    /// traffic (interactive use) is written within about `quietPolls` milliseconds. While it
    /// waits, the writer touches spare chunks for the relay (`touchedChunks`). Called with the
    /// mutex held.
    private func deferWhileBusy() {
        var seen = pushed
        var slowPolls = 0
        // Spares are touched only once a look has seen a burst: a session's first records (or
        // an interactive client's) must not cost 2 MiB of page faults on the other core while
        // brig starts the server.
        var bursting = false
        while !items.isEmpty && !urgent && !closing && flushRequested <= processed
            && items.count < AuditLog.capacity / 4 * 3
            && chunkBytes + queuedBytes < AuditLog.capacityBytes / 4 * 3
            && monotonicMicros() &- firstQueuedAt < Queue.maxDeferMicros
        {
            let wanted = bursting ? Queue.spareChunks - pool.count : 0
            pthread_mutex_unlock(mutex)
            let fresh = wanted > 0 ? Queue.touchedChunks(wanted) : []
            usleep(Queue.pollMicros)
            pthread_mutex_lock(mutex)
            pool.append(contentsOf: fresh)
            bursting = pushed &- seen >= Queue.burstPerPoll
            if bursting {
                slowPolls = 0
            } else {
                slowPolls += 1
                if slowPolls >= Queue.quietPolls { return }
            }
            seen = pushed
        }
    }

    /// Writer side: the next batch, waiting up to `timeoutMicros` for one. `closing` is true when
    /// the batch is the last. With `deferring` (not `fsync: always`) a burst is held back first.
    func take(timeoutMicros: UInt64, deferring: Bool) -> (batch: Batch, dropped: Int, closing: Bool, flush: Bool) {
        pthread_mutex_lock(mutex)
        defer { pthread_mutex_unlock(mutex) }
        // While messages keep coming, the writer polls: it sleeps a while and looks again, and
        // callers never have to wake it (a wake-up is a system call on the relay's thread, and on
        // a VM an interrupt to another CPU). It asks to be woken only once a poll found nothing.
        if deferring && items.isEmpty && !closing && flushRequested <= processed && lastTakeHadItems {
            pthread_mutex_unlock(mutex)
            usleep(Queue.pollMicros)
            pthread_mutex_lock(mutex)
        }
        if items.isEmpty && !closing && flushRequested <= processed {
            var until = deadline(afterMicros: timeoutMicros)
            writerWaiting = true
            wakeSent = false
            while items.isEmpty && !closing && flushRequested <= processed {
                if pthread_cond_timedwait(toWriter, mutex, &until) == ETIMEDOUT { break }
            }
            writerWaiting = false
        }
        if deferring { deferWhileBusy() }
        // The writer hands its emptied batch array back (`done`): its storage is reused, so a
        // burst does not allocate (and fault in) a new array at every take.
        let storage = spare ?? Batch()
        spare = nil
        let batch = Batch(items: items, chunks: chunks)
        lastTakeHadItems = !items.isEmpty
        urgent = false
        items = storage.items
        chunks = storage.chunks
        chunkBytes = 0
        queuedBytes = 0
        let d = dropped
        dropped = 0
        pthread_cond_broadcast(toCallers)
        return (batch, d, closing, flushRequested > processed)
    }

    /// Writer side: the items of `batch` are done; its storage is kept for the next take.
    func done(_ batch: consuming Batch, finished last: Bool) {
        let count = batch.items.count
        batch.items.removeAll(keepingCapacity: true)
        // A burst's storage is kept up to 4 MiB of lines.
        for chunk in batch.chunks { chunk.removeAll() }
        pthread_mutex_lock(mutex)
        // A burst's chunks are kept for the next one, up to `poolLimit`; the rest, and a larger
        // chunk (a stage or an entry that outgrew `chunkSize`: huge lines), are freed.
        for chunk in batch.chunks where chunk.capacity == Queue.chunkSize && pool.count < Queue.poolLimit {
            pool.append(chunk)
        }
        batch.chunks.removeAll(keepingCapacity: true)
        spare = batch
        processed += UInt64(count)
        if last { finished = true }
        pthread_cond_broadcast(toCallers)
        pthread_mutex_unlock(mutex)
    }
}

func stderrLine(_ s: String) {
    var text = s
    text.append("\n")
    text.withUTF8 { _ = FileSystem.writeAll(2, UnsafeRawBufferPointer($0)) }
}
