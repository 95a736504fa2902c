/// What the relay does with one line (a message, or a batch of them): the one answer that the
/// content defenses, the policy and the audit trail each give, in that order. Whoever returns a
/// verdict has built its bytes (errors and tool errors by the protocol's era, rewritten lines);
/// the relay applies it: replies at once, the rest with the read's batch once the record is kept.
public enum Verdict: Sendable {
    /// Pass the line on as it came (the common case: nothing is built or copied).
    case forward
    /// Pass `Rewrite` on in the line's place, after `replies` (brig's answers to the members of
    /// a batch it took out).
    case rewrite(Rewrite, replies: Replies = Replies())
    /// Pass nothing on: brig's replies stand in for the peer's. `Verdict.drop` has none (a denied
    /// notification).
    case answer(Replies)

    /// Nothing is passed on and nothing is answered.
    public static var drop: Verdict { .answer(Replies()) }

    /// What this verdict sends back, if anything.
    public var replies: Replies? {
        switch self {
        case .forward: nil
        case .rewrite(_, let replies), .answer(let replies): replies
        }
    }
}

/// A line brig passes on in place of the one that came.
public enum Rewrite: Sendable {
    /// A whole line, without its newline: a batch without its denied members, an error in the
    /// place of a response.
    case line([UInt8])
    /// The response `id` (raw JSON text) with this result: a filtered list, a sanitized or
    /// redacted result. The tree is written once, straight into the batch that carries it.
    case result(id: String, JSONValue)

    /// Appends the line and its newline.
    public func append(to out: inout [UInt8]) {
        switch self {
        case .line(let bytes):
            out.append(contentsOf: bytes)
        case .result(let id, let result):
            out.append(contentsOf: Rewrite.responseHead)
            out.append(contentsOf: id.utf8)
            out.append(contentsOf: Rewrite.resultKey)
            result.write(to: &out)
            out.append(UInt8(ascii: "}"))
        }
        out.append(0x0A)
    }

    /// The line, without its newline.
    public var bytes: [UInt8] {
        var out: [UInt8] = []
        append(to: &out)
        out.removeLast()
        return out
    }

    static let responseHead = Array(#"{"jsonrpc":"2.0","id":"#.utf8)
    static let resultKey = Array(#","result":"#.utf8)
}

/// Lines brig writes itself instead of the peer: answers to requests it decided, its own
/// questions to the host.
public struct Replies: Sendable {
    /// Who reads the lines.
    public enum Recipient: Sendable, Equatable {
        /// The message's sender: a denial, a withheld call, a malformed request.
        case sender
        /// The host, whichever way the message went: a server's response that may not pass
        /// (the host would wait for it forever).
        case host
    }

    /// Whole lines, each with its newline.
    public private(set) var lines: [UInt8] = []
    public var recipient: Recipient
    /// The ids (raw JSON text) of the sender's requests that these lines answer: the peer never
    /// sees them, so the in-flight table forgets them.
    public private(set) var answered: [String] = []

    public init(to recipient: Recipient = .sender) {
        self.recipient = recipient
    }

    /// One line (`line` ends with its newline), answering the sender's request `id` if given.
    public init(_ line: [UInt8], answering id: String? = nil, to recipient: Recipient = .sender) {
        self.recipient = recipient
        add(line, answering: id)
    }

    public mutating func add(_ line: [UInt8], answering id: String? = nil) {
        lines.append(contentsOf: line)
        if let id { answered.append(id) }
    }

    public var isEmpty: Bool { lines.isEmpty && answered.isEmpty }
}
