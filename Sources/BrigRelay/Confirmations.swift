import BrigAudit
import BrigJSONRPC
import BrigPolicy
import BrigSecrets
import BrigSystem

#if canImport(Glibc)
@preconcurrency import Glibc
#endif

/// What came back for a question brig put to the host's user (the record's `mcp.ask.answer`).
public enum ConfirmationAnswer: String, Sendable {
    case accept, decline, cancel, timeout
    /// The host declared no form elicitation: brig cannot ask.
    case noCapability = "no-capability"
    /// The host closed its input while the question was open.
    case closed
    /// The host answered with a JSON-RPC error or something that is not an elicitation result.
    case error
    /// 2026-07-28: the question went out inside an `input_required` result; the retry answers it.
    case pending

    private func asks(_ rule: String) -> String { "rule \(rule) asks first" }

    /// Why a call that was not accepted is denied (the denial's reason and stderr's report).
    func denialReason(tool: String, rule: String, timeoutSeconds: Double, detail: String?) -> String {
        if let detail, self == .cancel { return "\(detail) (\(asks(rule)))" }
        let asks = asks(rule)
        switch self {
        case .decline: return "the user declined the call to \(tool) (\(asks))"
        case .cancel: return "the user dismissed the question about \(tool) without accepting (\(asks))"
        case .timeout: return "no answer from the user within \(Confirmations.seconds(timeoutSeconds)) (ask_timeout; \(asks))"
        case .noCapability:
            return "the host did not declare the elicitation capability (form), so brig cannot ask the user about \(tool) (\(asks))"
        case .closed:
            return "\(detail ?? "the host closed its input") before the user answered about \(tool) (\(asks))"
        case .error: return "the host's answer to the question about \(tool) was not an elicitation result\(detail.map { ": \($0)" } ?? "") (\(asks))"
        case .accept, .pending: return "tool \(tool) allowed once the user confirms (\(asks))"
        }
    }
}

/// The text brig shows the host's user for one call: the tool, its arguments (redacted by the
/// audit trail's redactor, one per line, each value and the whole bounded) and the rule that asks.
struct ConfirmationQuestion: Sendable, Equatable {
    let text: String

    static let valueLimit = 240
    static let argumentLimit = 24
    static let textLimit = 2400

    init(tool: String, arguments: JSONValue?, rule: String, redactor: Redactor) {
        var lines = ["Allow the tool \(ConfirmationQuestion.shown(tool)) to run"]
        switch arguments.map(redactor.redact) {
        case .object(let members)? where !members.isEmpty:
            lines[0] += " with these arguments?"
            for (i, (name, value)) in members.enumerated() {
                if i == ConfirmationQuestion.argumentLimit {
                    lines.append("  ... and \(members.count - i) more")
                    break
                }
                lines.append("  \(ConfirmationQuestion.shown(name)): \(ConfirmationQuestion.readable(value))")
            }
        case .object?, nil, .null?:
            lines[0] += " (no arguments)?"
        case let other?:
            lines[0] += " with these arguments?"
            lines.append("  \(ConfirmationQuestion.readable(other))")
        }
        lines.append("brig asks because of \(rule). Accept runs this one call; decline refuses it.")
        var text = lines.joined(separator: "\n")
        if text.count > ConfirmationQuestion.textLimit {
            text = String(text.prefix(ConfirmationQuestion.textLimit - 40)) + "\n  ... (shortened)\n" + lines[lines.count - 1]
        }
        self.text = text
    }

    /// A value on one line: a plain string as it is (quoted when it has control characters,
    /// surrounding spaces or is empty), anything else as compact JSON; shortened past `valueLimit`.
    static func readable(_ value: JSONValue) -> String {
        let text: String
        if case .string(let s) = value {
            text = shown(s)
        } else {
            text = value.jsonText
        }
        guard text.count > valueLimit else { return text }
        return String(text.prefix(valueLimit)) + "... (\(text.count - valueLimit) more characters)"
    }

    /// A name or string: as it is, unless it could pass for something else on the user's screen
    /// (a line break, a control or bidirectional-override character, surrounding spaces): then
    /// quoted, with those characters escaped.
    static func shown(_ s: String) -> String {
        let plain = !s.isEmpty && s.first != " " && s.last != " " && !s.unicodeScalars.contains(where: isDeceptive)
        guard !plain else { return s }
        var out = ""
        for scalar in JSONWriter.quoted(s).unicodeScalars {
            if isDeceptive(scalar) {
                let hex = String(scalar.value, radix: 16, uppercase: true)
                out += "\\u" + String(repeating: "0", count: max(0, 4 - hex.count)) + hex
            } else {
                out.unicodeScalars.append(scalar)
            }
        }
        return out
    }

    static func isDeceptive(_ c: Unicode.Scalar) -> Bool {
        switch c.value {
        case 0..<0x20, 0x7F...0x9F, 0x200B...0x200F, 0x2028...0x202E, 0x2060...0x2069, 0xFEFF: true
        default: false
        }
    }

    /// `params` of `elicitation/create`: the text and an empty form (a confirmation: accept or
    /// decline, nothing to fill in). The 2026-07-28 form names its mode.
    func elicitationParams(modern: Bool) -> String {
        "{" + (modern ? "\"mode\":\"form\"," : "") + "\"message\":\(JSONWriter.quoted(text)),"
            + "\"requestedSchema\":{\"type\":\"object\",\"properties\":{}}}"
    }
}

/// A lock with a condition on the monotonic clock, for the thread that times questions out.
final class ConditionLock: @unchecked Sendable {
    private let mutex = UnsafeMutablePointer<pthread_mutex_t>.allocate(capacity: 1)
    private let condition = UnsafeMutablePointer<pthread_cond_t>.allocate(capacity: 1)

    init() {
        pthread_mutex_init(mutex, nil)
        var attributes = pthread_condattr_t()
        pthread_condattr_init(&attributes)
        pthread_condattr_setclock(&attributes, CLOCK_MONOTONIC)
        pthread_cond_init(condition, &attributes)
        pthread_condattr_destroy(&attributes)
    }

    deinit {
        pthread_cond_destroy(condition)
        pthread_mutex_destroy(mutex)
        mutex.deallocate()
        condition.deallocate()
    }

    func withLock<T>(_ body: () throws -> T) rethrows -> T {
        pthread_mutex_lock(mutex)
        defer { pthread_mutex_unlock(mutex) }
        return try body()
    }

    /// Call with the lock held: sleeps until signalled or the monotonic time `deadline` (ns).
    func wait(until deadline: UInt64?) {
        guard let deadline else {
            pthread_cond_wait(condition, mutex)
            return
        }
        var ts = timespec(tv_sec: Int(deadline / 1_000_000_000), tv_nsec: Int(deadline % 1_000_000_000))
        pthread_cond_timedwait(condition, mutex, &ts)
    }

    func signal() {
        pthread_cond_signal(condition)
    }
}

/// The questions brig has put to the host's user (`ask: true`) and the calls waiting for them.
///
/// Eras:
/// - through 2025-11-25, brig holds the call and sends the host an `elicitation/create` request
///   with its own id, `"brig-ask-NONCE-N"` (NONCE is random per session, so no server id can
///   collide with it); the host's answer to that id is brig's, never the server's;
/// - in 2026-07-28 brig answers the call itself with an `InputRequiredResult` whose one input
///   request has the key `brig-ask-NONCE-N`; the client's retry carries the answer under that key
///   in `inputResponses`, which brig removes before it forwards the call.
///
/// ## Concurrency model
/// One `ConditionLock` guards the state; the host's relay thread adds and answers questions, and
/// one thread (started with the first held call) sleeps until the nearest deadline and times the
/// held calls out. Nothing blocks the relay while a question is open.
public final class Confirmations: @unchecked Sendable {
    /// A call held until its question is answered (through 2025-11-25).
    struct HeldCall: Sendable {
        /// The call's id, raw JSON text.
        var callID: String
        var line: [UInt8]
        var tool: String
        var question: ConfirmationQuestion
        var decision: Decision
        var timeoutSeconds: Double
        var askedAt: UInt64
        var deadline: UInt64
    }

    /// A question sent inside an `input_required` result (2026-07-28), by its key.
    struct IssuedQuestion: Sendable {
        var tool: String
        var question: ConfirmationQuestion
        var timeoutSeconds: Double
        var askedAt: UInt64
        var deadline: UInt64
    }

    private struct State {
        var hostCanElicit = false
        var held: [String: HeldCall] = [:]
        var issued: [String: IssuedQuestion] = [:]
        /// Calls the user accepted in 2026-07-28, by tool and arguments, until when: the server's
        /// own input rounds retry the same call, and the user is not asked again for them.
        var approvals: [String: UInt64] = [:]
        var counter = 0
        var timerRunning = false
        var hostClosed = false
    }

    let redactor: Redactor
    /// `brig-ask-NONCE-`: every id and key brig makes starts with it.
    let prefix: String
    /// `"brig-ask-NONCE-` (the raw JSON text of a string id starts so).
    private let quotedPrefix: String
    private let lock = ConditionLock()
    private var state = State()

    /// At most this many questions open at once; more are denied as if unanswered.
    static let capacity = 256

    init(redactor: Redactor) {
        self.redactor = redactor
        var random = SystemRandomNumberGenerator()
        let nonce = String(random.next() as UInt64, radix: 16)
        prefix = "brig-ask-\(nonce)-"
        quotedPrefix = "\"" + prefix
    }

    static func seconds(_ s: Double) -> String {
        s == s.rounded() ? "\(Int(s)) s" : "\(s) s"
    }

    /// Whether a response's id (raw JSON text) is one of brig's questions.
    func isOwnID(_ rawID: String) -> Bool { rawID.hasPrefix(quotedPrefix) }

    func isOwnKey(_ key: String) -> Bool { key.hasPrefix(prefix) }

    func question(tool: String, arguments: JSONValue?, rule: String) -> ConfirmationQuestion {
        ConfirmationQuestion(tool: tool, arguments: arguments, rule: rule, redactor: redactor)
    }

    // MARK: Through 2025-11-25

    /// The host's `initialize`: whether it declared form elicitation (`elicitation: {}` means form).
    func noteInitialize(params: JSONValue?) {
        let can = Confirmations.declaresFormElicitation(params?["capabilities"])
        lock.withLock { state.hostCanElicit = can }
    }

    var hostCanElicit: Bool { lock.withLock { state.hostCanElicit } }

    /// `capabilities.elicitation` present, and either empty (form, as before modes) or with `form`.
    static func declaresFormElicitation(_ capabilities: JSONValue?) -> Bool {
        guard case .object(let members)? = capabilities?["elicitation"] else { return false }
        let hasURL = members.contains { $0.0 == "url" }, hasForm = members.contains { $0.0 == "form" }
        return hasForm || !hasURL
    }

    /// Holds a call; returns the question's id (unquoted), or nil when too many are open.
    /// `expire` runs on the timer thread for each held call whose deadline passes.
    func hold(_ call: HeldCall, expire: @escaping @Sendable (String, HeldCall) -> Void) -> String? {
        var startTimer = false
        let id: String? = lock.withLock {
            guard state.held.count + state.issued.count < Confirmations.capacity, !state.hostClosed else { return nil }
            state.counter += 1
            let id = prefix + String(state.counter)
            state.held[id] = call
            if !state.timerRunning {
                state.timerRunning = true
                startTimer = true
            }
            lock.signal()
            return id
        }
        if startTimer { OSThread.start(stackBytes: 256 << 10) { [self] in expireHeldCalls(expire) } }
        return id
    }

    /// The held call a host's answer settles (id as raw JSON text); nil when it is settled already.
    func takeHeld(rawID: String) -> HeldCall? {
        guard rawID.count >= 2 else { return nil }
        let id = String(rawID.dropFirst().dropLast())
        return lock.withLock { state.held.removeValue(forKey: id) }
    }

    /// The held call with this call id (raw JSON text) and its question's id: the host cancelled it.
    func takeHeld(callID: String) -> (String, HeldCall)? {
        lock.withLock {
            guard let (id, call) = state.held.first(where: { $0.value.callID == callID }) else { return nil }
            state.held.removeValue(forKey: id)
            return (id, call)
        }
    }

    /// Whether any call is held (a cheap look before parsing a cancellation).
    var holdsAnything: Bool { lock.withLock { !state.held.isEmpty } }

    /// The host closed its input: every held call, to be denied; no more are held.
    func hostClosedInput() -> [(String, HeldCall)] {
        lock.withLock {
            state.hostClosed = true
            let all = state.held.sorted { $0.value.askedAt < $1.value.askedAt }.map { ($0.key, $0.value) }
            state.held.removeAll()
            lock.signal()
            return all
        }
    }

    /// The timer thread: sleeps until the nearest deadline, hands expired calls to `expire`; ends
    /// once the host has closed its input and nothing is held.
    private func expireHeldCalls(_ expire: @Sendable (String, HeldCall) -> Void) {
        while true {
            let expired: [(String, HeldCall)]? = lock.withLock {
                while true {
                    if state.hostClosed && state.held.isEmpty {
                        state.timerRunning = false
                        return nil
                    }
                    let now = MonotonicClock.nanoseconds()
                    let due = state.held.filter { $0.value.deadline <= now }
                    if !due.isEmpty {
                        for key in due.keys { state.held.removeValue(forKey: key) }
                        return due.sorted { $0.value.askedAt < $1.value.askedAt }.map { ($0.key, $0.value) }
                    }
                    lock.wait(until: state.held.values.map(\.deadline).min())
                }
            }
            guard let expired else { return }
            for (id, call) in expired { expire(id, call) }
        }
    }

    /// The id of an expired question, for the `notifications/cancelled` brig sends the host.
    func cancellation(for id: String, reason: String) -> [UInt8] {
        Array(
            ("{\"jsonrpc\":\"2.0\",\"method\":\"notifications/cancelled\",\"params\":{\"requestId\":"
                + JSONWriter.quoted(id) + ",\"reason\":" + JSONWriter.quoted(reason) + "}}\n").utf8)
    }

    // MARK: 2026-07-28

    /// Registers a question sent in an `input_required` result; returns its key, or nil when too
    /// many are open. Questions older than twice their timeout are forgotten here.
    func issue(_ question: IssuedQuestion) -> String? {
        lock.withLock {
            let now = MonotonicClock.nanoseconds()
            state.issued = state.issued.filter { now < $0.value.deadline &+ ($0.value.deadline &- $0.value.askedAt) }
            state.approvals = state.approvals.filter { now < $0.value }
            guard state.held.count + state.issued.count < Confirmations.capacity else { return nil }
            state.counter += 1
            let key = prefix + String(state.counter)
            state.issued[key] = question
            return key
        }
    }

    func takeIssued(key: String) -> IssuedQuestion? {
        lock.withLock { state.issued.removeValue(forKey: key) }
    }

    /// Remembers an accepted call (tool and arguments) for the server's own input rounds.
    func approve(_ call: String, forSeconds seconds: Double) {
        lock.withLock {
            guard state.approvals.count < Confirmations.capacity else { return }
            state.approvals[call] = MonotonicClock.nanoseconds() &+ UInt64(seconds * 1e9)
        }
    }

    func isApproved(_ call: String) -> Bool {
        lock.withLock { (state.approvals[call] ?? 0) > MonotonicClock.nanoseconds() }
    }

    /// The identity of a call for `approve`: its tool and its arguments' JSON text.
    static func callIdentity(tool: String, arguments: JSONValue?) -> String {
        tool + "\u{0}" + (arguments?.jsonText ?? "null")
    }

    /// The user's action in an elicitation result; `.error` for anything else.
    static func answer(of result: JSONValue?) -> ConfirmationAnswer {
        switch result?["action"]?.stringValue {
        case "accept": .accept
        case "decline": .decline
        case "cancel": .cancel
        default: .error
        }
    }
}
