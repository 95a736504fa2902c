import BrigAudit
import BrigJSONRPC
import BrigPolicy
import BrigSystem

/// What asking did to a call, for its record: the decision that replaces the policy's, the
/// question and answer, or that the record waits until the answer comes (a held call).
struct AskNote {
    var decision: Decision?
    var ask: AuditAsk?
    var deferred = false
}

/// "Allow, but ask first" (`ask: true`, `--ask-tool`): the relay's side of `Confirmations`.
extension Relay {
    /// A call that the policy allows once the user confirms it: forwarded (the user accepted
    /// before), rewritten (the retry that carries the answer, without it), or answered by brig
    /// (a denial, its question in the 2026-07-28 era, its `elicitation/create` for a held call).
    func confirmCall(
        _ c: Confirmations, _ policy: PolicyGate, _ line: UnsafeBufferPointer<UInt8>, _ view: MessageView,
        decision: Decision, ask: AskRequirement, note: inout AskNote
    ) -> Verdict {
        guard let id = view.id else { return .forward }
        let params = view.params.flatMap { try? JSONValue.parse(line, range: $0) }
        let tool = decision.subject ?? params?["name"]?.stringValue ?? ""
        let rule = Relay.shortRule(decision.rule)
        let timeoutMicros = UInt64(ask.timeoutSeconds * 1e6)
        let modern = PolicyGate.isModernEra(params)
        let via = modern ? "input_required" : MCPMethod.elicitationCreate

        /// Answers the call with the policy's denial shape (category `ask`), as the record says.
        func deny(
            _ answer: ConfirmationAnswer, question: ConfirmationQuestion, reason: String? = nil,
            waited: UInt64? = nil, detail: String? = nil
        ) -> Verdict {
            let why = reason ?? answer.denialReason(tool: tool, rule: rule, timeoutSeconds: ask.timeoutSeconds, detail: detail)
            let denied = Relay.askDecision(decision, allowed: false, reason: why)
            report([denied], direction: .hostToServer)
            note.decision = denied
            note.ask = AuditAsk(
                question: question.text, answer: answer.rawValue, via: via, timeoutMicros: timeoutMicros,
                waitedMicros: waited)
            return .answer(Replies(policy.denial(id: id, method: MCPMethod.toolsCall, params: params, decision: denied), answering: id))
        }

        let arguments = params?["arguments"]
        let question = c.question(tool: tool, arguments: arguments, rule: decision.rule)
        if modern {
            let identity = Confirmations.callIdentity(tool: tool, arguments: arguments)
            let responses = params?["inputResponses"]?.objectValue
            if let responses, let mine = responses.first(where: { c.isOwnKey($0.0) }) {
                // The retry that answers brig's question.
                guard let issued = c.takeIssued(key: mine.0) else {
                    return deny(
                        .error, question: question,
                        reason: "the retry answers question \(mine.0), which brig did not ask or has settled already (rule \(rule) asks first)")
                }
                let now = MonotonicClock.nanoseconds()
                let waited = (now &- issued.askedAt) / 1000
                var answer = Confirmations.answer(of: mine.1)
                if now > issued.deadline { answer = .timeout }
                guard answer == .accept else {
                    return deny(
                        answer, question: issued.question, waited: waited,
                        detail: answer == .error ? "inputResponses[\(mine.0)] has no action accept, decline or cancel" : nil)
                }
                guard let stripped = Relay.withoutInputResponse(line, key: mine.0) else { return .forward }
                c.approve(identity, forSeconds: ask.timeoutSeconds)
                note.decision = Relay.askDecision(decision, allowed: true, reason: "tool \(tool) allowed: the user accepted (rule \(rule) asks first)")
                note.ask = AuditAsk(
                    question: issued.question.text, answer: ConfirmationAnswer.accept.rawValue, via: via,
                    timeoutMicros: timeoutMicros, waitedMicros: waited)
                return .rewrite(.line(stripped))
            }
            if responses != nil || params?["requestState"] != nil, c.isApproved(identity) {
                // A later round of the server's own input requests, for a call the user accepted.
                note.decision = Relay.askDecision(
                    decision, allowed: true,
                    reason: "tool \(tool) allowed: the retry continues a call the user accepted (rule \(rule) asks first)")
                return .forward
            }
            let capabilities = params?["_meta"]?["io.modelcontextprotocol/clientCapabilities"]
            guard Confirmations.declaresFormElicitation(capabilities) else { return deny(.noCapability, question: question) }
            let now = MonotonicClock.nanoseconds()
            let issued = Confirmations.IssuedQuestion(
                tool: tool, question: question, timeoutSeconds: ask.timeoutSeconds, askedAt: now,
                deadline: now &+ timeoutMicros &* 1000)
            guard let key = c.issue(issued) else {
                return deny(.error, question: question, reason: "brig has \(Confirmations.capacity) questions open already (rule \(rule) asks first)")
            }
            let result =
                "{\"resultType\":\"input_required\",\"inputRequests\":{\(JSONWriter.quoted(key)):"
                + "{\"method\":\"elicitation/create\",\"params\":\(question.elicitationParams(modern: true))}}}"
            diagnostics.report("asking the user to confirm the call to \(tool) (rule \(rule)); the client's retry answers")
            note.decision = Relay.askDecision(
                decision, allowed: false,
                reason: "brig asked the user to confirm the call to \(tool) (input_required); the retry carries the answer (rule \(rule) asks first)")
            note.ask = AuditAsk(question: question.text, answer: ConfirmationAnswer.pending.rawValue, via: via, timeoutMicros: timeoutMicros)
            return .answer(Replies(JSONWriter.resultResponse(id: id, result: result), answering: id))
        }

        guard c.hostCanElicit else { return deny(.noCapability, question: question) }
        let now = MonotonicClock.nanoseconds()
        let held = Confirmations.HeldCall(
            callID: id, line: Array(line), tool: tool, question: question, decision: decision,
            timeoutSeconds: ask.timeoutSeconds, askedAt: now, deadline: now &+ timeoutMicros &* 1000)
        guard let askID = c.hold(held, expire: { [weak self] askID, call in self?.expire(askID, call) }) else {
            return deny(.error, question: question, reason: "brig has \(Confirmations.capacity) questions open already (rule \(rule) asks first)")
        }
        diagnostics.report("asking the user to confirm the call to \(tool) (rule \(rule)); waiting up to \(Confirmations.seconds(ask.timeoutSeconds))")
        note.deferred = true
        // brig holds the call and asks the host: the server has not seen it, and answers nothing for it.
        let elicitation =
            "{\"jsonrpc\":\"2.0\",\"id\":\(JSONWriter.quoted(askID)),\"method\":\"elicitation/create\",\"params\":"
            + question.elicitationParams(modern: false) + "}\n"
        return .answer(Replies(Array(elicitation.utf8), answering: id))
    }

    /// The host's answer to one of brig's `elicitation/create` requests: settles the held call.
    /// The answer itself goes nowhere (the server never asked).
    func answerQuestion(_ c: Confirmations, _ line: UnsafeBufferPointer<UInt8>, _ view: MessageView, into batch: inout [UInt8]) {
        guard let rawID = view.id, let call = c.takeHeld(rawID: rawID) else {
            diagnostics.report("the host answered brig's question \(view.id ?? "") after it was settled; dropped")
            return
        }
        let answer: ConfirmationAnswer
        var detail: String?
        if view.kind == .error {
            answer = .error
            let error = view.error.flatMap { try? JSONValue.parse(line, range: $0) }
            detail = "error \(error?["code"]?.jsonText ?? "?") \(error?["message"]?.stringValue ?? "")"
        } else {
            answer = Confirmations.answer(of: view.result.flatMap { try? JSONValue.parse(line, range: $0) })
            if answer == .error { detail = "no action accept, decline or cancel" }
        }
        pushAuditStage(.hostToServer)
        settle(call, answer, detail: detail, onHostThread: true) { bytes in
            batch.append(contentsOf: bytes)
            batch.append(0x0A)
        }
    }

    /// The host's `notifications/cancelled` for a held call: the question is withdrawn (brig
    /// cancels it in turn) and the call is never forwarded; the host expects no answer.
    func withdrawHeldCall(_ c: Confirmations, _ line: UnsafeBufferPointer<UInt8>, _ view: MessageView) {
        guard c.holdsAnything, let params = view.params.flatMap({ try? JSONValue.parse(line, range: $0) }),
            let requestID = params["requestId"], let (askID, call) = c.takeHeld(callID: requestID.jsonText)
        else { return }
        toHost.write(c.cancellation(for: askID, reason: "the host cancelled the call"))
        pushAuditStage(.hostToServer)
        settle(
            call, .cancel, detail: "the host cancelled the call to \(call.tool) while the user was asked", reply: false,
            onHostThread: true
        ) { _ in }
    }

    /// The timer thread: a held call's question went unanswered.
    func expire(_ askID: String, _ call: Confirmations.HeldCall) {
        guard let c = confirmations else { return }
        toHost.write(c.cancellation(for: askID, reason: "brig stopped waiting for the answer (ask_timeout)"))
        settle(call, .timeout, onHostThread: false) { bytes in
            toServer.write(UnsafeRawBufferPointer(bytes))
            toServer.write([0x0A])
        }
    }

    /// The host's input ended (or the server did: `why`): every held call is denied (the host may
    /// still read the answers), and no more are held.
    func settleHeldCallsAtHostEnd(why: String?, onHostThread: Bool) {
        guard let c = confirmations else { return }
        for (_, call) in c.hostClosedInput() {
            settle(call, .closed, detail: why, onHostThread: onHostThread) { _ in }
        }
    }

    /// Forwards an accepted held call (through `forward`) or answers the host with its denial;
    /// then writes the call's record, with the question and the answer.
    func settle(
        _ call: Confirmations.HeldCall, _ answer: ConfirmationAnswer, detail: String? = nil, reply: Bool = true,
        onHostThread: Bool, forward: (UnsafeBufferPointer<UInt8>) -> Void
    ) {
        let waited = (MonotonicClock.nanoseconds() &- call.askedAt) / 1000
        let rule = Relay.shortRule(call.decision.rule)
        let decision: Decision
        if answer == .accept, audit?.isHealthy ?? true {
            decision = Relay.askDecision(call.decision, allowed: true, reason: "tool \(call.tool) allowed: the user accepted (rule \(rule) asks first)")
            hostRequests.insert(id: call.callID, method: MCPMethod.toolsCall, subject: call.tool)
            call.line.withUnsafeBufferPointer(forward)
        } else if answer == .accept {
            decision = Relay.askDecision(call.decision, allowed: false, reason: AuditLog.refusalReason)
            toHost.write(AuditLog.refusal(id: call.callID))
        } else {
            let reason = answer.denialReason(tool: call.tool, rule: rule, timeoutSeconds: call.timeoutSeconds, detail: detail)
            decision = Relay.askDecision(call.decision, allowed: false, reason: reason)
            if reply, let policy { toHost.write(policy.denial(id: call.callID, method: MCPMethod.toolsCall, params: nil, decision: decision)) }
            report([decision], direction: .hostToServer)
        }
        guard let audit else { return }
        if onHostThread { pushAuditStage(.hostToServer) }
        let ask = AuditAsk(
            question: call.question.text, answer: answer.rawValue, via: MCPMethod.elicitationCreate,
            timeoutMicros: UInt64(call.timeoutSeconds * 1e6), waitedMicros: waited)
        let context = MessageContext(subject: call.tool, decision: AuditDecision(decision), scopes: decision.scopes, ask: ask)
        call.line.withUnsafeBufferPointer { _ = audit.message(line: $0, direction: .hostToServer, context: context) }
    }

    /// The decision that replaces the policy's once the user answered: the same rule, with the
    /// answer's reason (category `ask` when denied).
    static func askDecision(_ base: Decision, allowed: Bool, reason: String) -> Decision {
        Decision(
            allowed: allowed, enforced: true, category: allowed ? .allowed : .ask, rule: base.rule, reason: reason,
            subject: base.subject, scopes: base.scopes)
    }

    /// `mcp.tools.rules[0] (git_*)` of `FILE:LINE mcp.tools.rules[0] (git_*)`; a flag's rule whole.
    static func shortRule(_ rule: String) -> String {
        if rule.hasPrefix("--") { return rule }
        return rule.split(separator: " ", maxSplits: 1).last.map(String.init) ?? rule
    }

    /// The request line with brig's key removed from `params.inputResponses` (and the member
    /// itself when nothing else is left in it); nil when the line does not parse.
    static func withoutInputResponse(_ line: UnsafeBufferPointer<UInt8>, key: String) -> [UInt8]? {
        guard case .object(let message)? = try? JSONValue.parse(line), let params = JSONValue.object(message)["params"],
            case .object(var members) = params
        else { return nil }
        if let i = members.firstIndex(where: { $0.0 == "inputResponses" }), case .object(let responses) = members[i].1 {
            let rest = responses.filter { $0.0 != key }
            if rest.isEmpty { members.remove(at: i) } else { members[i].1 = .object(rest) }
        }
        var out: [UInt8] = []
        JSONValue.object(message).setting("params", .object(members)).write(to: &out)
        return out
    }
}

extension AuditDecision {
    init(_ d: Decision) {
        self.init(
            allowed: d.allowed, enforced: d.enforced, rule: d.rule, reason: d.reason, category: d.category.rawValue,
            suggestion: d.howToAllow)
    }
}
