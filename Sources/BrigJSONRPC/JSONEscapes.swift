import BrigSystem

#if canImport(Glibc)
@preconcurrency import Glibc
#endif

/// JSON text as the host reads it: the escapes of its strings resolved.
///
/// The byte-level checks in front of the content defenses and of the audit trail's redaction
/// look for secret prefixes, injected secret values and hidden characters in raw bytes. A
/// server that writes `\u0067hp_...` or `\u200b` gets past a raw-byte check while the host
/// decodes the escape and shows (or sends on) the very text the check looks for. So a check
/// runs on decoded bytes whenever the text holds an escape it could not see through in place.
///
/// Five escapes it can see through: `\"`, `\\`, `\n`, `\r` and `\t` stand for characters
/// that occur in no secret prefix and are not hidden text, and each is the one spelling of its
/// character outside `\u` (which is not one of the five), so a check that also searches for
/// an injected value's short spelling (`shortSpelling`) finds in place exactly what it would
/// find decoded. Text with only these (nearly every message: prose with line breaks,
/// quoted strings, Windows paths) is read where it lies, with no copy.
public enum JSONEscapes {
    /// Calls `body` with `text` itself when its escapes are only the five short ones, else with a
    /// copy in which every escape is resolved as a JSON decoder resolves it (see
    /// `unescape(_:into:)`).
    @inline(__always)
    public static func withDecoded<R>(_ text: UnsafeBufferPointer<UInt8>, _ body: (UnsafeBufferPointer<UInt8>) -> R) -> R {
        guard hasOpaqueEscape(text) else { return body(text) }
        var out: [UInt8] = []
        unescape(text, into: &out)
        return out.withUnsafeBufferPointer(body)
    }

    /// `text` as a JSON string's contents spelled with the five short escapes only (`"` `\\` line
    /// feed, carriage return and tab escaped, every other byte as it is): the one spelling a
    /// text in place can have, so the one to search for when `withDecoded` reads in place.
    public static func shortSpelling(_ text: String) -> [UInt8] {
        var out: [UInt8] = []
        out.reserveCapacity(text.utf8.count)
        for b in text.utf8 {
            switch b {
            case 0x22: out += [0x5C, 0x22]
            case 0x5C: out += [0x5C, 0x5C]
            case 0x0A: out += [0x5C, UInt8(ascii: "n")]
            case 0x0D: out += [0x5C, UInt8(ascii: "r")]
            case 0x09: out += [0x5C, UInt8(ascii: "t")]
            default: out.append(b)
            }
        }
        return out
    }

    /// Whether `text` holds an escape other than `\"`, `\\`, `\n`, `\r` and `\t` (a `\u`, a
    /// `\/`, `\b`, `\f`, or a backslash that ends the text).
    public static func hasOpaqueEscape(_ text: UnsafeBufferPointer<UInt8>) -> Bool {
        guard let base = text.baseAddress else { return false }
        let n = text.count
        var i = 0
        while i < n, let p = memchr(base + i, 0x5C, n - i) {
            let k = UnsafeRawPointer(p) - UnsafeRawPointer(base)
            guard k + 1 < n else { return true }
            switch base[k + 1] {
            case 0x22, 0x5C, UInt8(ascii: "n"), UInt8(ascii: "r"), UInt8(ascii: "t"): i = k + 2
            default: return true
            }
        }
        return false
    }

    /// Appends `text` to `out` with its escapes resolved: `\b \f \n \r \t \" \\ \/` to their
    /// bytes, `\uXXXX` to UTF-8 (a surrogate pair joined into one scalar, a lone surrogate to
    /// U+FFFD, as decoders do), any other escaped byte to itself. A `\u` with fewer than four hex
    /// digits after it is copied as it stands.
    public static func unescape(_ text: UnsafeBufferPointer<UInt8>, into out: inout [UInt8]) {
        guard let base = text.baseAddress, !text.isEmpty else { return }
        let n = text.count
        let start = out.count
        // No escape decodes to more bytes than it takes (`\uXXXX` is at most three bytes of
        // UTF-8, a surrogate pair four of its twelve), so `n` bytes of room always suffice.
        out.append(contentsOf: repeatElement(0, count: n))
        let written = out.withUnsafeMutableBufferPointer { all -> Int in
            let d = all.baseAddress! + start
            var i = 0
            var w = 0
            while i < n {
                guard base[i] == 0x5C else {
                    // A run of plain bytes up to the next backslash, copied whole.
                    let k = memchr(base + i, 0x5C, n - i).map { UnsafeRawPointer($0) - UnsafeRawPointer(base) } ?? n
                    (d + w).update(from: base + i, count: k - i)
                    w += k - i
                    i = k
                    continue
                }
                guard i + 1 < n else {
                    d[w] = 0x5C
                    return w + 1
                }
                let e = base[i + 1]
                i += 2
                switch e {
                case UInt8(ascii: "b"): d[w] = 0x08; w += 1
                case UInt8(ascii: "f"): d[w] = 0x0C; w += 1
                case UInt8(ascii: "n"): d[w] = 0x0A; w += 1
                case UInt8(ascii: "r"): d[w] = 0x0D; w += 1
                case UInt8(ascii: "t"): d[w] = 0x09; w += 1
                case UInt8(ascii: "u"):
                    guard var v = hex4(base, i, n) else {
                        d[w] = 0x5C
                        d[w + 1] = e
                        w += 2
                        continue
                    }
                    i += 4
                    if v & 0xFC00 == 0xD800, i + 1 < n, base[i] == 0x5C, base[i + 1] == UInt8(ascii: "u"),
                        let low = hex4(base, i + 2, n), low & 0xFC00 == 0xDC00
                    {
                        v = 0x10000 + ((v - 0xD800) << 10) + (low - 0xDC00)
                        i += 6
                    }
                    w += writeUTF8(v, to: d + w)
                default: d[w] = e; w += 1
                }
            }
            return w
        }
        out.removeLast(n - written)
    }

    /// The four hex digits at `i` as a number; nil when there are fewer than four.
    @inline(__always)
    static func hex4(_ p: UnsafePointer<UInt8>, _ i: Int, _ n: Int) -> UInt32? {
        guard i + 4 <= n else { return nil }
        var v: UInt32 = 0
        for k in 0..<4 {
            guard let d = Hex.value(ofDigit: p[i + k]).map(UInt32.init) else { return nil }
            v = v << 4 | d
        }
        return v
    }

    /// Writes the UTF-8 of a scalar value (surrogates, which are not scalars, as U+FFFD) and
    /// returns its length.
    @inline(__always)
    static func writeUTF8(_ v: UInt32, to d: UnsafeMutablePointer<UInt8>) -> Int {
        switch v {
        case 0..<0x80:
            d[0] = UInt8(v)
            return 1
        case 0x80..<0x800:
            d[0] = UInt8(0xC0 | v >> 6)
            d[1] = UInt8(0x80 | v & 0x3F)
            return 2
        case 0xD800...0xDFFF:
            d[0] = 0xEF
            d[1] = 0xBF
            d[2] = 0xBD
            return 3
        case 0x800..<0x10000:
            d[0] = UInt8(0xE0 | v >> 12)
            d[1] = UInt8(0x80 | (v >> 6) & 0x3F)
            d[2] = UInt8(0x80 | v & 0x3F)
            return 3
        default:
            d[0] = UInt8(0xF0 | v >> 18)
            d[1] = UInt8(0x80 | (v >> 12) & 0x3F)
            d[2] = UInt8(0x80 | (v >> 6) & 0x3F)
            d[3] = UInt8(0x80 | v & 0x3F)
            return 4
        }
    }
}
