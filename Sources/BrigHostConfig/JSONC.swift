/// JSON with comments (JSONC), parsed with the exact byte range of every value, so that a host's
/// config can be edited by replacing the text of one value and nothing else.
///
/// Accepted on top of RFC 8259: `//` and `/* */` comments, trailing commas in objects and arrays
/// (VS Code's and Zed's settings files have both), a UTF-8 byte-order mark. Strict JSON files
/// (Claude Desktop's) parse the same way. Duplicate keys are kept; lookups take the last one,
/// as `JSON.parse` and VS Code's parser do.
public struct JSONCDocument: Sendable {
    /// The file's bytes, as read.
    public let bytes: [UInt8]
    /// The top-level value.
    public let root: JSONCNode

    /// Parses `bytes`; a syntax error names the line and column.
    public init(bytes: [UInt8]) throws(JSONCError) {
        self.bytes = bytes
        var parser = JSONCParser(bytes: bytes)
        root = try parser.parseDocument()
    }

    /// The 1-based line that byte `offset` is on (a `\r\n` ends one line).
    public func line(of offset: Int) -> Int {
        JSONCParser.lineAndColumn(bytes, offset).line
    }

    /// The text of `range`, decoded as UTF-8.
    public func text(_ range: Range<Int>) -> String {
        String(decoding: bytes[range], as: UTF8.self)
    }
}

/// A syntax error: where, and what was expected.
public struct JSONCError: Error, Sendable, Equatable, CustomStringConvertible {
    public var line: Int
    public var column: Int
    public var message: String

    public var description: String { "line \(line), column \(column): \(message)" }
}

/// One value and the bytes it spans (from its first byte to just past its last).
public struct JSONCNode: Sendable {
    public enum Kind: Sendable {
        case object([JSONCMember])
        case array([JSONCNode])
        case string(String)
        /// The number as written.
        case number(String)
        case bool(Bool)
        case null
    }

    public var kind: Kind
    public var range: Range<Int>

    /// The members of an object, in file order (empty for other kinds).
    public var members: [JSONCMember] {
        if case .object(let m) = kind { return m }
        return []
    }

    public var isObject: Bool {
        if case .object = kind { return true }
        return false
    }

    /// The elements of an array, or nil for other kinds.
    public var elements: [JSONCNode]? {
        if case .array(let e) = kind { return e }
        return nil
    }

    public var string: String? {
        if case .string(let s) = kind { return s }
        return nil
    }

    /// The elements of an array of strings, or nil when it is not one.
    public var strings: [String]? {
        guard let elements else { return nil }
        var out: [String] = []
        for e in elements {
            guard let s = e.string else { return nil }
            out.append(s)
        }
        return out
    }

    /// The last member named `key` of an object.
    public func member(_ key: String) -> JSONCMember? {
        members.last { $0.key == key }
    }

    public subscript(key: String) -> JSONCNode? { member(key)?.value }

    /// What kind of value this is, for messages ("an object", "a string", ...).
    public var kindName: String {
        switch kind {
        case .object: return "an object"
        case .array: return "an array"
        case .string: return "a string"
        case .number: return "a number"
        case .bool: return "a boolean"
        case .null: return "null"
        }
    }
}

/// `"key": value` in an object.
public struct JSONCMember: Sendable {
    public var key: String
    /// The key's bytes, quotes included.
    public var keyRange: Range<Int>
    public var value: JSONCNode
}

/// The recursive-descent parser behind `JSONCDocument`.
struct JSONCParser {
    let bytes: [UInt8]
    var i = 0
    var depth = 0
    static let maxDepth = 512

    init(bytes: [UInt8]) {
        self.bytes = bytes
    }

    mutating func parseDocument() throws(JSONCError) -> JSONCNode {
        // Comments may hold any text, but the file is rewritten as text: it must be UTF-8 throughout.
        if let bad = JSONCParser.firstInvalidUTF8(bytes) { throw error("not UTF-8 text (byte 0x\(String(bytes[bad], radix: 16)))", at: bad) }
        if bytes.starts(with: [0xEF, 0xBB, 0xBF]) { i = 3 }
        try skipTrivia()
        guard i < bytes.count else { throw error("the file is empty (expected a JSON value)") }
        let value = try parseValue()
        try skipTrivia()
        if i < bytes.count { throw error("unexpected \(describe(bytes[i])) after the end of the top-level value") }
        return value
    }

    /// The offset of the first byte that does not belong to a well-formed UTF-8 sequence.
    static func firstInvalidUTF8(_ bytes: [UInt8]) -> Int? {
        var k = 0
        while k < bytes.count {
            let b = bytes[k]
            if b < 0x80 {
                k += 1
                continue
            }
            let length: Int
            var low: UInt8 = 0x80, high: UInt8 = 0xBF
            switch b {
            case 0xC2...0xDF: length = 2
            case 0xE0: length = 3; low = 0xA0
            case 0xE1...0xEC, 0xEE, 0xEF: length = 3
            case 0xED: length = 3; high = 0x9F
            case 0xF0: length = 4; low = 0x90
            case 0xF1...0xF3: length = 4
            case 0xF4: length = 4; high = 0x8F
            default: return k
            }
            guard k + length <= bytes.count else { return k }
            guard (low...high).contains(bytes[k + 1]) else { return k }
            for n in 2..<max(2, length) where !(0x80...0xBF).contains(bytes[k + n]) { return k }
            k += length
        }
        return nil
    }

    static func lineAndColumn(_ bytes: [UInt8], _ offset: Int) -> (line: Int, column: Int) {
        var line = 1, start = 0
        var k = 0
        let end = min(offset, bytes.count)
        while k < end {
            if bytes[k] == 0x0A {
                line += 1
                start = k + 1
            }
            k += 1
        }
        // Columns count characters, not bytes: continuation bytes do not start one.
        let column = bytes[start..<end].reduce(1) { $0 + ($1 & 0xC0 == 0x80 ? 0 : 1) }
        return (line, column)
    }

    func error(_ message: String, at offset: Int? = nil) -> JSONCError {
        let (line, column) = JSONCParser.lineAndColumn(bytes, offset ?? i)
        return JSONCError(line: line, column: column, message: message)
    }

    func describe(_ byte: UInt8) -> String {
        switch byte {
        case 0x0A: return "end of line"
        case 0x20...0x7E: return "'\(Character(Unicode.Scalar(byte)))'"
        default: return "byte 0x" + String(byte, radix: 16)
        }
    }

    /// Skips whitespace and comments.
    mutating func skipTrivia() throws(JSONCError) {
        while i < bytes.count {
            switch bytes[i] {
            case 0x20, 0x09, 0x0A, 0x0D:
                i += 1
            case UInt8(ascii: "/") where i + 1 < bytes.count && bytes[i + 1] == UInt8(ascii: "/"):
                while i < bytes.count && bytes[i] != 0x0A { i += 1 }
            case UInt8(ascii: "/") where i + 1 < bytes.count && bytes[i + 1] == UInt8(ascii: "*"):
                let start = i
                i += 2
                while i + 1 < bytes.count && !(bytes[i] == UInt8(ascii: "*") && bytes[i + 1] == UInt8(ascii: "/")) { i += 1 }
                guard i + 1 < bytes.count else { throw error("unterminated /* comment", at: start) }
                i += 2
            default:
                return
            }
        }
    }

    mutating func parseValue() throws(JSONCError) -> JSONCNode {
        guard i < bytes.count else { throw error("unexpected end of file (expected a value)") }
        let start = i
        switch bytes[i] {
        case UInt8(ascii: "{"): return try parseObject()
        case UInt8(ascii: "["): return try parseArray()
        case UInt8(ascii: "\""):
            let s = try parseString()
            return JSONCNode(kind: .string(s), range: start..<i)
        case UInt8(ascii: "-"), UInt8(ascii: "0")...UInt8(ascii: "9"):
            return try parseNumber()
        case UInt8(ascii: "t"): return try literal("true", .bool(true))
        case UInt8(ascii: "f"): return try literal("false", .bool(false))
        case UInt8(ascii: "n"): return try literal("null", .null)
        default:
            throw error("unexpected \(describe(bytes[i])) (expected a value)")
        }
    }

    mutating func literal(_ word: String, _ kind: JSONCNode.Kind) throws(JSONCError) -> JSONCNode {
        let start = i
        let w = Array(word.utf8)
        guard bytes.count - i >= w.count, Array(bytes[i..<i + w.count]) == w else {
            throw error("unexpected \(describe(bytes[i])) (expected a value)")
        }
        i += w.count
        return JSONCNode(kind: kind, range: start..<i)
    }

    mutating func enter() throws(JSONCError) {
        depth += 1
        if depth > JSONCParser.maxDepth { throw error("nested deeper than \(JSONCParser.maxDepth) levels") }
    }

    mutating func parseObject() throws(JSONCError) -> JSONCNode {
        let start = i
        try enter()
        i += 1
        var members: [JSONCMember] = []
        while true {
            try skipTrivia()
            guard i < bytes.count else { throw error("unexpected end of file in the object opened at line \(JSONCParser.lineAndColumn(bytes, start).line) (expected '}')") }
            if bytes[i] == UInt8(ascii: "}") { break }
            guard bytes[i] == UInt8(ascii: "\"") else {
                throw error("unexpected \(describe(bytes[i])) (expected a quoted key or '}')")
            }
            let keyStart = i
            let key = try parseString()
            let keyRange = keyStart..<i
            try skipTrivia()
            guard i < bytes.count, bytes[i] == UInt8(ascii: ":") else {
                throw error(i < bytes.count ? "unexpected \(describe(bytes[i])) after key \"\(key)\" (expected ':')" : "unexpected end of file after key \"\(key)\"")
            }
            i += 1
            try skipTrivia()
            let value = try parseValue()
            members.append(JSONCMember(key: key, keyRange: keyRange, value: value))
            try skipTrivia()
            guard i < bytes.count else { throw error("unexpected end of file in the object opened at line \(JSONCParser.lineAndColumn(bytes, start).line) (expected ',' or '}')") }
            if bytes[i] == UInt8(ascii: ",") {
                i += 1
                continue
            }
            if bytes[i] == UInt8(ascii: "}") { break }
            throw error("unexpected \(describe(bytes[i])) after the value of \"\(key)\" (expected ',' or '}')")
        }
        i += 1
        depth -= 1
        return JSONCNode(kind: .object(members), range: start..<i)
    }

    mutating func parseArray() throws(JSONCError) -> JSONCNode {
        let start = i
        try enter()
        i += 1
        var elements: [JSONCNode] = []
        while true {
            try skipTrivia()
            guard i < bytes.count else { throw error("unexpected end of file in the array opened at line \(JSONCParser.lineAndColumn(bytes, start).line) (expected ']')") }
            if bytes[i] == UInt8(ascii: "]") { break }
            elements.append(try parseValue())
            try skipTrivia()
            guard i < bytes.count else { throw error("unexpected end of file in the array opened at line \(JSONCParser.lineAndColumn(bytes, start).line) (expected ',' or ']')") }
            if bytes[i] == UInt8(ascii: ",") {
                i += 1
                continue
            }
            if bytes[i] == UInt8(ascii: "]") { break }
            throw error("unexpected \(describe(bytes[i])) in an array (expected ',' or ']')")
        }
        i += 1
        depth -= 1
        return JSONCNode(kind: .array(elements), range: start..<i)
    }

    mutating func parseNumber() throws(JSONCError) -> JSONCNode {
        let start = i
        func digits(_ p: inout JSONCParser) -> Int {
            let s = p.i
            while p.i < p.bytes.count, (UInt8(ascii: "0")...UInt8(ascii: "9")).contains(p.bytes[p.i]) { p.i += 1 }
            return p.i - s
        }
        if bytes[i] == UInt8(ascii: "-") { i += 1 }
        guard i < bytes.count, (UInt8(ascii: "0")...UInt8(ascii: "9")).contains(bytes[i]) else { throw error("a number needs a digit here") }
        if bytes[i] == UInt8(ascii: "0") { i += 1 } else { _ = digits(&self) }
        if i < bytes.count, bytes[i] == UInt8(ascii: ".") {
            i += 1
            guard digits(&self) > 0 else { throw error("a number needs a digit after '.'") }
        }
        if i < bytes.count, bytes[i] == UInt8(ascii: "e") || bytes[i] == UInt8(ascii: "E") {
            i += 1
            if i < bytes.count, bytes[i] == UInt8(ascii: "+") || bytes[i] == UInt8(ascii: "-") { i += 1 }
            guard digits(&self) > 0 else { throw error("a number needs a digit in its exponent") }
        }
        return JSONCNode(kind: .number(String(decoding: bytes[start..<i], as: UTF8.self)), range: start..<i)
    }

    /// A quoted string at `i`; leaves `i` past the closing quote.
    mutating func parseString() throws(JSONCError) -> String {
        let start = i
        i += 1
        var out: [UInt8] = []
        while true {
            guard i < bytes.count else { throw error("unterminated string", at: start) }
            let b = bytes[i]
            switch b {
            case UInt8(ascii: "\""):
                i += 1
                // Invalid UTF-8 is refused rather than replaced: the value would change on write.
                guard let s = String(validating: out, as: UTF8.self) else { throw error("a string that is not valid UTF-8", at: start) }
                return s
            case UInt8(ascii: "\\"):
                guard i + 1 < bytes.count else { throw error("unterminated string", at: start) }
                let e = bytes[i + 1]
                i += 2
                switch e {
                case UInt8(ascii: "\""): out.append(0x22)
                case UInt8(ascii: "\\"): out.append(0x5C)
                case UInt8(ascii: "/"): out.append(0x2F)
                case UInt8(ascii: "b"): out.append(0x08)
                case UInt8(ascii: "f"): out.append(0x0C)
                case UInt8(ascii: "n"): out.append(0x0A)
                case UInt8(ascii: "r"): out.append(0x0D)
                case UInt8(ascii: "t"): out.append(0x09)
                case UInt8(ascii: "u"):
                    var scalar = try hex4()
                    if (0xD800...0xDBFF).contains(scalar) {
                        guard i + 1 < bytes.count, bytes[i] == UInt8(ascii: "\\"), bytes[i + 1] == UInt8(ascii: "u") else {
                            throw error("a lone surrogate \\u escape")
                        }
                        i += 2
                        let low = try hex4()
                        guard (0xDC00...0xDFFF).contains(low) else { throw error("a lone surrogate \\u escape") }
                        scalar = 0x10000 + ((scalar - 0xD800) << 10) + (low - 0xDC00)
                    } else if (0xDC00...0xDFFF).contains(scalar) {
                        throw error("a lone surrogate \\u escape")
                    }
                    guard let u = Unicode.Scalar(scalar) else { throw error("an invalid \\u escape") }
                    out.append(contentsOf: Array(String(Character(u)).utf8))
                default:
                    throw error("an invalid escape '\\\(Character(Unicode.Scalar(e)))' in a string", at: i - 2)
                }
            case 0x00..<0x20:
                throw error("a control character (\(b == 0x0A ? "a line break" : "0x" + String(b, radix: 16))) inside a string")
            default:
                out.append(b)
                i += 1
            }
        }
    }

    mutating func hex4() throws(JSONCError) -> UInt32 {
        guard bytes.count - i >= 4 else { throw error("a \\u escape needs four hex digits") }
        var v: UInt32 = 0
        for _ in 0..<4 {
            let c = bytes[i]
            let d: UInt32
            switch c {
            case UInt8(ascii: "0")...UInt8(ascii: "9"): d = UInt32(c - UInt8(ascii: "0"))
            case UInt8(ascii: "a")...UInt8(ascii: "f"): d = UInt32(c - UInt8(ascii: "a") + 10)
            case UInt8(ascii: "A")...UInt8(ascii: "F"): d = UInt32(c - UInt8(ascii: "A") + 10)
            default: throw error("a \\u escape needs four hex digits")
            }
            v = v * 16 + d
            i += 1
        }
        return v
    }
}
