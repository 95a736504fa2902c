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
/// an injected value's escaped spelling (`JSONWriter.quoted`) finds in place exactly what it
/// would find decoded. Text with only these (nearly every message: prose with line breaks,
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
        guard let base = text.baseAddress else { return }
        let n = text.count
        out.reserveCapacity(out.count + n)
        var i = 0
        while i < n {
            guard let p = memchr(base + i, 0x5C, n - i) else {
                out.append(contentsOf: UnsafeBufferPointer(start: base + i, count: n - i))
                return
            }
            let k = UnsafeRawPointer(p) - UnsafeRawPointer(base)
            if k > i { out.append(contentsOf: UnsafeBufferPointer(start: base + i, count: k - i)) }
            guard k + 1 < n else {
                out.append(0x5C)
                return
            }
            let e = base[k + 1]
            i = k + 2
            switch e {
            case UInt8(ascii: "b"): out.append(0x08)
            case UInt8(ascii: "f"): out.append(0x0C)
            case UInt8(ascii: "n"): out.append(0x0A)
            case UInt8(ascii: "r"): out.append(0x0D)
            case UInt8(ascii: "t"): out.append(0x09)
            case UInt8(ascii: "u"):
                guard var v = hex4(base, i, n) else {
                    out.append(0x5C)
                    out.append(e)
                    continue
                }
                i += 4
                if (0xD800...0xDBFF).contains(v), i + 1 < n, base[i] == 0x5C, base[i + 1] == UInt8(ascii: "u"),
                    let low = hex4(base, i + 2, n), (0xDC00...0xDFFF).contains(low)
                {
                    v = 0x10000 + ((v - 0xD800) << 10) + (low - 0xDC00)
                    i += 6
                }
                appendUTF8(v, to: &out)
            default: out.append(e)
            }
        }
    }

    /// The four hex digits at `i` as a number; nil when there are fewer than four.
    @inline(__always)
    static func hex4(_ p: UnsafePointer<UInt8>, _ i: Int, _ n: Int) -> UInt32? {
        guard i + 4 <= n else { return nil }
        var v: UInt32 = 0
        for k in 0..<4 {
            guard let d = JSONScanner.hexValue(p[i + k]) else { return nil }
            v = v << 4 | d
        }
        return v
    }

    /// UTF-8 of a scalar value; surrogates (not scalars) become U+FFFD.
    @inline(__always)
    static func appendUTF8(_ v: UInt32, to out: inout [UInt8]) {
        switch v {
        case 0..<0x80:
            out.append(UInt8(v))
        case 0x80..<0x800:
            out.append(UInt8(0xC0 | v >> 6))
            out.append(UInt8(0x80 | v & 0x3F))
        case 0xD800...0xDFFF:
            out.append(contentsOf: [0xEF, 0xBF, 0xBD])
        case 0x800..<0x10000:
            out.append(UInt8(0xE0 | v >> 12))
            out.append(UInt8(0x80 | (v >> 6) & 0x3F))
            out.append(UInt8(0x80 | v & 0x3F))
        default:
            out.append(UInt8(0xF0 | v >> 18))
            out.append(UInt8(0x80 | (v >> 12) & 0x3F))
            out.append(UInt8(0x80 | (v >> 6) & 0x3F))
            out.append(UInt8(0x80 | v & 0x3F))
        }
    }
}
