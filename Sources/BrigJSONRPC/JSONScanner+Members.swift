#if canImport(Glibc)
@preconcurrency import Glibc
#endif

/// Reading single members of an object in a line that `MessageView.parse` already accepted,
/// without building its tree and without validating it again.
///
/// The policy reads a handful of members of a request's `params` (the tool's name, the arguments
/// a rule constrains). Decoding every member into a `JSONValue` cost more than deciding, and so
/// did validating the same bytes a second time: here strings are skipped eight bytes at a time
/// and nesting is counted, nothing more. On bytes that are not valid JSON the answers are
/// meaningless but every read stays inside the buffer. The walk is inlinable so that the
/// caller's per-member closure is inlined into it (it runs for every member of every call).
extension JSONScanner {
    /// Calls `body` with each member of the valid object that starts at `start` (its key token
    /// and the byte range of its value), in order, until `body` returns false.
    /// - Throws: when the bytes there are not shaped like an object.
    @inlinable
    public mutating func forEachMember(
        ofValidObjectAt start: Int,
        _ body: (StringToken, Range<Int>) -> Bool
    ) throws(Failure) {
        _ = try forEachMember(ofValidObjectAt: start, stoppingBefore: { _ in false }, body)
    }

    /// As above, but first asks `stop` about each key: when it answers true the walk ends there,
    /// before the value is skipped (a long value the caller will walk itself is then read once),
    /// and the offset where that value starts is returned; nil when the walk went to the end.
    @inlinable
    public mutating func forEachMember(
        ofValidObjectAt start: Int, stoppingBefore stop: (StringToken) -> Bool,
        _ body: (StringToken, Range<Int>) -> Bool
    ) throws(Failure) -> Int? {
        pos = start
        guard pos < end, base[pos] == UInt8(ascii: "{") else { throw .syntax(at: pos) }
        pos += 1
        while true {
            skipValidWhitespace()
            guard pos < end else { throw .syntax(at: pos) }
            if base[pos] == UInt8(ascii: "}") { return nil }
            guard base[pos] == UInt8(ascii: "\"") else { throw .syntax(at: pos) }
            let keyRange = skipValidString()
            let key = StringToken(range: keyRange, escaped: contains(UInt8(ascii: "\\"), in: keyRange))
            skipValidWhitespace()
            guard pos < end, base[pos] == UInt8(ascii: ":") else { throw .syntax(at: pos) }
            pos += 1
            skipValidWhitespace()
            if stop(key) { return pos }
            let value = skipValidValue()
            if !body(key, value) { return nil }
            skipValidWhitespace()
            guard pos < end else { throw .syntax(at: pos) }
            let c = base[pos]
            pos += 1
            if c == UInt8(ascii: "}") { return nil }
            guard c == UInt8(ascii: ",") else { throw .syntax(at: pos - 1) }
        }
    }

    /// The valid value whose bytes are `range`, as a tree. Scalars are decoded from the range
    /// directly; objects and arrays are parsed (and validated) whole.
    public func validValue(_ range: Range<Int>) -> JSONValue? {
        guard let first = range.first else { return nil }
        switch base[first] {
        case UInt8(ascii: "\""):
            guard range.count >= 2, base[range.upperBound - 1] == UInt8(ascii: "\"") else { return nil }
            let escaped = memchr(base + first, Int32(UInt8(ascii: "\\")), range.count) != nil
            return .string(decodeString(StringToken(range: range, escaped: escaped)))
        case UInt8(ascii: "t"): return .bool(true)
        case UInt8(ascii: "f"): return .bool(false)
        case UInt8(ascii: "n"): return .null
        case UInt8(ascii: "{"), UInt8(ascii: "["):
            return try? JSONValue.parse(UnsafeBufferPointer(start: base, count: end), range: range)
        default:
            return .number(text(range))
        }
    }

    /// The string value that starts at `offset` in valid JSON, decoded; nil when no string starts there.
    public func validString(at offset: Int) -> String? {
        guard offset < end, base[offset] == UInt8(ascii: "\"") else { return nil }
        var scanner = self
        scanner.pos = offset
        return validValue(scanner.skipValidString())?.stringValue
    }

    @inlinable @inline(__always)
    mutating func skipValidWhitespace() {
        while pos < end {
            let c = base[pos]
            guard c == 0x20 || c == 0x0A || c == 0x0D || c == 0x09 else { return }
            pos += 1
        }
    }

    /// Skips the valid string at `pos` (on its opening quote) and returns its range, quotes included.
    /// Eight bytes at a time while none is a quote or a backslash.
    @inlinable @inline(__always)
    mutating func skipValidString() -> Range<Int> {
        let start = pos
        var i = pos + 1
        while i < end {
            while end - i >= 8, !JSONScanner.hasQuoteOrBackslash(UnsafeRawPointer(base + i).loadUnaligned(as: UInt64.self)) {
                i += 8
            }
            guard i < end else { break }
            let c = base[i]
            if c == UInt8(ascii: "\"") {
                pos = i + 1
                return start..<pos
            }
            i += c == UInt8(ascii: "\\") ? 2 : 1
        }
        pos = end
        return start..<end
    }

    /// Whether one of the eight bytes is `"` or `\` (SWAR zero-byte test).
    @inlinable @inline(__always)
    static func hasQuoteOrBackslash(_ x: UInt64) -> Bool {
        let ones: UInt64 = 0x0101_0101_0101_0101
        let high: UInt64 = 0x8080_8080_8080_8080
        let quote = x ^ (ones &* 0x22), backslash = x ^ (ones &* 0x5C)
        return ((quote &- ones) & ~quote | (backslash &- ones) & ~backslash) & high != 0
    }

    /// Skips the valid value at `pos` (after whitespace) and returns its range.
    @inlinable @inline(__always)
    mutating func skipValidValue() -> Range<Int> {
        let start = pos
        guard pos < end else { return start..<pos }
        switch base[pos] {
        case UInt8(ascii: "\""):
            _ = skipValidString()
        case UInt8(ascii: "{"), UInt8(ascii: "["):
            var depth = 0
            while pos < end {
                let c = base[pos]
                if c == UInt8(ascii: "\"") {
                    _ = skipValidString()
                    continue
                }
                pos += 1
                if c == UInt8(ascii: "{") || c == UInt8(ascii: "[") {
                    depth += 1
                } else if c == UInt8(ascii: "}") || c == UInt8(ascii: "]") {
                    depth -= 1
                    if depth == 0 { break }
                }
            }
        default:
            // A number or a literal: it ends at a delimiter.
            while pos < end {
                let c = base[pos]
                if c == UInt8(ascii: ",") || c == UInt8(ascii: "}") || c == UInt8(ascii: "]") || c == 0x20 || c == 0x0A
                    || c == 0x0D || c == 0x09
                {
                    break
                }
                pos += 1
            }
        }
        return start..<pos
    }

    /// Whether a key token names `key`, as `JSONValue`'s subscript would decide: Swift string
    /// equality (canonical equivalence), which for ASCII on both sides is byte equality.
    @inlinable @inline(__always)
    public func keyEquals(_ token: StringToken, _ key: KeyBytes) -> Bool {
        if !token.escaped, key.isASCII {
            let inner = token.range.count - 2
            var equal = inner == key.bytes.count
            if equal {
                key.bytes.withUnsafeBufferPointer { k in
                    var i = 0
                    while i < inner, base[token.range.lowerBound + 1 + i] == k[i] { i += 1 }
                    equal = i == inner
                }
            }
            // A non-ASCII key may still be canonically equivalent (U+212A KELVIN SIGN is "K").
            if equal || isASCII(token) { return equal }
        }
        return decodeString(token) == key.text
    }

    /// Whether a string token's bytes are all ASCII.
    @inlinable @inline(__always)
    public func isASCII(_ token: StringToken) -> Bool {
        var i = token.range.lowerBound
        while i < token.range.upperBound {
            if base[i] > 0x7F { return false }
            i += 1
        }
        return true
    }

    /// Whether `byte` occurs in `range` (a short range: a loop beats a call to memchr).
    @inlinable @inline(__always)
    func contains(_ byte: UInt8, in range: Range<Int>) -> Bool {
        var i = range.lowerBound
        while i < range.upperBound {
            if base[i] == byte { return true }
            i += 1
        }
        return false
    }

    /// Whether an unescaped key token is exactly `key` (ASCII).
    @inlinable @inline(__always)
    public func keyIs(_ token: StringToken, _ key: StaticString) -> Bool {
        let n = key.utf8CodeUnitCount
        guard !token.escaped, token.range.count == n + 2 else { return false }
        let k = key.utf8Start
        var i = 0
        while i < n, base[token.range.lowerBound + 1 + i] == k[i] { i += 1 }
        return i == n
    }

    /// A key to look for, with its bytes ready for comparison.
    public struct KeyBytes: Sendable {
        public let text: String
        @usableFromInline let bytes: [UInt8]
        @usableFromInline let isASCII: Bool

        public init(_ text: String) {
            self.text = text
            bytes = Array(text.utf8)
            isASCII = bytes.allSatisfy { $0 < 0x80 }
        }
    }
}
