import BrigJSONRPC

#if canImport(Glibc)
import Glibc
#endif

/// Appends one JSON object member by member to a byte buffer (no Foundation, no dictionaries):
/// the fastest way to write a record on this toolchain (see docs/style.md §3.5).
struct ObjectWriter {
    var out: [UInt8]
    /// One flag per open object/array: whether a member was already written.
    private var started: [Bool] = []

    init(capacity: Int = 512) {
        out = []
        out.reserveCapacity(capacity)
    }

    private mutating func separator() {
        if let last = started.last {
            if last { out.append(UInt8(ascii: ",")) }
            started[started.count - 1] = true
        }
    }

    private mutating func key(_ k: StaticString) {
        separator()
        out.append(UInt8(ascii: "\""))
        k.withUTF8Buffer { out.append(contentsOf: $0) }
        out.append(UInt8(ascii: "\""))
        out.append(UInt8(ascii: ":"))
    }

    mutating func keyString(_ k: String) {
        separator()
        appendJSONString(k, to: &out)
        out.append(UInt8(ascii: ":"))
    }

    mutating func beginObject() {
        separator()
        out.append(UInt8(ascii: "{"))
        started.append(false)
    }

    mutating func beginObject(_ k: StaticString) {
        key(k)
        out.append(UInt8(ascii: "{"))
        started.append(false)
    }

    mutating func endObject() {
        out.append(UInt8(ascii: "}"))
        started.removeLast()
    }

    mutating func beginArray(_ k: StaticString) {
        key(k)
        out.append(UInt8(ascii: "["))
        started.append(false)
    }

    mutating func endArray() {
        out.append(UInt8(ascii: "]"))
        started.removeLast()
    }

    mutating func string(_ k: StaticString, _ v: String) {
        key(k)
        appendJSONString(v, to: &out)
    }

    mutating func string(_ k: StaticString, _ v: String?) {
        if let v { string(k, v) }
    }

    mutating func element(_ v: String) {
        separator()
        appendJSONString(v, to: &out)
    }

    mutating func element(_ v: UInt64) {
        separator()
        appendDecimal(v)
    }

    mutating func int<T: BinaryInteger>(_ k: StaticString, _ v: T) {
        key(k)
        if v < 0 {
            out.append(UInt8(ascii: "-"))
            appendDecimal(UInt64(-Int64(v)))
        } else {
            appendDecimal(UInt64(v))
        }
    }

    mutating func bool(_ k: StaticString, _ v: Bool) {
        key(k)
        out.append(contentsOf: v ? [0x74, 0x72, 0x75, 0x65] : [0x66, 0x61, 0x6C, 0x73, 0x65])
    }

    mutating func value(_ k: StaticString, _ v: JSONValue) {
        key(k)
        appendJSONValue(v, to: &out)
    }

    mutating func member(_ k: String, _ v: JSONValue) {
        keyString(k)
        appendJSONValue(v, to: &out)
    }

    /// A member whose value is raw JSON text (valid, from the scanner).
    mutating func member(rawName k: String, _ bytes: [UInt8]) {
        keyString(k)
        out.append(contentsOf: bytes)
    }

    /// Raw JSON text (must be valid JSON).
    mutating func raw(_ k: StaticString, _ bytes: [UInt8]) {
        key(k)
        out.append(contentsOf: bytes)
    }

    mutating func strings(_ k: StaticString, _ values: [String]) {
        beginArray(k)
        for v in values { element(v) }
        endArray()
    }

    private mutating func appendDecimal(_ v: UInt64) {
        if v < 10 {
            out.append(0x30 + UInt8(v))
            return
        }
        var digits: (UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8,
                     UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8) =
            (0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0)
        var n = v, count = 0
        withUnsafeMutableBytes(of: &digits) { buf in
            while n > 0 {
                buf[19 - count] = 0x30 + UInt8(n % 10)
                n /= 10
                count += 1
            }
            out.append(contentsOf: buf[(20 - count)...])
        }
    }
}

/// Appends `s` as a JSON string literal, escaped as `JSONWriter.appendString` does, copying
/// runs that need no escaping in one go.
func appendJSONString(_ s: String, to out: inout [UInt8]) {
    var s = s
    s.withUTF8 { buf in
        out.append(0x22)
        var run = 0
        for i in 0..<buf.count {
            let b = buf[i]
            guard b < 0x20 || b == 0x22 || b == 0x5C || b == 0x7F else { continue }
            if run < i { out.append(contentsOf: UnsafeBufferPointer(rebasing: buf[run..<i])) }
            switch b {
            case 0x22: out.append(contentsOf: [0x5C, 0x22])
            case 0x5C: out.append(contentsOf: [0x5C, 0x5C])
            case 0x0A: out.append(contentsOf: [0x5C, UInt8(ascii: "n")])
            case 0x0D: out.append(contentsOf: [0x5C, UInt8(ascii: "r")])
            case 0x09: out.append(contentsOf: [0x5C, UInt8(ascii: "t")])
            default:
                out.append(contentsOf: [0x5C, UInt8(ascii: "u"), 0x30, 0x30, hexDigits[Int(b >> 4)], hexDigits[Int(b & 0xF)]])
            }
            run = i + 1
        }
        if run < buf.count { out.append(contentsOf: UnsafeBufferPointer(rebasing: buf[run...])) }
        out.append(0x22)
    }
}

/// Compact JSON text of `v` (as `JSONValue.write(to:)`, with the faster string escaping).
func appendJSONValue(_ v: JSONValue, to out: inout [UInt8]) {
    switch v {
    case .string(let s): appendJSONString(s, to: &out)
    case .array(let items):
        out.append(UInt8(ascii: "["))
        for (i, item) in items.enumerated() {
            if i > 0 { out.append(UInt8(ascii: ",")) }
            appendJSONValue(item, to: &out)
        }
        out.append(UInt8(ascii: "]"))
    case .object(let members):
        out.append(UInt8(ascii: "{"))
        for (i, (key, value)) in members.enumerated() {
            if i > 0 { out.append(UInt8(ascii: ",")) }
            appendJSONString(key, to: &out)
            out.append(UInt8(ascii: ":"))
            appendJSONValue(value, to: &out)
        }
        out.append(UInt8(ascii: "}"))
    default: v.write(to: &out)
    }
}

/// Microseconds since the epoch, UTC.
func nowMicros() -> Int64 {
    var ts = timespec()
    clock_gettime(CLOCK_REALTIME, &ts)
    return Int64(ts.tv_sec) * 1_000_000 + Int64(ts.tv_nsec / 1000)
}

func monotonicMicros() -> UInt64 {
    var ts = timespec()
    clock_gettime(CLOCK_MONOTONIC, &ts)
    return UInt64(ts.tv_sec) * 1_000_000 + UInt64(ts.tv_nsec / 1000)
}

/// `2026-11-25T19:40:41.123456Z`.
func formatTimestamp(_ micros: Int64) -> String {
    var secs = micros / 1_000_000
    var frac = micros % 1_000_000
    if frac < 0 { frac += 1_000_000; secs -= 1 }
    var days = secs / 86400
    var rem = secs % 86400
    if rem < 0 { rem += 86400; days -= 1 }
    // Civil from days (Howard Hinnant's algorithm).
    let z = days + 719_468
    let era = (z >= 0 ? z : z - 146_096) / 146_097
    let doe = z - era * 146_097
    let yoe = (doe - doe / 1460 + doe / 36524 - doe / 146_096) / 365
    var y = yoe + era * 400
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100)
    let mp = (5 * doy + 2) / 153
    let d = doy - (153 * mp + 2) / 5 + 1
    let m = mp < 10 ? mp + 3 : mp - 9
    if m <= 2 { y += 1 }
    var out: [UInt8] = []
    out.reserveCapacity(27)
    func pad(_ v: Int64, _ width: Int) {
        var digits: [UInt8] = []
        var n = v
        for _ in 0..<width { digits.append(0x30 + UInt8(n % 10)); n /= 10 }
        out.append(contentsOf: digits.reversed())
    }
    pad(y, 4); out.append(UInt8(ascii: "-")); pad(m, 2); out.append(UInt8(ascii: "-")); pad(d, 2)
    out.append(UInt8(ascii: "T"))
    pad(rem / 3600, 2); out.append(UInt8(ascii: ":")); pad(rem / 60 % 60, 2); out.append(UInt8(ascii: ":")); pad(rem % 60, 2)
    out.append(UInt8(ascii: ".")); pad(frac, 6); out.append(UInt8(ascii: "Z"))
    return String(decoding: out, as: UTF8.self)
}

/// Parses `2026-11-25T19:40:41.123456Z` (or without fraction, or a date `2026-11-25`) to microseconds.
public func parseTimestamp(_ text: String) -> Int64? {
    let b = Array(text.utf8)
    func num(_ start: Int, _ len: Int) -> Int64? {
        guard start + len <= b.count else { return nil }
        var v: Int64 = 0
        for i in start..<(start + len) {
            guard b[i] >= 0x30, b[i] <= 0x39 else { return nil }
            v = v * 10 + Int64(b[i] - 0x30)
        }
        return v
    }
    guard b.count >= 10, let y = num(0, 4), let mo = num(5, 2), let d = num(8, 2) else { return nil }
    var h: Int64 = 0, mi: Int64 = 0, s: Int64 = 0, frac: Int64 = 0
    if b.count > 10 {
        guard b.count >= 19, let hh = num(11, 2), let mm = num(14, 2), let ss = num(17, 2) else { return nil }
        h = hh; mi = mm; s = ss
        var i = 19
        if i < b.count, b[i] == UInt8(ascii: ".") {
            i += 1
            var digits = 0
            while i < b.count, b[i] >= 0x30, b[i] <= 0x39 {
                if digits < 6 { frac = frac * 10 + Int64(b[i] - 0x30); digits += 1 }
                i += 1
            }
            while digits < 6 { frac *= 10; digits += 1 }
        }
    }
    // Days from civil.
    let yy = mo <= 2 ? y - 1 : y
    let era = (yy >= 0 ? yy : yy - 399) / 400
    let yoe = yy - era * 400
    let doy = (153 * (mo > 2 ? mo - 3 : mo + 9) + 2) / 5 + d - 1
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy
    let days = era * 146_097 + doe - 719_468
    return ((days * 86400 + h * 3600 + mi * 60 + s) * 1_000_000) + frac
}

let hexDigits: [UInt8] = Array("0123456789abcdef".utf8)

func hex<S: Sequence>(_ bytes: S) -> String where S.Element == UInt8 {
    var out: [UInt8] = []
    for b in bytes {
        out.append(hexDigits[Int(b >> 4)])
        out.append(hexDigits[Int(b & 0xF)])
    }
    return String(decoding: out, as: UTF8.self)
}

func unhex(_ text: Substring.UTF8View) -> [UInt8]? {
    guard text.count % 2 == 0 else { return nil }
    var out: [UInt8] = []
    out.reserveCapacity(text.count / 2)
    var hi: UInt8 = 0, odd = false
    for c in text {
        let v: UInt8
        switch c {
        case 0x30...0x39: v = c - 0x30
        case 0x61...0x66: v = c - 0x61 + 10
        case 0x41...0x46: v = c - 0x41 + 10
        default: return nil
        }
        if odd { out.append(hi << 4 | v) } else { hi = v }
        odd.toggle()
    }
    return out
}

func unhex(_ text: String) -> [UInt8]? { unhex(Substring(text).utf8) }
