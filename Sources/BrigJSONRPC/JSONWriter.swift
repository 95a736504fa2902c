/// Writes the few JSON texts brig itself produces (error answers, stderr reports) without
/// Foundation: appending escaped strings to a byte buffer.
public enum JSONWriter {
    /// Appends `s` as a JSON string literal, quotes included.
    public static func appendString(_ s: String, to out: inout [UInt8]) {
        out.append(UInt8(ascii: "\""))
        for b in s.utf8 {
            switch b {
            case UInt8(ascii: "\""): out.append(contentsOf: [0x5C, 0x22])
            case UInt8(ascii: "\\"): out.append(contentsOf: [0x5C, 0x5C])
            case 0x0A: out.append(contentsOf: [0x5C, UInt8(ascii: "n")])
            case 0x0D: out.append(contentsOf: [0x5C, UInt8(ascii: "r")])
            case 0x09: out.append(contentsOf: [0x5C, UInt8(ascii: "t")])
            case 0..<0x20, 0x7F:
                let hex: [UInt8] = Array("0123456789abcdef".utf8)
                out.append(contentsOf: [0x5C, UInt8(ascii: "u"), 0x30, 0x30, hex[Int(b >> 4)], hex[Int(b & 0xF)]])
            default: out.append(b)
            }
        }
        out.append(UInt8(ascii: "\""))
    }

    public static func quoted(_ s: String) -> String {
        var out: [UInt8] = []
        appendString(s, to: &out)
        return String(decoding: out, as: UTF8.self)
    }

    /// One JSON-RPC error response line (with its newline). `id` is raw JSON text or nil (null);
    /// `data` is raw JSON text or nil.
    public static func errorResponse(id: String?, code: Int, message: String, data: String? = nil) -> [UInt8] {
        var out: [UInt8] = []
        out.reserveCapacity(128)
        out.append(contentsOf: Array("{\"jsonrpc\":\"2.0\",\"id\":".utf8))
        out.append(contentsOf: Array((id ?? "null").utf8))
        out.append(contentsOf: Array(",\"error\":{\"code\":\(code),\"message\":".utf8))
        appendString(message, to: &out)
        if let data {
            out.append(contentsOf: Array(",\"data\":".utf8))
            out.append(contentsOf: Array(data.utf8))
        }
        out.append(contentsOf: Array("}}\n".utf8))
        return out
    }

    /// `-32603 Internal error` for request `id` (with its newline): `data` holds `reason` and
    /// then `more` (raw JSON members, each after a comma).
    public static func internalError(id: String, reason: String, more: String = "") -> [UInt8] {
        errorResponse(id: id, code: MessageError.internalError, message: "Internal error", data: "{\"reason\":\(quoted(reason))\(more)}")
    }

    /// One JSON-RPC result response line (with its newline); `result` is raw JSON text.
    public static func resultResponse(id: String, result: String) -> [UInt8] {
        Array("{\"jsonrpc\":\"2.0\",\"id\":\(id),\"result\":\(result)}\n".utf8)
    }
}

extension MessageError {
    /// A line over brig's limit, answered -32600 as a request brig cannot take.
    public static func oversized(id: String?, length: Int, limit: Int) -> MessageError {
        MessageError(
            code: invalidRequest, message: "Invalid Request", id: id,
            detail: "message of \(length) bytes exceeds the limit of \(limit) bytes")
    }

    /// The JSON-RPC error that answers the line (with its newline): the specification's code
    /// and message, the detail as `data.reason`.
    public var answer: [UInt8] {
        JSONWriter.errorResponse(id: id, code: code, message: message, data: "{\"reason\":\(JSONWriter.quoted(detail))}")
    }
}
