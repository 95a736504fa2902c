/// A plain RFC 8259 recognizer written for the fuzzer, independent of `JSONScanner` (no SWAR
/// fast path, UTF-8 checked by the standard library): where the two disagree, one of them is
/// wrong. It reports the deepest nesting so the caller can allow for the scanner's depth limit.
struct ReferenceJSON {
    let bytes: UnsafeBufferPointer<UInt8>
    var pos = 0
    var deepest = 0

    /// Whether `bytes` is one JSON text (a value with optional whitespace around it).
    static func validate(_ bytes: UnsafeBufferPointer<UInt8>) -> (valid: Bool, depth: Int) {
        var r = ReferenceJSON(bytes: bytes)
        let ok =
            r.value(depth: 0)
            && {
                r.whitespace(); return r.pos == bytes.count
            }()
        return (ok, r.deepest)
    }

    private var current: UInt8? { pos < bytes.count ? bytes[pos] : nil }

    private mutating func whitespace() {
        while let c = current, c == 0x20 || c == 0x09 || c == 0x0A || c == 0x0D { pos += 1 }
    }

    private mutating func consume(_ c: UInt8) -> Bool {
        whitespace()
        guard current == c else { return false }
        pos += 1
        return true
    }

    private mutating func value(depth: Int) -> Bool {
        whitespace()
        // Past the scanner's limit the answer is known (too deep); stop before the stack is.
        guard let c = current, depth <= 300 else { return false }
        switch c {
        case UInt8(ascii: "{"):
            deepest = max(deepest, depth + 1)
            pos += 1
            if consume(UInt8(ascii: "}")) { return true }
            repeat {
                whitespace()
                guard string(), consume(UInt8(ascii: ":")), value(depth: depth + 1) else { return false }
            } while consume(UInt8(ascii: ","))
            return consume(UInt8(ascii: "}"))
        case UInt8(ascii: "["):
            deepest = max(deepest, depth + 1)
            pos += 1
            if consume(UInt8(ascii: "]")) { return true }
            repeat {
                guard value(depth: depth + 1) else { return false }
            } while consume(UInt8(ascii: ","))
            return consume(UInt8(ascii: "]"))
        case UInt8(ascii: "\""): return string()
        case UInt8(ascii: "t"): return word("true")
        case UInt8(ascii: "f"): return word("false")
        case UInt8(ascii: "n"): return word("null")
        default: return number()
        }
    }

    private mutating func word(_ w: String) -> Bool {
        for b in w.utf8 {
            guard current == b else { return false }
            pos += 1
        }
        return true
    }

    private mutating func digits() -> Int {
        var n = 0
        while let c = current, c >= 0x30, c <= 0x39 { pos += 1; n += 1 }
        return n
    }

    private mutating func number() -> Bool {
        if current == UInt8(ascii: "-") { pos += 1 }
        if current == UInt8(ascii: "0") { pos += 1 } else if digits() == 0 { return false }
        if current == UInt8(ascii: ".") {
            pos += 1
            guard digits() > 0 else { return false }
        }
        if current == UInt8(ascii: "e") || current == UInt8(ascii: "E") {
            pos += 1
            if current == UInt8(ascii: "+") || current == UInt8(ascii: "-") { pos += 1 }
            guard digits() > 0 else { return false }
        }
        return true
    }

    private mutating func string() -> Bool {
        guard current == UInt8(ascii: "\"") else { return false }
        pos += 1
        var raw: [UInt8] = []
        while let c = current {
            pos += 1
            switch c {
            case UInt8(ascii: "\""):
                return String(validating: raw, as: UTF8.self) != nil
            case UInt8(ascii: "\\"):
                guard let e = current else { return false }
                pos += 1
                // The escape's own bytes are ASCII in the raw text: kept, so that raw bytes on
                // either side of it are not read as one UTF-8 sequence (e6 9c \\ ac is not 本).
                raw.append(c)
                raw.append(e)
                if e == UInt8(ascii: "u") {
                    for _ in 0..<4 {
                        guard let h = current, h.isHexDigit else { return false }
                        raw.append(h)
                        pos += 1
                    }
                } else if !"\"\\/bfnrt".utf8.contains(e) {
                    return false
                }
            case 0x00..<0x20:
                return false
            default:
                raw.append(c)
            }
        }
        return false
    }
}

extension UInt8 {
    var isHexDigit: Bool { (0x30...0x39).contains(self) || (0x41...0x46).contains(self) || (0x61...0x66).contains(self) }
}
