public import BrigJSONRPC
import BrigSystem

/// Applies the message policy to the relay's traffic and shapes what brig answers itself.
///
/// Denials follow the specification's error rules (never the legacy -32000..-32019 range nor the
/// reserved -32020..-32099 one, except -32022 for an unsupported version in the 2026-07-28 era):
/// - a tool denied by name: JSON-RPC -32602 `Unknown tool: NAME`, as the spec answers an unknown tool;
/// - a tool call denied for its arguments, scopes, rate or token: a `CallToolResult` with
///   `isError: true` and a text naming the rule, so the model can correct itself
///   (`resultType: "complete"` in the 2026-07-28 era);
/// - another request denied by method: -32601; for its params (resource, prompt, version, rate): -32602;
/// - a denied notification is dropped.
/// Every error's `data` names the rule. List results (`tools/list`, `prompts/list`,
/// `resources/list`, `resources/templates/list`) lose what the policy hides; an
/// `InputRequiredResult` (2026-07-28) carrying a denied input request becomes an error to the host.
public struct PolicyGate: Sendable {
    public let engine: PolicyEngine

    public init(engine: PolicyEngine) {
        self.engine = engine
    }

    /// The policy's verdict on one message and the decisions it took (for reports and the trail).
    public struct Outcome: Sendable {
        public var verdict: Verdict = .forward
        public var decisions: [Decision] = []
    }

    /// Methods whose results list what the policy may hide (a switch: no hashing per response).
    static func isListMethod(_ method: String) -> Bool {
        switch method {
        case MCPMethod.toolsList, MCPMethod.promptsList, MCPMethod.resourcesList, MCPMethod.resourcesTemplatesList: true
        default: false
        }
    }

    /// A request or notification (or a batch of them) from either side. A denied request is
    /// answered in the peer's place, a denied notification dropped; a batch loses its denied
    /// members (and is dropped when none is left).
    public func inspect(_ line: UnsafeBufferPointer<UInt8>, view: MessageView, direction: Direction) -> Outcome {
        var outcome = Outcome()
        switch view.kind {
        case .request, .notification:
            var replies = Replies()
            if !decide(line, view, direction, inBatch: false, decisions: &outcome.decisions, replies: &replies) {
                outcome.verdict = .answer(replies)
            }
        case .batch:
            var replies = Replies()
            var kept: [Range<Int>] = []
            for member in view.members {
                guard member.kind == .request || member.kind == .notification, let span = member.span else {
                    if let span = member.span { kept.append(span) }
                    continue
                }
                if decide(line, member, direction, inBatch: true, decisions: &outcome.decisions, replies: &replies) {
                    kept.append(span)
                }
            }
            if kept.count == view.members.count { break }
            if kept.isEmpty {
                outcome.verdict = .answer(replies)
            } else {
                var out: [UInt8] = [UInt8(ascii: "[")]
                for (i, span) in kept.enumerated() {
                    if i > 0 { out.append(UInt8(ascii: ",")) }
                    out.append(contentsOf: line[span])
                }
                out.append(UInt8(ascii: "]"))
                outcome.verdict = .rewrite(.line(out), replies: replies)
            }
        case .response, .error:
            break
        }
        return outcome
    }

    /// Decides one request or notification: true to let it pass. A denied request's answer goes
    /// into `replies`; a denied notification is dropped silently.
    /// A call inside a batch (2025-03-26, before elicitation existed) cannot ask the user: when
    /// its rule asks, it is denied.
    private func decide(
        _ line: UnsafeBufferPointer<UInt8>, _ view: MessageView, _ direction: Direction, inBatch: Bool,
        decisions: inout [Decision], replies: inout Replies
    ) -> Bool {
        guard let method = view.method else { return true }
        // The engine reads the few members it needs from the line; a denial's answer reads the tree.
        let params = view.params.flatMap { engine.lineParams(method: method, line: line, range: $0) }
        var decision = engine.evaluate(method: method, reading: params, direction: direction)
        if inBatch, decision.ask != nil, decision.enforced {
            decision = Decision(
                allowed: false, enforced: true, category: .ask, rule: decision.rule,
                reason: "tool \(decision.subject ?? "") asks the user first, which a call inside a JSON-RPC batch cannot (batches are 2025-03-26, elicitation came in 2025-06-18)",
                subject: decision.subject, scopes: decision.scopes)
        }
        let blocks = decision.blocks
        decisions.append(decision)  // its last use on the common path: moved, not copied
        guard blocks else { return true }
        guard view.kind == .request, let id = view.id else { return false }
        let tree = params == nil ? nil : view.params.flatMap { try? JSONValue.parse(line, range: $0) }
        replies.add(denial(id: id, method: method, params: tree, decision: decisions[decisions.count - 1]), answering: id)
        return false
    }

    /// The answer brig writes for a denied request.
    public func denial(id: String, method: String, params: JSONValue?, decision: Decision) -> [UInt8] {
        let data =
            "{\"rule\":\(JSONWriter.quoted(decision.rule)),\"reason\":\(JSONWriter.quoted(decision.reason))"
            + ",\"category\":\(JSONWriter.quoted(decision.category.rawValue))}"
        if method == MCPMethod.toolsCall {
            let name = decision.subject ?? params?["name"]?.stringValue ?? ""
            if decision.category == .tool || decision.category == .method {
                return JSONWriter.errorResponse(id: id, code: MessageError.invalidParams, message: "Unknown tool: \(name)", data: data)
            }
            if decision.category != .protocolVersion {
                let text = "brig denied this call to \(name): \(decision.reason)"
                var result = "{\"content\":[{\"type\":\"text\",\"text\":\(JSONWriter.quoted(text))}],\"isError\":true"
                if PolicyGate.isModernEra(params) { result += ",\"resultType\":\"complete\"" }
                result += ",\"_meta\":{\"brig/denied\":\(data)}}"
                return JSONWriter.resultResponse(id: id, result: result)
            }
        }
        switch decision.category {
        case .method:
            return JSONWriter.errorResponse(id: id, code: MessageError.methodNotFound, message: "Method not found: \(method)", data: data)
        case .protocolVersion:
            let requested =
                params?["protocolVersion"]?.stringValue
                ?? params?["_meta"]?["io.modelcontextprotocol/protocolVersion"]?.stringValue ?? ""
            let list = "[" + (engine.acceptedProtocolVersions ?? []).map { JSONWriter.quoted($0) }.joined(separator: ",") + "]"
            let versionData =
                "{\"supported\":\(list),\"requested\":\(JSONWriter.quoted(requested)),\"rule\":\(JSONWriter.quoted(decision.rule)),\"reason\":\(JSONWriter.quoted(decision.reason))}"
            if PolicyGate.isModernEra(params) {
                return JSONWriter.errorResponse(id: id, code: -32022, message: "Unsupported protocol version", data: versionData)
            }
            return JSONWriter.errorResponse(id: id, code: MessageError.invalidParams, message: "Unsupported protocol version", data: versionData)
        default:
            return JSONWriter.errorResponse(id: id, code: MessageError.invalidParams, message: "Invalid params: \(decision.reason)", data: data)
        }
    }

    /// Whether a request speaks the 2026-07-28 era (its `_meta` carries the protocol version).
    public static func isModernEra(_ params: JSONValue?) -> Bool {
        guard let v = params?["_meta"]?["io.modelcontextprotocol/protocolVersion"]?.stringValue else { return false }
        return v >= "2026-07-28"
    }

    /// A server response to a host request: filters list results and checks input requests.
    /// `earlier` is the content defenses' verdict on it: when they rewrote the result, the
    /// policy reads their tree (no text in between) and the verdict it returns carries it on.
    public func inspectResponse(
        _ line: UnsafeBufferPointer<UInt8>, view: MessageView, request: InFlightTable.Entry,
        after earlier: Verdict = .forward, decisions: inout [Decision]
    ) -> Verdict {
        guard view.kind == .response, let id = view.id, let range = view.result else { return earlier }
        let rewritten: JSONValue?
        if case .rewrite(.result(_, let tree), _) = earlier { rewritten = tree } else { rewritten = nil }
        if PolicyGate.isListMethod(request.method) {
            guard let result = rewritten ?? (try? JSONValue.parse(line, range: range)),
                let filtered = filterList(request.method, result)
            else { return earlier }
            // Permissive mode blocks nothing: the list passes whole, and what it would hide is reported.
            if engine.isPermissive {
                let key = [MCPMethod.toolsList: "tools", MCPMethod.promptsList: "prompts", MCPMethod.resourcesList: "resources"][request.method] ?? "resourceTemplates"
                let field =
                    request.method == MCPMethod.toolsList || request.method == MCPMethod.promptsList ? "name" : request.method == MCPMethod.resourcesList ? "uri" : "uriTemplate"
                let kept = Set((filtered[key]?.arrayValue ?? []).compactMap { $0[field]?.stringValue })
                for item in result[key]?.arrayValue ?? [] {
                    guard let name = item[field]?.stringValue, !kept.contains(name) else { continue }
                    decisions.append(
                        Decision(
                            allowed: false, enforced: false, category: request.method == MCPMethod.toolsList ? .tool : .resource,
                            rule: "list filtering", reason: "\(name) would be hidden from \(request.method)", subject: name))
                }
                return earlier
            }
            return .rewrite(.result(id: id, filtered))
        }
        // 2026-07-28: an InputRequiredResult carries server-to-host requests inside a result.
        let result: JSONValue
        if let rewritten {
            result = rewritten
        } else {
            guard PolicyGate.requiresInput(line, range), let parsed = try? JSONValue.parse(line, range: range) else { return earlier }
            result = parsed
        }
        guard result["resultType"]?.stringValue == "input_required", let requests = result["inputRequests"]?.objectValue else {
            return earlier
        }
        for (key, inputRequest) in requests {
            guard let method = inputRequest["method"]?.stringValue else { continue }
            let decision = engine.evaluate(method: method, params: inputRequest["params"], direction: .serverToHost)
            if !decision.allowed { decisions.append(decision) }
            if decision.blocks {
                let data =
                    "{\"rule\":\(JSONWriter.quoted(decision.rule)),\"reason\":\(JSONWriter.quoted(decision.reason)),\"inputRequest\":\(JSONWriter.quoted(key)),\"method\":\(JSONWriter.quoted(method))}"
                var reply = JSONWriter.errorResponse(
                    id: id, code: MessageError.invalidParams,
                    message: "The server asked for \(method), which brig's policy denies", data: data)
                reply.removeLast()
                return .rewrite(.line(reply))
            }
        }
        return earlier
    }

    /// The list result without what the policy hides; nil when nothing was removed.
    func filterList(_ method: String, _ result: JSONValue) -> JSONValue? {
        let (key, visible): (String, (JSONValue) -> Bool) =
            switch method {
            case MCPMethod.toolsList: ("tools", { item in item["name"]?.stringValue.map(engine.toolVisible) ?? true })
            case MCPMethod.promptsList: ("prompts", { item in item["name"]?.stringValue.map(engine.promptVisible) ?? true })
            case MCPMethod.resourcesList: ("resources", { item in item["uri"]?.stringValue.map(engine.resourceVisible) ?? true })
            default: ("resourceTemplates", { item in item["uriTemplate"]?.stringValue.map(engine.resourceVisible) ?? true })
            }
        guard let items = result[key]?.arrayValue else { return nil }
        let kept = items.filter(visible)
        guard kept.count != items.count else { return nil }
        return result.setting(key, .array(kept))
    }

    /// Whether a result's `resultType` (its first member of that name, as the tree reads it) is
    /// `input_required`: found by walking the result's members, so that the common result is
    /// neither parsed nor searched byte by byte.
    static func requiresInput(_ line: UnsafeBufferPointer<UInt8>, _ range: Range<Int>) -> Bool {
        guard let first = range.first, line[first] == UInt8(ascii: "{") else { return false }
        // Most results are not input requests: when neither the value's bytes nor an escape (by
        // which a string can spell them otherwise) occur, the members need no walk.
        let result = UnsafeBufferPointer(rebasing: line[range])
        if !ByteSearch.contains(result, PolicyGate.inputRequiredBytes) && !ByteSearch.contains(result, PolicyGate.unicodeEscape) {
            return false
        }
        let reader = JSONScanner(line)
        var scanner = reader
        var found = false
        try? scanner.forEachMember(ofValidObjectAt: first) { key, value in
            guard reader.keyEquals(key, PolicyGate.resultTypeKey) else { return true }
            found = reader.validString(at: value.lowerBound) == "input_required"
            return false
        }
        return found
    }

    static let resultTypeKey = JSONScanner.KeyBytes("resultType")
    static let inputRequiredBytes = Array("input_required".utf8)
    static let unicodeEscape = Array("\\u".utf8)
}
