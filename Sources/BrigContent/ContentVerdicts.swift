public import BrigJSONRPC

/// A call the content defenses refuse: the item it names was withheld from the host (its
/// definition changed since it was pinned, or it was flagged as poisoning, in block mode).
public struct WithheldCall: Sendable {
    /// The answer: refused like an unknown tool (or invalid params, for a prompt or resource).
    public var verdict: Verdict
    /// What stderr says.
    public var report: String
    /// `brig.detail` of its `withheld-call` record.
    public var detail: [(String, JSONValue)]
}

/// The content defenses' verdicts on the relay's messages.
extension ContentGuard {
    /// The verdict on a host's request that calls a withheld tool, prompt or resource; nil for
    /// every other message (the relay asks only when something is withheld at all).
    public func withheldCall(_ line: UnsafeBufferPointer<UInt8>, _ view: MessageView) -> WithheldCall? {
        guard withholdsAnything, view.kind == .request, let method = view.method, let id = view.id,
            method == MCPMethod.toolsCall || method == MCPMethod.promptsGet || method == MCPMethod.resourcesRead,
            let range = view.params, let params = try? JSONValue.parse(line, range: range)
        else { return nil }
        let (kind, key) =
            switch method {
            case MCPMethod.toolsCall: ("tool:", "name")
            case MCPMethod.promptsGet: ("prompt:", "name")
            default: ("resource:", "uri")
            }
        let name = params[key]?.stringValue ?? ""
        let item = kind + name
        guard isWithheld(item) else { return nil }
        let data =
            "{\"reason\":\"withheld by brig: its definition changed since it was pinned, or it was flagged as poisoning (see brig pins)\",\"item\":\(JSONWriter.quoted(item))}"
        let advice = "brig pins accept \(item) if its definition changed (brig pins diff \(item)), or mcp: {poisoning: warn} if it was flagged"
        let answer = JSONWriter.errorResponse(
            id: id, code: MessageError.invalidParams,
            message: method == MCPMethod.toolsCall ? "Unknown tool: \(name)" : "Invalid params: \(name) is withheld", data: data)
        return WithheldCall(
            verdict: .answer(Replies(answer, answering: id)),
            report: "refused \(method) \(name): withheld by the content defenses; to allow: \(advice)",
            detail: [("id", .string(id)), ("method", .string(method)), ("item", .string(item)), ("suggestion", .string(advice))])
    }

    /// Pins, sanitizes, flags and redacts the result of a server's response to `request`: the
    /// verdict forwards it, or rewrites it with the new result (as a tree: the policy's list
    /// filter reads it without a parse), and what was found.
    public func inspectResponse(
        _ line: UnsafeBufferPointer<UInt8>, _ view: MessageView, request: InFlightTable.Entry
    ) -> (verdict: Verdict, findings: [ContentFinding]) {
        guard view.kind == .response, let range = view.result, let id = view.id,
            needsInspection(method: request.method, result: UnsafeBufferPointer(rebasing: line[range])),
            let result = try? JSONValue.parse(line, range: range)
        else { return (.forward, []) }
        let (newResult, findings) = inspect(method: request.method, result: result)
        guard let newResult else { return (.forward, findings) }
        return (.rewrite(.result(id: id, newResult)), findings)
    }
}

extension ContentFinding {
    /// What lets a withheld item through: accepting its changed definition, or poisoning flags
    /// that warn instead of block; nil for findings that withhold nothing.
    public var howToAllow: String? {
        guard blocked else { return nil }
        switch action {
        case .pinChanged: return "brig pins accept \(item) (brig pins diff \(item) shows the change)"
        case .poisoning: return "mcp: {poisoning: warn}, if the text is what the server means"
        case .leak: return "mcp: {leaks: redact}"
        case .pinNew, .pinRemoved, .pinError, .sanitized: return nil
        }
    }

    /// What the finding's record says about the call it was found in (`brig.detail`): the
    /// response's id (raw JSON text, as `mcp.id`), the request's method, the tool (the
    /// `tools/call` it answers, or the tool a `tool:NAME` definition defines), the item, and how
    /// to allow it.
    public func auditDetail(id: String, request: InFlightTable.Entry) -> [(String, JSONValue)] {
        var detail: [(String, JSONValue)] = [("id", .string(id)), ("method", .string(request.method))]
        if request.method == MCPMethod.toolsCall, let tool = request.subject {
            detail.append(("tool", .string(tool)))
        } else if item.hasPrefix("tool:") {
            detail.append(("tool", .string(String(item.dropFirst(5)))))
        }
        detail += [("item", .string(item)), ("detail", .string(self.detail)), ("blocked", .bool(blocked))]
        if let advice = howToAllow { detail.append(("suggestion", .string(advice))) }
        return detail
    }
}
