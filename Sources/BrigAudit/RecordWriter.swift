import BrigJSONRPC
import BrigSystem

#if canImport(Glibc)
import Glibc
#endif

/// Appends one JSON object member by member to a byte buffer (no Foundation, no dictionaries):
/// the fastest way to write a record on this toolchain (see docs/style.md §3.5). One writer is
/// reused for every record of a batch (`reset` keeps the buffer), so a record allocates nothing.
struct ObjectWriter {
    let out: ByteBuffer
    /// Open objects/arrays, and one bit per level: whether that level has a member already.
    private var depth = 0
    private var hasMember: UInt64 = 0

    init(capacity: Int = 512) {
        out = ByteBuffer(capacity: capacity)
    }

    /// Empties the writer, keeping its buffer.
    mutating func reset() {
        out.removeAll()
        depth = 0
        hasMember = 0
    }

    @inline(__always)
    private mutating func separator() {
        if markMember() { out.append(UInt8(ascii: ",")) }
    }

    /// Notes a member at the current level; true when it is not the first (a comma goes first).
    @inline(__always)
    private mutating func markMember() -> Bool {
        guard depth > 0 else { return false }
        let bit: UInt64 = 1 << UInt64(depth - 1)
        defer { hasMember |= bit }
        return hasMember & bit != 0
    }

    @inline(__always)
    private mutating func open(_ bracket: UInt8) {
        out.append(bracket)
        precondition(depth < 64, "record nesting too deep")
        depth += 1
        hasMember &= ~(1 << UInt64(depth - 1))
    }

    @inline(__always)
    private mutating func close(_ bracket: UInt8) {
        out.append(bracket)
        depth -= 1
    }

    /// A literal's bytes straight from its pointer: `StaticString.withUTF8Buffer` costs a call
    /// per use, and a record has about twenty keys. (A one-scalar literal may have no pointer.)
    @inline(__always)
    private mutating func appendStatic(_ s: StaticString) {
        if s.hasPointerRepresentation {
            out.append(contentsOf: UnsafeRawBufferPointer(start: s.utf8Start, count: s.utf8CodeUnitCount))
        } else {
            s.withUTF8Buffer { out.append(contentsOf: UnsafeRawBufferPointer($0)) }
        }
    }

    /// `,"k":` (the comma when the object has a member already), with one capacity check.
    private mutating func key(_ k: StaticString) {
        let comma = markMember()
        if k.hasPointerRepresentation {
            out.appendKey(UnsafeRawBufferPointer(start: k.utf8Start, count: k.utf8CodeUnitCount), comma: comma)
        } else {
            k.withUTF8Buffer { out.appendKey(UnsafeRawBufferPointer($0), comma: comma) }
        }
    }

    /// Appends JSON text made in advance that opens and closes nothing (the writer's state is
    /// unchanged): the members of a record part that is the same in every record of its kind.
    mutating func text(_ s: StaticString) { appendStatic(s) }

    /// Appends an unsigned integer's digits (the value of a member `text` has just keyed).
    mutating func digits(_ v: UInt64) { appendDecimal(v) }

    /// `"k":{` followed by `members`, JSON members made in advance; the object stays open.
    mutating func beginObject(_ k: StaticString, members: [UInt8]) {
        key(k)
        open(UInt8(ascii: "{"))
        guard !members.isEmpty else { return }
        out.append(contentsOf: members)
        hasMember |= 1 << UInt64(depth - 1)
    }

    mutating func keyString(_ k: String) {
        separator()
        appendJSONString(k, to: out)
        out.append(UInt8(ascii: ":"))
    }

    mutating func beginObject() {
        separator()
        open(UInt8(ascii: "{"))
    }

    mutating func beginObject(_ k: StaticString) {
        key(k)
        open(UInt8(ascii: "{"))
    }

    mutating func endObject() { close(UInt8(ascii: "}")) }

    mutating func beginArray(_ k: StaticString) {
        key(k)
        open(UInt8(ascii: "["))
    }

    mutating func endArray() { close(UInt8(ascii: "]")) }

    mutating func string(_ k: StaticString, _ v: String) {
        key(k)
        appendJSONString(v, to: out)
    }

    mutating func string(_ k: StaticString, _ v: String?) {
        if let v { string(k, v) }
    }

    /// A string member whose value is a literal that needs no escaping.
    mutating func string(_ k: StaticString, literal v: StaticString) {
        key(k)
        out.append(UInt8(ascii: "\""))
        appendStatic(v)
        out.append(UInt8(ascii: "\""))
    }

    /// A string member whose value is bytes that need no escaping (hex digits, an id).
    mutating func string(_ k: StaticString, plain bytes: [UInt8]) {
        key(k)
        out.append(UInt8(ascii: "\""))
        out.append(contentsOf: bytes)
        out.append(UInt8(ascii: "\""))
    }

    /// A string member holding the hex digits of `bytes`.
    mutating func hexString(_ k: StaticString, _ bytes: [UInt8]) {
        key(k)
        out.append(UInt8(ascii: "\""))
        bytes.withUnsafeBytes { out.appendHex($0) }
        out.append(UInt8(ascii: "\""))
    }

    /// `"k":["v"]` for a literal `v`.
    mutating func strings(_ k: StaticString, literal v: StaticString) {
        key(k)
        out.append(contentsOf: [UInt8(ascii: "["), UInt8(ascii: "\"")])
        appendStatic(v)
        out.append(contentsOf: [UInt8(ascii: "\""), UInt8(ascii: "]")])
    }

    /// `"k":"2026-11-25T19:40:41.123456Z"`.
    mutating func timestamp(_ k: StaticString, _ micros: Int64, _ clock: inout TimestampText) {
        key(k)
        out.append(UInt8(ascii: "\""))
        clock.append(micros, to: out)
        out.append(UInt8(ascii: "\""))
    }

    mutating func element(_ v: String) {
        separator()
        appendJSONString(v, to: out)
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
        if v { appendStatic("true") } else { appendStatic("false") }
    }

    mutating func value(_ k: StaticString, _ v: JSONValue) {
        key(k)
        appendJSONValue(v, to: out)
    }

    mutating func member(_ k: String, _ v: JSONValue) {
        keyString(k)
        appendJSONValue(v, to: out)
    }

    /// A member whose value is raw JSON text (valid, from the scanner).
    mutating func raw(_ k: StaticString, _ bytes: UnsafeBufferPointer<UInt8>) {
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
        var digits:
            (
                UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8,
                UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8
            ) =
                (0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0)
        var n = v, count = 0
        withUnsafeMutableBytes(of: &digits) { buf in
            while n > 0 {
                buf[19 - count] = 0x30 + UInt8(n % 10)
                n /= 10
                count += 1
            }
            out.append(contentsOf: UnsafeRawBufferPointer(rebasing: buf[(20 - count)...]))
        }
    }
}

/// Appends `s` as a JSON string literal, escaped as `JSONWriter.appendString` does, copying
/// runs that need no escaping in one go.
func appendJSONString(_ s: String, to out: ByteBuffer) {
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
                out.append(contentsOf: [0x5C, UInt8(ascii: "u"), 0x30, 0x30, Hex.digits[Int(b >> 4)], Hex.digits[Int(b & 0xF)]])
            }
            run = i + 1
        }
        if run < buf.count { out.append(contentsOf: UnsafeBufferPointer(rebasing: buf[run...])) }
        out.append(0x22)
    }
}

/// Compact JSON text of `v` (as `JSONValue.write(to:)`, with the faster string escaping).
func appendJSONValue(_ v: JSONValue, to out: ByteBuffer) {
    switch v {
    case .string(let s): appendJSONString(s, to: out)
    case .array(let items):
        out.append(UInt8(ascii: "["))
        for (i, item) in items.enumerated() {
            if i > 0 { out.append(UInt8(ascii: ",")) }
            appendJSONValue(item, to: out)
        }
        out.append(UInt8(ascii: "]"))
    case .object(let members):
        out.append(UInt8(ascii: "{"))
        for (i, (key, value)) in members.enumerated() {
            if i > 0 { out.append(UInt8(ascii: ",")) }
            appendJSONString(key, to: out)
            out.append(UInt8(ascii: ":"))
            appendJSONValue(value, to: out)
        }
        out.append(UInt8(ascii: "}"))
    default:
        var text: [UInt8] = []
        v.write(to: &text)
        out.append(contentsOf: text)
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
    var clock = TimestampText()
    let out = ByteBuffer(capacity: 32)
    clock.append(micros, to: out)
    return String(decoding: out.bytes, as: UTF8.self)
}

/// Writes UTC timestamps with microseconds; the text up to the second is computed once per
/// second (records come thousands per second, so the calendar arithmetic runs once for them all).
struct TimestampText {
    private var second = Int64.min
    /// `2026-11-25T19:40:41.` for `second`.
    private var prefix: [UInt8] = []

    mutating func append(_ micros: Int64, to out: ByteBuffer) {
        var secs = micros / 1_000_000
        var frac = micros % 1_000_000
        if frac < 0 { frac += 1_000_000; secs -= 1 }
        if secs != second {
            second = secs
            prefix = TimestampText.civil(secs)
        }
        out.append(contentsOf: prefix)
        var digits: (UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8) = (0, 0, 0, 0, 0, 0, UInt8(ascii: "Z"))
        withUnsafeMutableBytes(of: &digits) { d in
            var n = frac
            for i in stride(from: 5, through: 0, by: -1) {
                d[i] = 0x30 + UInt8(n % 10)
                n /= 10
            }
            out.append(contentsOf: UnsafeRawBufferPointer(d))
        }
    }

    /// `YYYY-MM-DDTHH:MM:SS.` (Howard Hinnant's civil-from-days).
    private static func civil(_ secs: Int64) -> [UInt8] {
        var days = secs / 86400
        var rem = secs % 86400
        if rem < 0 { rem += 86400; days -= 1 }
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
        out.reserveCapacity(20)
        func pad(_ v: Int64, _ width: Int) {
            var divisor: Int64 = 1
            for _ in 1..<width { divisor *= 10 }
            var n = v
            while divisor > 0 {
                out.append(0x30 + UInt8(n / divisor % 10))
                n %= divisor
                divisor /= 10
            }
        }
        pad(y, 4); out.append(UInt8(ascii: "-")); pad(m, 2); out.append(UInt8(ascii: "-")); pad(d, 2)
        out.append(UInt8(ascii: "T"))
        pad(rem / 3600, 2); out.append(UInt8(ascii: ":")); pad(rem / 60 % 60, 2); out.append(UInt8(ascii: ":"))
        pad(rem % 60, 2)
        out.append(UInt8(ascii: "."))
        return out
    }
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
