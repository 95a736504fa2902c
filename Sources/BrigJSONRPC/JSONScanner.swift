/// A validating, allocation-free JSON scanner over one line of bytes.
///
/// brig parses every message in both directions, so the scanner reads each byte once, builds no
/// tree, and only remembers where things are. It checks the whole RFC 8259 grammar, UTF-8 inside
/// strings, and a nesting limit (deep input must not exhaust the stack). Values that later layers
/// need as Swift values are decoded on demand from the byte ranges it reports.
public struct JSONScanner {
    public enum Failure: Error, Equatable, Sendable {
        /// Not JSON: the offset of the first byte that is wrong (or the end, when truncated).
        case syntax(at: Int)
        /// A string holds bytes that are not UTF-8.
        case invalidUTF8(at: Int)
        /// Nesting deeper than `maximumDepth`.
        case tooDeep(at: Int)
    }

    /// Deep enough for any real schema; shallow enough for a 512 KiB thread stack.
    public static let maximumDepth = 256

    @usableFromInline let base: UnsafePointer<UInt8>
    @usableFromInline let end: Int
    @usableFromInline var pos: Int

    public init(_ bytes: UnsafeBufferPointer<UInt8>) {
        // An empty buffer may have a nil base; point at a static byte so reads stay in bounds.
        self.base = bytes.baseAddress ?? JSONScanner.emptyByte
        self.end = bytes.count
        self.pos = 0
    }

    nonisolated(unsafe) private static let emptyByte: UnsafePointer<UInt8> = {
        let p = UnsafeMutablePointer<UInt8>.allocate(capacity: 1)
        p.initialize(to: 0)
        return UnsafePointer(p)
    }()

    public var offset: Int { pos }
    public var atEnd: Bool { pos >= end }

    @inline(__always) public func peek() -> UInt8? { pos < end ? base[pos] : nil }

    @inline(__always) public mutating func skipWhitespace() {
        while pos < end {
            let c = base[pos]
            if c == 0x20 || c == 0x0A || c == 0x0D || c == 0x09 { pos += 1 } else { break }
        }
    }

    /// Consumes `c` after optional whitespace, or fails.
    @inline(__always) public mutating func expect(_ c: UInt8) throws(Failure) {
        skipWhitespace()
        guard pos < end, base[pos] == c else { throw .syntax(at: pos) }
        pos += 1
    }

    /// Skips an object (`members`: each a key, a colon and a value) or an array, from its opening
    /// bracket at `start` to its `closing` one, validating it; returns its byte range.
    @inline(__always)
    private mutating func skipContainer(from start: Int, closing: UInt8, members: Bool, depth: Int) throws(Failure) -> Range<Int> {
        guard depth < JSONScanner.maximumDepth else { throw .tooDeep(at: pos) }
        pos += 1
        skipWhitespace()
        if pos < end, base[pos] == closing {
            pos += 1
            return start..<pos
        }
        while true {
            if members {
                skipWhitespace()
                _ = try scanString()
                try expect(UInt8(ascii: ":"))
            }
            _ = try skipValue(depth: depth + 1)
            skipWhitespace()
            guard pos < end else { throw .syntax(at: pos) }
            let c = base[pos]
            pos += 1
            if c == UInt8(ascii: ",") { continue }
            if c == closing { return start..<pos }
            throw .syntax(at: pos - 1)
        }
    }

    /// Skips one complete value, validating it; returns its byte range.
    public mutating func skipValue(depth: Int = 0) throws(Failure) -> Range<Int> {
        skipWhitespace()
        let start = pos
        guard pos < end else { throw .syntax(at: pos) }
        switch base[pos] {
        case UInt8(ascii: "{"):
            return try skipContainer(from: start, closing: UInt8(ascii: "}"), members: true, depth: depth)
        case UInt8(ascii: "["):
            return try skipContainer(from: start, closing: UInt8(ascii: "]"), members: false, depth: depth)
        case UInt8(ascii: "\""):
            return try scanString().range
        case UInt8(ascii: "t"):
            try literal("true")
        case UInt8(ascii: "f"):
            try literal("false")
        case UInt8(ascii: "n"):
            try literal("null")
        default:
            try scanNumber()
        }
        return start..<pos
    }

    @inline(__always) private mutating func literal(_ word: StaticString) throws(Failure) {
        let n = word.utf8CodeUnitCount
        guard end - pos >= n else { throw .syntax(at: pos) }
        let w = word.utf8Start
        for i in 0..<n where base[pos + i] != w[i] { throw .syntax(at: pos + i) }
        pos += n
    }

    private mutating func scanNumber() throws(Failure) {
        if pos < end, base[pos] == UInt8(ascii: "-") { pos += 1 }
        guard pos < end else { throw .syntax(at: pos) }
        if base[pos] == UInt8(ascii: "0") {
            pos += 1
        } else if base[pos] >= UInt8(ascii: "1") && base[pos] <= UInt8(ascii: "9") {
            while pos < end, base[pos] >= 0x30 && base[pos] <= 0x39 { pos += 1 }
        } else {
            throw .syntax(at: pos)
        }
        if pos < end, base[pos] == UInt8(ascii: ".") {
            pos += 1
            let digits = pos
            while pos < end, base[pos] >= 0x30 && base[pos] <= 0x39 { pos += 1 }
            guard pos > digits else { throw .syntax(at: pos) }
        }
        if pos < end, base[pos] == UInt8(ascii: "e") || base[pos] == UInt8(ascii: "E") {
            pos += 1
            if pos < end, base[pos] == UInt8(ascii: "+") || base[pos] == UInt8(ascii: "-") { pos += 1 }
            let digits = pos
            while pos < end, base[pos] >= 0x30 && base[pos] <= 0x39 { pos += 1 }
            guard pos > digits else { throw .syntax(at: pos) }
        }
    }

    /// A scanned string: the range includes the quotes; `escaped` says whether decoding is needed.
    public struct StringToken: Sendable {
        public var range: Range<Int>
        public var escaped: Bool

        @inlinable
        public init(range: Range<Int>, escaped: Bool) {
            self.range = range
            self.escaped = escaped
        }
    }

    /// Scans a string at the current position, validating escapes, control bytes and UTF-8.
    public mutating func scanString() throws(Failure) -> StringToken {
        guard pos < end, base[pos] == UInt8(ascii: "\"") else { throw .syntax(at: pos) }
        let start = pos
        pos += 1
        var escaped = false
        while pos < end {
            // Fast path: eight plain ASCII bytes at a time (no quote, backslash, control or
            // non-ASCII byte), which is most of any large text payload.
            while end - pos >= 8 {
                let word = UnsafeRawPointer(base + pos).loadUnaligned(as: UInt64.self)
                if JSONScanner.isPlainASCII(word) { pos += 8 } else { break }
            }
            guard pos < end else { break }
            let c = base[pos]
            if c == UInt8(ascii: "\"") {
                pos += 1
                return StringToken(range: start..<pos, escaped: escaped)
            }
            if c == UInt8(ascii: "\\") {
                escaped = true
                pos += 1
                guard pos < end else { throw .syntax(at: pos) }
                switch base[pos] {
                case UInt8(ascii: "\""), UInt8(ascii: "\\"), UInt8(ascii: "/"), UInt8(ascii: "b"),
                    UInt8(ascii: "f"), UInt8(ascii: "n"), UInt8(ascii: "r"), UInt8(ascii: "t"):
                    pos += 1
                case UInt8(ascii: "u"):
                    guard end - pos > 4 else { throw .syntax(at: end) }
                    // Unrolled: a text written all in escapes spends its time here.
                    guard JSONScanner.isHex(base[pos + 1]), JSONScanner.isHex(base[pos + 2]),
                        JSONScanner.isHex(base[pos + 3]), JSONScanner.isHex(base[pos + 4])
                    else {
                        for i in 1...4 where !JSONScanner.isHex(base[pos + i]) { throw .syntax(at: pos + i) }
                        throw .syntax(at: pos)
                    }
                    pos += 5
                default:
                    throw .syntax(at: pos)
                }
                continue
            }
            if c < 0x20 { throw .syntax(at: pos) }
            if c < 0x80 {
                pos += 1
                continue
            }
            try validateUTF8Sequence()
        }
        throw .syntax(at: pos)
    }

    /// True when none of the eight bytes is `"`, `\`, below 0x20 or above 0x7F (SWAR test).
    @inline(__always) static func isPlainASCII(_ x: UInt64) -> Bool {
        let ones: UInt64 = 0x0101_0101_0101_0101
        let high: UInt64 = 0x8080_8080_8080_8080
        @inline(__always) func hasZeroByte(_ v: UInt64) -> Bool { (v &- ones) & ~v & high != 0 }
        if x & high != 0 { return false }
        if (x &- ones &* 0x20) & high != 0 { return false }  // a byte < 0x20 (x has no high bits here)
        if hasZeroByte(x ^ (ones &* 0x22)) { return false }
        if hasZeroByte(x ^ (ones &* 0x5C)) { return false }
        return true
    }

    /// Validates one multi-byte UTF-8 sequence at `pos` (RFC 3629: no overlongs, no surrogates).
    @inline(__always) private mutating func validateUTF8Sequence() throws(Failure) {
        let c = base[pos]
        let at = pos
        // The sequence's length, and the range its second byte must fall in (narrower than
        // 0x80...0xBF after E0, ED, F0 and F4: overlongs, surrogates, beyond U+10FFFF).
        let (length, low, high): (Int, UInt8, UInt8)
        switch c {
        case 0xC2...0xDF: (length, low, high) = (2, 0x80, 0xBF)
        case 0xE0: (length, low, high) = (3, 0xA0, 0xBF)
        case 0xED: (length, low, high) = (3, 0x80, 0x9F)
        case 0xE1...0xEF: (length, low, high) = (3, 0x80, 0xBF)
        case 0xF0: (length, low, high) = (4, 0x90, 0xBF)
        case 0xF4: (length, low, high) = (4, 0x80, 0x8F)
        case 0xF1...0xF3: (length, low, high) = (4, 0x80, 0xBF)
        default: throw .invalidUTF8(at: at)
        }
        guard at + length <= end, low...high ~= base[at + 1] else { throw .invalidUTF8(at: at) }
        for i in 2..<length where base[at + i] & 0xC0 != 0x80 { throw .invalidUTF8(at: at) }
        pos += length
    }

    /// Whether `c` is an ASCII hex digit.
    @inline(__always) static func isHex(_ c: UInt8) -> Bool {
        (c &- 0x30) < 10 || ((c | 0x20) &- 0x61) < 6
    }

    /// Whether the string token equals `key` exactly (unescaped tokens only: fast path).
    @inline(__always) public func tokenEquals(_ token: StringToken, _ key: StaticString) -> Bool {
        let n = key.utf8CodeUnitCount
        guard !token.escaped, token.range.count == n + 2 else { return false }
        return memcmp(base + token.range.lowerBound + 1, key.utf8Start, n) == 0
    }

    /// Decodes a scanned string token into a Swift string.
    public func decodeString(_ token: StringToken) -> String {
        let inner = UnsafeBufferPointer(start: base + token.range.lowerBound + 1, count: token.range.count - 2)
        if !token.escaped { return String(decoding: inner, as: UTF8.self) }
        return JSONScanner.unescape(inner)
    }

    /// Decodes the body of an escaped JSON string (already validated).
    static func unescape(_ inner: UnsafeBufferPointer<UInt8>) -> String {
        var out: [UInt8] = []
        JSONEscapes.unescape(inner, into: &out)
        return String(decoding: out, as: UTF8.self)
    }
}

#if canImport(Glibc)
@preconcurrency import Glibc
#endif
