public import BrigJSONRPC

/// What the relay knows about a message that its line does not say. Everything else (kind, id,
/// method, the payload's ranges) the writer reads from the line itself, off the relay's threads.
public struct MessageContext: Sendable {
    /// For a response: the method of the request it answers.
    public var requestMethod: String?
    /// The tool, resource or prompt named (for a response: the request's).
    public var subject: String?
    /// For a response: time since the request was forwarded.
    public var durationMicros: UInt64?
    public var decision: AuditDecision?
    public var scopes: [String]
    /// For a call whose rule asks the user first: the question and its answer.
    public var ask: AuditAsk?

    public init(
        requestMethod: String? = nil, subject: String? = nil, durationMicros: UInt64? = nil,
        decision: AuditDecision? = nil, scopes: [String] = [], ask: AuditAsk? = nil
    ) {
        self.ask = ask
        self.requestMethod = requestMethod
        self.subject = subject
        self.durationMicros = durationMicros
        self.decision = decision
        self.scopes = scopes
    }
}

/// Lines on their way to the writer, with their contexts, one after another in one byte buffer:
/// the relay's thread copies a line and a few fields in (no allocation per message: the buffer
/// is recycled between batches) and the writer reads them back in order. The encoding lives in
/// this file and in one process only; it is never stored.
///
/// One entry: time (8 bytes), direction (1), flags (1), duration (8, when flagged), what the
/// relay's parse said (when flagged: the kind (1), the strings id and method, the ranges of params,
/// result and error relative to the line (4-byte bounds, -1 for none)), the strings
/// requestMethod and subject (each a 4-byte length, `UInt32.max` for none, then the bytes), the
/// decision (when flagged: allowed, enforced, then rule, reason, category, suggestion), the question asked
/// (when flagged: question, answer, via, the timeout (8), the wait (8, `UInt64.max` for none)), the
/// scopes (a 4-byte count, then strings), the line (a 4-byte length, then the bytes).
enum MessageArena {
    private static let hasDuration: UInt8 = 1, hasDecision: UInt8 = 2, hasView: UInt8 = 4, hasAsk: UInt8 = 8
    private static let none = UInt32.max

    /// `view`'s ranges count from `lineStart` (a batch member's view counts from its batch's line).
    static func append(
        line: UnsafeBufferPointer<UInt8>, view: MessageView?, lineStart: Int, direction: Direction,
        context: MessageContext, time: Int64, to arena: ByteBuffer
    ) {
        var flags: UInt8 = 0
        if context.durationMicros != nil { flags |= hasDuration }
        if context.decision != nil { flags |= hasDecision }
        if view != nil { flags |= hasView }
        if context.ask != nil { flags |= hasAsk }
        arena.append(bitsOf: time)
        arena.append(direction == .hostToServer ? 0 : 1)
        arena.append(flags)
        if let d = context.durationMicros { arena.append(bitsOf: d) }
        if let view {
            arena.append(kindCode(view.kind))
            put(view.id, arena)
            put(view.method, arena)
            put(view.params, lineStart, arena)
            put(view.result, lineStart, arena)
            put(view.error, lineStart, arena)
        }
        put(context.requestMethod, arena)
        put(context.subject, arena)
        if let d = context.decision {
            arena.append(d.allowed ? 1 : 0)
            arena.append(d.enforced ? 1 : 0)
            put(d.rule, arena)
            put(d.reason, arena)
            put(d.category, arena)
            put(d.suggestion, arena)
        }
        if let a = context.ask {
            put(a.question, arena)
            put(a.answer, arena)
            put(a.via, arena)
            arena.append(bitsOf: a.timeoutMicros)
            arena.append(bitsOf: a.waitedMicros ?? UInt64.max)
        }
        arena.append(bitsOf: UInt32(context.scopes.count))
        for s in context.scopes { put(s, arena) }
        arena.append(bitsOf: UInt32(line.count))
        arena.append(contentsOf: UnsafeRawBufferPointer(line))
    }

    /// What the relay's parse of a line said, as far as the record needs it; ranges are relative
    /// to the line.
    struct ViewFields {
        var kind: MessageView.Kind
        var id: String?
        var method: String?
        var ranges: PayloadRanges
    }

    /// The entry at `offset`: the line (a slice of `arena`), what the relay's parse said of it, its
    /// direction, context and time.
    static func read(_ arena: UnsafeRawBufferPointer, at offset: Int)
        -> (line: UnsafeBufferPointer<UInt8>, view: ViewFields?, direction: Direction, context: MessageContext, time: Int64)
    {
        var at = offset
        let time: Int64 = get(arena, &at)
        let direction: Direction = arena[at] == 0 ? .hostToServer : .serverToHost
        let flags = arena[at + 1]
        at += 2
        var context = MessageContext()
        if flags & hasDuration != 0 { context.durationMicros = get(arena, &at) as UInt64 }
        var fields: ViewFields?
        if flags & hasView != 0 {
            let kind = kinds[Int(arena[at])]
            at += 1
            let id = string(arena, &at), method = string(arena, &at)
            let params = range(arena, &at), result = range(arena, &at), error = range(arena, &at)
            fields = ViewFields(
                kind: kind, id: id, method: method,
                ranges: PayloadRanges(params: params, result: result, error: error, count: 0))
        }
        context.requestMethod = string(arena, &at)
        context.subject = string(arena, &at)
        if flags & hasDecision != 0 {
            let allowed = arena[at] != 0, enforced = arena[at + 1] != 0
            at += 2
            let rule = string(arena, &at) ?? "", reason = string(arena, &at) ?? "", category = string(arena, &at) ?? ""
            let suggestion = string(arena, &at)
            context.decision = AuditDecision(
                allowed: allowed, enforced: enforced, rule: rule, reason: reason, category: category,
                suggestion: suggestion)
        }
        if flags & hasAsk != 0 {
            let question = string(arena, &at) ?? "", answer = string(arena, &at) ?? "", via = string(arena, &at) ?? ""
            let timeout: UInt64 = get(arena, &at), waited: UInt64 = get(arena, &at)
            context.ask = AuditAsk(
                question: question, answer: answer, via: via, timeoutMicros: timeout,
                waitedMicros: waited == UInt64.max ? nil : waited)
        }
        let scopeCount: UInt32 = get(arena, &at)
        for _ in 0..<scopeCount { context.scopes.append(string(arena, &at) ?? "") }
        let length = Int(get(arena, &at) as UInt32)
        let line = UnsafeBufferPointer(rebasing: arena.assumingMemoryBound(to: UInt8.self)[at..<(at + length)])
        fields?.ranges.count = length
        return (line, fields, direction, context, time)
    }

    private static let kinds: [MessageView.Kind] = [.request, .notification, .response, .error, .batch]

    private static func kindCode(_ kind: MessageView.Kind) -> UInt8 {
        switch kind {
        case .request: 0
        case .notification: 1
        case .response: 2
        case .error: 3
        case .batch: 4
        }
    }

    /// `range` made relative to the line, which starts at `lineStart`.
    private static func put(_ range: Range<Int>?, _ lineStart: Int, _ arena: ByteBuffer) {
        arena.append(bitsOf: Int32(truncatingIfNeeded: range.map { $0.lowerBound - lineStart } ?? -1))
        arena.append(bitsOf: Int32(truncatingIfNeeded: range.map { $0.upperBound - lineStart } ?? -1))
    }

    private static func range(_ arena: UnsafeRawBufferPointer, _ at: inout Int) -> Range<Int>? {
        let lower: Int32 = get(arena, &at), upper: Int32 = get(arena, &at)
        return lower < 0 ? nil : Int(lower)..<Int(upper)
    }

    /// The size of the entry for `line` and `context`, roughly (for the queue's byte budget).
    static func cost(line: UnsafeBufferPointer<UInt8>) -> Int { 64 + line.count }

    private static func put(_ s: String?, _ arena: ByteBuffer) {
        guard var s else {
            arena.append(bitsOf: none)
            return
        }
        s.withUTF8 { bytes in
            arena.append(bitsOf: UInt32(bytes.count))
            arena.append(contentsOf: UnsafeRawBufferPointer(bytes))
        }
    }

    private static func get<T: FixedWidthInteger>(_ arena: UnsafeRawBufferPointer, _ at: inout Int) -> T {
        let v = arena.loadUnaligned(fromByteOffset: at, as: T.self)
        at += MemoryLayout<T>.size
        return v
    }

    private static func string(_ arena: UnsafeRawBufferPointer, _ at: inout Int) -> String? {
        let length: UInt32 = get(arena, &at)
        guard length != none else { return nil }
        let s = String(decoding: UnsafeRawBufferPointer(rebasing: arena[at..<(at + Int(length))]), as: UTF8.self)
        at += Int(length)
        return s
    }
}

/// The messages one relay thread read in one `read`, queued together when the read is handled:
/// one lock, one wake-up check and one clock read for all of them, instead of one each. The
/// messages of a read arrived together, so they share its time. Used by one thread only.
public final class AuditStage: @unchecked Sendable {
    // One relay thread owns a stage (and the queue's lock covers `push`): no dynamic
    // exclusivity checks, which cost as much as the rest of `add`.
    /// Handed to the queue as it is when a push finds it large (`Queue.push(stage:)`).
    @exclusivity(unchecked) var bytes = ByteBuffer(capacity: Queue.chunkSize)
    @exclusivity(unchecked) var offsets: [Int] = []
    @exclusivity(unchecked) var time: Int64 = 0
    /// Whether a staged message was denied (the writer does not hold those back in a burst).
    @exclusivity(unchecked) var hasDenial = false

    public init() {}

    public var isEmpty: Bool { offsets.isEmpty }

    /// Adds one message (see `AuditLog.message(line:view:lineStart:direction:context:)`).
    public func add(
        line: UnsafeBufferPointer<UInt8>, view: MessageView?, lineStart: Int, direction: Direction,
        context: MessageContext
    ) {
        if offsets.isEmpty { time = nowMicros() }
        if context.decision?.allowed == false { hasDenial = true }
        offsets.append(bytes.count)
        MessageArena.append(
            line: line, view: view, lineStart: lineStart, direction: direction, context: context,
            time: time, to: bytes)
    }

    func reset() {
        offsets.removeAll(keepingCapacity: true)
        hasDenial = false
        bytes.removeAll(shrinkingPast: 1 << 20)
    }
}
