/// Which way a message travels.
public enum Direction: String, Sendable {
    case hostToServer = "host-to-server"
    case serverToHost = "server-to-host"
}

/// The light view of one JSON-RPC line that every later layer reads.
///
/// Parsing validates the whole line but decodes only the envelope: the kind, the id (kept as its
/// raw JSON text, so that an answer brig writes carries exactly the id the peer sent), the method
/// and the byte ranges of `params`, `result` and `error`. The line itself is forwarded unchanged.
public struct MessageView: Sendable, Equatable {
    public enum Kind: String, Sendable, Equatable {
        case request, notification, response, error, batch
    }

    public var kind: Kind
    /// The id's raw JSON text (`7`, `"abc"`), nil for notifications and batches.
    public var id: String?
    public var method: String?
    /// Byte ranges inside the parsed line.
    public var params: Range<Int>?
    public var result: Range<Int>?
    public var error: Range<Int>?
    /// Members of a batch (2025-03-26), each with ranges relative to the whole line.
    public var members: [MessageView]
    /// A batch member's own bytes inside the line (nil for a top-level message: the whole line).
    public var span: Range<Int>?

    public init(
        kind: Kind, id: String? = nil, method: String? = nil, params: Range<Int>? = nil,
        result: Range<Int>? = nil, error: Range<Int>? = nil, members: [MessageView] = []
    ) {
        self.kind = kind
        self.id = id
        self.method = method
        self.params = params
        self.result = result
        self.error = error
        self.members = members
    }

    public var isRequest: Bool { kind == .request }
    public var isResponse: Bool { kind == .response || kind == .error }
}

/// Why a line is not a valid JSON-RPC message, as the JSON-RPC error brig answers with.
public struct MessageError: Error, Sendable, Equatable {
    public var code: Int
    public var message: String
    /// The id's raw JSON text when it could be read, else nil (answered as `null`).
    public var id: String?
    /// A detail for humans (offset and what was wrong).
    public var detail: String

    public static let parseError = -32700
    public static let invalidRequest = -32600
    public static let methodNotFound = -32601
    public static let invalidParams = -32602
    public static let internalError = -32603
}

extension MessageView {
    /// Parses one line (without its newline).
    public static func parse(_ line: UnsafeBufferPointer<UInt8>) -> Result<MessageView, MessageError> {
        var scanner = JSONScanner(line)
        scanner.skipWhitespace()
        guard let first = scanner.peek() else {
            return .failure(MessageError(code: MessageError.parseError, message: "Parse error", id: nil, detail: "empty line"))
        }
        if first == UInt8(ascii: "[") {
            return parseBatch(&scanner)
        }
        var id: String?
        do {
            let view = try parseObject(&scanner, id: &id)
            scanner.skipWhitespace()
            guard scanner.atEnd else {
                return .failure(
                    MessageError(
                        code: MessageError.parseError, message: "Parse error", id: id,
                        detail: "unexpected data after the message at byte \(scanner.offset)"))
            }
            return view
        } catch {
            return .failure(error.asMessageError(id: id))
        }
    }

    /// Parses a message from a prefix of a line that was too long to keep, only to find its id.
    public static func idFromPrefix(_ prefix: UnsafeBufferPointer<UInt8>) -> String? {
        var scanner = JSONScanner(prefix)
        var id: String?
        _ = try? parseObject(&scanner, id: &id)
        return id
    }

    private static func parseBatch(_ scanner: inout JSONScanner) -> Result<MessageView, MessageError> {
        var members: [MessageView] = []
        do throws(JSONScanner.Failure) {
            try scanner.expect(UInt8(ascii: "["))
            scanner.skipWhitespace()
            if scanner.peek() == UInt8(ascii: "]") {
                return .failure(
                    MessageError(
                        code: MessageError.invalidRequest, message: "Invalid Request", id: nil,
                        detail: "empty batch"))
            }
            var firstError: MessageError?
            while true {
                scanner.skipWhitespace()
                var id: String?
                let start = scanner.offset
                let member = try parseObject(&scanner, id: &id, depth: 1)
                switch member {
                case .success(var view):
                    view.span = start..<scanner.offset
                    if view.kind == .batch {
                        firstError =
                            firstError
                            ?? MessageError(
                                code: MessageError.invalidRequest, message: "Invalid Request",
                                id: nil, detail: "nested batch")
                    }
                    members.append(view)
                case .failure(let error):
                    firstError = firstError ?? error
                }
                scanner.skipWhitespace()
                guard let c = scanner.peek() else { throw JSONScanner.Failure.syntax(at: scanner.offset) }
                try scanner.expect(c)
                if c == UInt8(ascii: ",") { continue }
                if c == UInt8(ascii: "]") { break }
                throw JSONScanner.Failure.syntax(at: scanner.offset - 1)
            }
            scanner.skipWhitespace()
            guard scanner.atEnd else { throw JSONScanner.Failure.syntax(at: scanner.offset) }
            if let firstError { return .failure(firstError) }
            return .success(MessageView(kind: .batch, members: members))
        } catch {
            return .failure(error.asMessageError(id: nil))
        }
    }

    /// Parses one object; JSON syntax errors throw, JSON-RPC shape errors are returned. `depth`
    /// is the object's own nesting (1 inside a batch), so that a batch member is held to the same
    /// limit as the tree parser applies to the whole line.
    private static func parseObject(_ scanner: inout JSONScanner, id: inout String?, depth: Int = 0)
        throws(JSONScanner.Failure) -> Result<MessageView, MessageError>
    {
        scanner.skipWhitespace()
        guard scanner.peek() == UInt8(ascii: "{") else {
            _ = try scanner.skipValue(depth: depth)
            return .failure(
                MessageError(
                    code: MessageError.invalidRequest, message: "Invalid Request", id: nil,
                    detail: "a message must be a JSON object"))
        }
        try scanner.expect(UInt8(ascii: "{"))
        var version: Bool?
        var method: String?
        var methodIsString = true
        var idOK = true
        var hasID = false
        var params: Range<Int>?
        var result: Range<Int>?
        var error: Range<Int>?
        var pendingID: String?
        scanner.skipWhitespace()
        if scanner.peek() == UInt8(ascii: "}") {
            try scanner.expect(UInt8(ascii: "}"))
        } else {
            while true {
                scanner.skipWhitespace()
                let key = try scanner.scanString()
                try scanner.expect(UInt8(ascii: ":"))
                scanner.skipWhitespace()
                let valueStart = scanner.offset
                let first = scanner.peek()
                let range = try scanner.skipValue(depth: depth + 1)
                // A member name written with escapes (`"\u0069d"`) is the name the host and the
                // server decode; compared decoded, so no member hides from brig that way.
                let escapedName = key.escaped ? Array(scanner.decodeString(key).utf8) : nil
                func named(_ name: StaticString) -> Bool {
                    guard let escapedName else { return scanner.tokenEquals(key, name) }
                    return escapedName.elementsEqual(UnsafeBufferPointer(start: name.utf8Start, count: name.utf8CodeUnitCount))
                }
                if named("jsonrpc") {
                    version =
                        range.count == 5
                        ? scanner.bytesEqual(range, "\"2.0\"")
                        : first == UInt8(ascii: "\"") && scanner.validValue(range) == .string("2.0")
                } else if named("id") {
                    hasID = true
                    let f = first ?? 0
                    if f == UInt8(ascii: "\"") || f == UInt8(ascii: "-") || (f >= 0x30 && f <= 0x39) {
                        pendingID = scanner.text(valueStart..<range.upperBound)
                        // A string id with escapes is kept in one spelling, so that `"\u0031"`
                        // and `"1"` are one id when a response is matched to its request.
                        if f == UInt8(ascii: "\""), scanner.contains(UInt8(ascii: "\\"), in: range),
                            case .string(let decoded)? = scanner.validValue(range)
                        {
                            pendingID = JSONWriter.quoted(decoded)
                        }
                    } else {
                        idOK = false  // null, bool, object, array: not a valid MCP id
                    }
                } else if named("method") {
                    if first == UInt8(ascii: "\"") {
                        var sub = scanner
                        sub.seek(valueStart)
                        if let token = try? sub.scanString() { method = sub.decodeString(token) }
                    } else {
                        methodIsString = false
                    }
                } else if named("params") {
                    params = range
                    if first != UInt8(ascii: "{") && first != UInt8(ascii: "[") { methodIsString = false }
                } else if named("result") {
                    result = range
                } else if named("error") {
                    error = range
                }
                scanner.skipWhitespace()
                guard let c = scanner.peek(), c == UInt8(ascii: ",") || c == UInt8(ascii: "}") else {
                    throw .syntax(at: scanner.offset)
                }
                // The id counts only once the value is known to have ended where it seemed to
                // (`007` must not be answered as id 0).
                if let pendingID {
                    id = pendingID
                }
                pendingID = nil
                try scanner.expect(c)
                if c == UInt8(ascii: ",") { continue }
                break
            }
        }
        func invalid(_ detail: String) -> Result<MessageView, MessageError> {
            .failure(MessageError(code: MessageError.invalidRequest, message: "Invalid Request", id: id, detail: detail))
        }
        guard version == true else { return invalid("\"jsonrpc\" must be \"2.0\"") }
        guard idOK else { return invalid("\"id\" must be a string or a number") }
        if method != nil || !methodIsString {
            guard methodIsString, let method else { return invalid("\"method\" must be a string and \"params\" an object or array") }
            guard result == nil, error == nil else { return invalid("a message cannot be both a request and a response") }
            return .success(MessageView(kind: hasID ? .request : .notification, id: id, method: method, params: params))
        }
        if result != nil || error != nil {
            guard hasID else { return invalid("a response needs an \"id\"") }
            guard (result == nil) != (error == nil) else { return invalid("a response has either \"result\" or \"error\"") }
            return .success(MessageView(kind: result != nil ? .response : .error, id: id, result: result, error: error))
        }
        return invalid("neither a request, a notification nor a response")
    }
}

extension JSONScanner {
    @inline(__always) mutating func seek(_ offset: Int) { pos = offset }

    @inline(__always) func bytesEqual(_ range: Range<Int>, _ s: StaticString) -> Bool {
        range.count == s.utf8CodeUnitCount && memcmp(base + range.lowerBound, s.utf8Start, range.count) == 0
    }

    /// The bytes of `range` as a string (the caller knows they are valid UTF-8).
    public func text(_ range: Range<Int>) -> String {
        String(decoding: UnsafeBufferPointer(start: base + range.lowerBound, count: range.count), as: UTF8.self)
    }
}

extension JSONScanner.Failure {
    func asMessageError(id: String?) -> MessageError {
        switch self {
        case .syntax(let at):
            return MessageError(code: MessageError.parseError, message: "Parse error", id: id, detail: "invalid JSON at byte \(at)")
        case .invalidUTF8(let at):
            return MessageError(code: MessageError.parseError, message: "Parse error", id: id, detail: "invalid UTF-8 at byte \(at)")
        case .tooDeep(let at):
            // Valid JSON, but not a message brig will carry: an invalid request, not a parse error.
            return MessageError(
                code: MessageError.invalidRequest, message: "Invalid Request", id: id,
                detail: "nesting deeper than \(JSONScanner.maximumDepth) at byte \(at)")
        }
    }
}

#if canImport(Glibc)
@preconcurrency import Glibc
#endif
