public import BrigAudit
public import BrigContent
public import BrigJSONRPC
public import BrigPolicy
import BrigSecrets
import BrigSystem
import Synchronization

#if canImport(Glibc)
@preconcurrency import Glibc
#endif

/// Limits and timings of one relay session.
public struct RelayConfiguration: Sendable {
    /// Largest message accepted in either direction (bytes, without the newline).
    public var maximumMessageBytes = 16 * 1024 * 1024
    /// After the host closes stdin: how long the server has to exit before SIGTERM.
    public var gracePeriodNanoseconds: UInt64 = 5_000_000_000
    /// After SIGTERM: how long before SIGKILL.
    public var killAfterNanoseconds: UInt64 = 2_000_000_000
    /// After the server exits: how long to wait for the rest of its output (a grandchild may hold
    /// the pipe open).
    public var drainNanoseconds: UInt64 = 2_000_000_000
    /// Bound of each in-flight table.
    public var inFlightCapacity = 4096
    /// The session's profile, named where a report says how to allow what was refused.
    public var profileName: String?
    /// Name the tool of each pending `tools/call` in the in-flight table even without a policy
    /// (the egress proxy's records say which call opened a connection).
    public var namesPendingCalls = false

    public init() {}
}

/// The two relay pumps: host (stdin/stdout) <-> server (child's stdin/stdout).
///
/// ## Concurrency model
/// Each direction has one dedicated thread that blocks in read(2), frames lines, inspects each
/// one and forwards it with blocking writes (never the cooperative pool, which has 2 threads
/// here). The only state the two threads share is the in-flight tables (mutex) and the output
/// channels (mutex per destination), because each thread may answer its own sender itself.
public final class Relay: Sendable {
    public let configuration: RelayConfiguration
    /// Requests from the host awaiting the server's answer.
    public let hostRequests: InFlightTable
    /// Requests from the server awaiting the host's answer.
    public let serverRequests: InFlightTable
    public let toHost: OutputChannel
    public let toServer: OutputChannel
    let diagnostics: Diagnostics
    /// The message policy, when the profile has one.
    public let policy: PolicyGate?
    /// The questions put to the host's user, when a tool rule asks before its calls.
    let confirmations: Confirmations?

    private let counterState = Mutex(Counters())

    public struct Counters: Sendable, Equatable {
        public var forwarded = [0, 0]
        public var rejected = [0, 0]
    }

    /// Defenses in the content of server-to-host results (pins, sanitizing, poisoning, leaks).
    public let content: ContentGuard?

    /// The audit trail, when one is kept (its writer honours `audit.payloads`).
    public let audit: AuditLog?
    /// Each direction's records of the read being handled (`AuditStage`), touched by that
    /// direction's thread only and pushed before anything of that read is forwarded.
    let auditStages = [AuditStage(), AuditStage()]

    /// Sees every valid message (learn mode).
    public typealias Observer = @Sendable (MessageView, UnsafeBufferPointer<UInt8>, Direction) -> Void
    let observer: Observer?

    public init(
        configuration: RelayConfiguration, toHost: OutputChannel, toServer: OutputChannel,
        diagnostics: Diagnostics = .shared, policy: PolicyGate? = nil, observer: Observer? = nil,
        audit: AuditLog? = nil, content: ContentGuard? = nil
    ) {
        self.content = content
        self.policy = policy
        self.audit = audit
        confirmations = policy?.engine.asksAnything == true ? Confirmations(redactor: audit?.redactor ?? Redactor()) : nil
        self.observer = observer
        self.configuration = configuration
        self.hostRequests = InFlightTable(capacity: configuration.inFlightCapacity)
        self.serverRequests = InFlightTable(capacity: configuration.inFlightCapacity)
        self.toHost = toHost
        self.toServer = toServer
        self.diagnostics = diagnostics
    }

    public var counters: Counters { counterState.withLock { $0 } }

    /// Runs one direction until its input ends. Blocking; call on a dedicated thread.
    public func pump(from input: Int32, direction: Direction) {
        let reader = LineReader(maximumLineBytes: configuration.maximumMessageBytes)
        let destination = direction == .hostToServer ? toServer : toHost
        var batch: [UInt8] = []
        batch.reserveCapacity(64 * 1024)
        var forwarded = 0
        var rejected = 0
        while true {
            let more: Bool
            do {
                more = try reader.read(from: input) { event in
                    switch event {
                    case .line(let line):
                        if line.count > 64 * 1024 {
                            // Large message: send what is queued, then the line straight from the read buffer.
                            if !batch.isEmpty {
                                pushAuditStage(direction)
                                destination.write(batch)
                                batch.removeAll(keepingCapacity: true)
                            }
                            if handle(line, direction: direction, into: &batch) {
                                pushAuditStage(direction)
                                destination.write(UnsafeRawBufferPointer(line))
                                destination.write(Relay.newline)
                                forwarded += 1
                            } else {
                                rejected += 1
                            }
                        } else if handle(line, direction: direction, into: &batch) {
                            batch.append(contentsOf: line)
                            batch.append(0x0A)
                            forwarded += 1
                        } else {
                            rejected += 1
                        }
                    case .oversized(let prefix, let length):
                        rejected += 1
                        handleOversized(prefix: prefix, length: length, direction: direction)
                    }
                }
            } catch {
                diagnostics.report("reading \(direction == .hostToServer ? "stdin" : "the server's stdout") failed: \(SystemError.text(error.errno))")
                more = false
            }
            // The records of this read are queued before any of its messages is forwarded.
            pushAuditStage(direction)
            if !batch.isEmpty {
                destination.write(batch)
                batch.removeAll(keepingCapacity: true)
            }
            if !more { break }
        }
        if direction == .hostToServer, confirmations != nil {
            // No answer can come any more: the held calls are denied, and their records written.
            settleHeldCallsAtHostEnd(why: nil, onHostThread: true)
        }
        let index = direction == .hostToServer ? 0 : 1
        counterState.withLock {
            $0.forwarded[index] += forwarded
            $0.rejected[index] += rejected
        }
    }

    private static let newline: [UInt8] = [0x0A]

    /// Queues the records staged by `direction`'s thread.
    @inline(__always)
    func pushAuditStage(_ direction: Direction) {
        guard let audit else { return }
        let stage = auditStages[direction == .hostToServer ? 0 : 1]
        if !stage.isEmpty { audit.push(stage) }
    }

    /// An event of `direction`'s thread, after the messages it staged, so the trail keeps their order.
    private func auditEvent(_ direction: Direction, action: AuditAction, outcome: AuditOutcome, detail: [(String, JSONValue)]) {
        guard let audit else { return }
        pushAuditStage(direction)
        audit.event(action: action, outcome: outcome, detail: detail)
    }

    /// Inspects one line; true to forward it unchanged. Answers to the sender go out directly;
    /// a rewritten line goes into `batch` once its record is kept.
    @inline(__always)
    private func handle(_ line: UnsafeBufferPointer<UInt8>, direction: Direction, into batch: inout [UInt8]) -> Bool {
        // Blank lines are not messages: skip them quietly.
        if line.allSatisfy({ $0 == 0x20 || $0 == 0x09 || $0 == 0x0D }) { return false }
        switch MessageView.parse(line) {
        case .success(let view):
            if let confirmations, direction == .hostToServer {
                // The host's answer to a question of brig's is brig's: the server never sees it.
                if view.isResponse, let id = view.id, confirmations.isOwnID(id) {
                    answerQuestion(confirmations, line, view, into: &batch)
                    return false
                }
                if view.kind == .request, view.method == MCPMethod.initialize {
                    confirmations.noteInitialize(params: view.params.flatMap { try? JSONValue.parse(line, range: $0) })
                } else if view.kind == .notification, view.method == MCPMethod.notificationsCancelled {
                    withdrawHeldCall(confirmations, line, view)
                }
            }
            let answered = track(view, direction: direction)
            if configuration.namesPendingCalls, direction == .hostToServer, view.kind == .request, view.method == MCPMethod.toolsCall,
                let id = view.id, let range = view.params, let name = (try? JSONValue.parse(line, range: range))?["name"]?.stringValue
            {
                hostRequests.setSubject(id: id, name)
            }
            observer?(view, line, direction)
            guard policy != nil || audit != nil || content != nil else { return true }
            if let audit, !audit.isHealthy {
                refuseWithoutAudit(view, direction: direction)
                return false
            }
            var decisions: [Decision] = []
            var asked = AskNote()
            let verdict = inspect(line, view, direction: direction, answered: answered, decisions: &decisions, asked: &asked)
            // brig's own answers go out at once; what passes on waits for its record.
            if let replies = verdict.replies { send(replies, direction: direction) }
            // A held call is recorded once the user answers (with the answer).
            if asked.deferred { return false }
            if let decision = asked.decision { decisions = [decision] }
            if let audit, !record(audit, line, view, direction: direction, answered: answered, decisions: decisions, ask: asked.ask) {
                // on_failure: block and this very record was lost: the message does not pass either.
                refuseWithoutAudit(view, direction: direction)
                return false
            }
            switch verdict {
            case .forward:
                return true
            case .rewrite(let rewrite, _):
                rewrite.append(to: &batch)
                return false
            case .answer:
                return false
            }
        case .failure(let error):
            reject(error, line: line, direction: direction)
            return false
        }
    }

    /// The verdicts on one message, in order: the content defenses (a withheld call), then the
    /// policy, which sees what the content defenses made of a response.
    @inline(__always)
    private func inspect(
        _ line: UnsafeBufferPointer<UInt8>, _ view: MessageView, direction: Direction, answered: InFlightTable.Entry?,
        decisions: inout [Decision], asked: inout AskNote
    ) -> Verdict {
        if view.isResponse {
            guard direction == .serverToHost, let request = answered else { return .forward }
            var verdict = Verdict.forward
            if let content {
                let (contentVerdict, findings) = content.inspectResponse(line, view, request: request)
                if !findings.isEmpty, let id = view.id { report(findings, id: id, request: request) }
                verdict = contentVerdict
            }
            if let policy {
                verdict = policy.inspectResponse(line, view: view, request: request, after: verdict, decisions: &decisions)
                report(decisions, direction: direction)
            }
            return verdict
        }
        if let content, direction == .hostToServer, let withheld = content.withheldCall(line, view) {
            diagnostics.report(withheld.report)
            auditEvent(.hostToServer, action: .withheldCall, outcome: .failure, detail: withheld.detail)
            return withheld.verdict
        }
        guard let policy else { return .forward }
        return applyPolicy(policy, line, view, direction: direction, decisions: &decisions, asked: &asked)
    }

    /// Writes brig's replies to their recipient; the sender's requests they answer are retired
    /// (the peer never sees them, and will never answer them).
    private func send(_ replies: Replies, direction: Direction) {
        if !replies.lines.isEmpty {
            (replies.recipient == .host || direction == .hostToServer ? toHost : toServer).write(replies.lines)
        }
        let table = direction == .hostToServer ? hostRequests : serverRequests
        for id in replies.answered { _ = table.remove(id: id) }
    }

    /// Records requests in flight and retires the ones that responses answer; returns the
    /// request a response answers.
    @inline(__always)
    @discardableResult
    private func track(_ view: MessageView, direction: Direction) -> InFlightTable.Entry? {
        switch view.kind {
        case .request:
            if let id = view.id, let method = view.method {
                (direction == .hostToServer ? hostRequests : serverRequests).insert(id: id, method: method)
            }
        case .response, .error:
            if let id = view.id {
                return (direction == .hostToServer ? serverRequests : hostRequests).remove(id: id)
            }
        case .notification:
            break
        case .batch:
            for member in view.members { track(member, direction: direction) }
        }
        return nil
    }

    /// The policy's verdict on a request or notification (or a batch): the engine's, or the
    /// user's when the tool's rule asks first.
    private func applyPolicy(
        _ policy: PolicyGate, _ line: UnsafeBufferPointer<UInt8>, _ view: MessageView, direction: Direction,
        decisions: inout [Decision], asked: inout AskNote
    ) -> Verdict {
        let outcome = policy.inspect(line, view: view, direction: direction)
        decisions = outcome.decisions
        // Most messages are allowed: then there is nothing to report, and no decision is copied out.
        if !outcome.decisions.allSatisfy({ $0.allowed }) { report(outcome.decisions, direction: direction) }
        // The tool's name, for the record of the response (only the audit trail reads it).
        if audit != nil, view.kind == .request, view.method == MCPMethod.toolsCall, let id = view.id,
            let subject = outcome.decisions.first?.subject
        {
            (direction == .hostToServer ? hostRequests : serverRequests).setSubject(id: id, subject)
        }
        if let confirmations, direction == .hostToServer, view.kind == .request, case .forward = outcome.verdict,
            let decision = outcome.decisions.first, let ask = decision.ask, decision.enforced
        {
            return confirmCall(confirmations, policy, line, view, decision: decision, ask: ask, note: &asked)
        }
        return outcome.verdict
    }

    /// What the content defenses found in a result: stderr gets what needs a look (first-use
    /// pins are routine), the trail gets each one.
    private func report(_ findings: [ContentFinding], id: String, request: InFlightTable.Entry) {
        for f in findings {
            let action = AuditAction(f.action)
            if f.action != .pinNew || f.blocked {
                let head = "\(f.blocked ? "blocked" : "noticed") \(action.rawValue) in \(f.item) (\(request.method))"
                switch (f.howToAllow, f.detail.contains("\n")) {
                // A diff goes below the line that says how to allow it.
                case (let advice?, true): diagnostics.report("\(head); to allow: \(advice)\n\(f.detail)")
                case (let advice?, false): diagnostics.report("\(head): \(f.detail); to allow: \(advice)")
                case (nil, _): diagnostics.report("\(head): \(f.detail)")
                }
            }
            auditEvent(.serverToHost, action: action, outcome: f.blocked ? .failure : .success, detail: f.auditDetail(id: id, request: request))
        }
    }

    /// One audit record per message (per member of a batch).
    /// Returns false when a record could not be kept under `on_failure: block`.
    private func record(
        _ audit: AuditLog, _ line: UnsafeBufferPointer<UInt8>, _ view: MessageView, direction: Direction,
        answered: InFlightTable.Entry?, decisions: [Decision], ask: AuditAsk? = nil
    ) -> Bool {
        guard view.kind == .batch else {
            return record(
                audit, line, view, direction: direction, answered: answered,
                decision: decisions.first { !$0.allowed } ?? decisions.first, ask: ask)
        }
        var kept = true
        for (index, m) in view.members.enumerated() {
            let d = decisions.indices.contains(index) ? decisions[index] : nil
            if !record(audit, line, m, direction: direction, answered: answered, decision: d) { kept = false }
        }
        return kept
    }

    /// The record of one message (a whole line, or one member of a batch). Only what the line
    /// does not say goes with it; the writer reads the rest from the line on its own thread.
    private func record(
        _ audit: AuditLog, _ line: UnsafeBufferPointer<UInt8>, _ m: MessageView, direction: Direction,
        answered: InFlightTable.Entry?, decision d: Decision?, ask: AuditAsk? = nil
    ) -> Bool {
        var context = MessageContext()
        context.ask = ask
        if m.isResponse {
            if let answered {
                context.requestMethod = answered.method
                context.subject = answered.subject
                context.durationMicros = (MonotonicClock.nanoseconds() &- answered.startedAt) / 1000
            }
        } else {
            context.subject = d?.subject
        }
        if let d {
            context.decision = AuditDecision(d)
            context.scopes = d.scopes
        }
        let span = m.span ?? 0..<line.count
        let bytes = UnsafeBufferPointer(rebasing: line[span])
        let kept: Bool
        if audit.waitsForDurableRecords {
            // fsync: always: this message passes only once its own record is on disk.
            kept = audit.message(line: bytes, view: m, lineStart: span.lowerBound, direction: direction, context: context)
        } else {
            auditStages[direction == .hostToServer ? 0 : 1].add(
                line: bytes, view: m, lineStart: span.lowerBound,
                direction: direction, context: context)
            kept = audit.isHealthy
        }
        if let d, !d.allowed, d.category == .rate {
            let method = m.method ?? (m.isResponse ? answered?.method : nil)
            auditEvent(
                direction, action: .rateLimited, outcome: d.enforced ? .failure : .unknown,
                detail: [("method", .string(method ?? "")), ("rule", .string(d.rule)), ("reason", .string(d.reason))])
        }
        return kept
    }

    /// `audit.on_failure: block` and a record could not be written: nothing passes unrecorded
    /// (`AuditLog.refusal`).
    private func refuseWithoutAudit(_ view: MessageView, direction: Direction) {
        if let replies = AuditLog.refusal(of: view, direction: direction, hostRequests: hostRequests).replies {
            send(replies, direction: direction)
        }
        diagnostics.report("audit trail unavailable: \(direction.rawValue) message not forwarded (audit.on_failure: block)")
    }

    func report(_ decisions: [Decision], direction: Direction) {
        for d in decisions where !d.allowed {
            let verb = d.enforced ? "denied" : "would deny (permissive)"
            diagnostics.report(
                "\(verb) \(d.subject.map { "\(d.category.rawValue) \($0)" } ?? d.category.rawValue) (\(direction.rawValue)): \(d.reason) [\(d.rule)]"
                    + (d.howToAllow.map { "; to allow: \($0)" } ?? ""))
        }
    }

    private func reject(_ error: MessageError, line: UnsafeBufferPointer<UInt8>, direction: Direction) {
        auditEvent(
            direction, action: .malformedMessage, outcome: .failure,
            detail: [
                ("direction", .string(direction.rawValue)), ("code", .number(String(error.code))),
                ("reason", .string(error.detail)), ("size", .number(String(line.count))),
            ])
        switch direction {
        case .hostToServer:
            // The host gets the JSON-RPC error the spec names; the server never sees the line.
            toHost.write(error.answer)
            diagnostics.report("the host sent an invalid message (\(error.detail)); answered \(error.code)")
        case .serverToHost:
            // Servers often print debug text to stdout: keep it off the host's channel.
            diagnostics.report("the server wrote a line that is not JSON-RPC (\(error.detail)), not forwarded: \(Relay.excerpt(line))")
            answerHostIfWaiting(id: error.id, why: "the server sent an invalid response (\(error.detail))")
        }
    }

    private func handleOversized(prefix: UnsafeBufferPointer<UInt8>, length: Int, direction: Direction) {
        let id = MessageView.idFromPrefix(prefix)
        let limit = configuration.maximumMessageBytes
        auditEvent(
            direction, action: .oversizedMessage, outcome: .failure,
            detail: [
                ("direction", .string(direction.rawValue)), ("size", .number(String(length))),
                ("limit", .number(String(limit))),
            ])
        switch direction {
        case .hostToServer:
            toHost.write(MessageError.oversized(id: id, length: length, limit: limit).answer)
            diagnostics.report("the host sent a message of \(length) bytes, over the limit of \(limit); answered -32600")
        case .serverToHost:
            diagnostics.report("the server sent a message of \(length) bytes, over the limit of \(limit); not forwarded")
            answerHostIfWaiting(id: id, why: "the server's response of \(length) bytes exceeds brig's limit of \(limit) bytes")
        }
    }

    /// Answers every request still waiting for the server with -32603 (the server is gone), and
    /// denies the calls held for the user's answer.
    public func failPendingHostRequests(reason: String) {
        settleHeldCallsAtHostEnd(why: "the server exited", onHostThread: false)
        for (id, entry) in hostRequests.removeAll() {
            toHost.write(JSONWriter.internalError(id: id, reason: reason, more: ",\"method\":" + JSONWriter.quoted(entry.method)))
        }
    }

    /// When a bad server line answers a pending host request, the host gets an error instead of
    /// waiting forever.
    private func answerHostIfWaiting(id: String?, why: String) {
        guard let id, hostRequests.remove(id: id) != nil else { return }
        toHost.write(JSONWriter.internalError(id: id, reason: why))
    }

    /// The first bytes of a line, printable, for a report.
    static func excerpt(_ line: UnsafeBufferPointer<UInt8>, limit: Int = 120) -> String {
        var s = ""
        for b in line.prefix(limit) {
            s += (b >= 0x20 && b < 0x7F) ? String(UnicodeScalar(b)) : "\\x" + (b < 16 ? "0" : "") + String(b, radix: 16)
        }
        return line.count > limit ? s + "..." : s
    }
}

extension AuditAction {
    /// The audit action of a content finding.
    init(_ action: ContentFinding.Action) {
        switch action {
        case .pinNew: self = .pinNew
        case .pinChanged: self = .pinChanged
        case .pinRemoved: self = .pinRemoved
        case .pinError: self = .pinError
        case .sanitized: self = .sanitized
        case .poisoning: self = .poisoning
        case .leak: self = .leak
        }
    }
}
