public import BrigJSONRPC

/// `audit.on_failure: block` and a record could not be kept: nothing passes unrecorded.
extension AuditLog {
    /// Why brig answers -32603 while its trail is down (`data.reason`).
    public static let refusalReason = "brig cannot write its audit trail (audit.on_failure: block); nothing is forwarded"

    /// The answer to request `id` (with its newline).
    public static func refusal(id: String) -> [UInt8] {
        JSONWriter.internalError(id: id, reason: refusalReason)
    }

    /// The verdict on a message (or a batch) that cannot be recorded: nothing of it passes. The
    /// host's requests are answered with an error, unless brig answered them already (a denial,
    /// a withheld call), and so are the host's requests that the server's responses answer (the
    /// host must not wait forever); everything else is dropped. The answered requests leave
    /// `hostRequests` here.
    public static func refusal(of view: MessageView, direction: Direction, hostRequests: InFlightTable) -> Verdict {
        var replies = Replies(to: .host)
        for m in (view.kind == .batch ? view.members : [view]) {
            guard let id = m.id else { continue }
            if direction == .hostToServer, m.kind == .request {
                guard hostRequests.remove(id: id) != nil else { continue }
                replies.add(refusal(id: id))
            } else if direction == .serverToHost, m.isResponse {
                replies.add(refusal(id: id))
            }
        }
        return .answer(replies)
    }
}
