import BrigSecrets
import BrigSystem

#if canImport(Glibc)
@preconcurrency import Glibc
#endif

/// Byte-level pre-checks on a JSON text, its escapes resolved (see `JSONEscapes`): is there
/// anything the sanitizer or the leak scanner could act on? Built on `memchr` over rare anchor
/// bytes and an 8-bytes-at-a-time pass, so an ordinary result costs a few passes at memory speed.
enum ByteScan {
    /// Whether the text may hide something from the reader: a control character other than tab,
    /// line feed and carriage return (a terminal escape starts with one; DEL included), or the
    /// UTF-8 of a character `Sanitizer` removes.
    static func mayHideText(_ b: UnsafeBufferPointer<UInt8>) -> Bool {
        guard let base = b.baseAddress else { return false }
        let n = b.count
        let raw = UnsafeRawPointer(base)
        var i = 0
        while i < n {
            // Skip 8 bytes at a time while every byte is in 0x20..<0x7F (DEL is a control too).
            while i + 8 <= n {
                let x = UInt64(littleEndian: raw.loadUnaligned(fromByteOffset: i, as: UInt64.self))
                if ((x &- 0x2020_2020_2020_2020) | x) & 0x8080_8080_8080_8080 != 0 { break }
                let del = x ^ 0x7F7F_7F7F_7F7F_7F7F
                if (del &- 0x0101_0101_0101_0101) & ~del & 0x8080_8080_8080_8080 != 0 { break }
                i += 8
            }
            let end = min(n, i + 8)
            while i < end {
                let c = base[i]
                if c < 0x20 {
                    if c != 0x09 && c != 0x0A && c != 0x0D { return true }
                } else if c == 0x7F {
                    return true
                } else if c >= 0x80 {
                    if isHiddenUTF8(base, i, n) { return true }
                }
                i += 1
            }
        }
        return false
    }

    /// The sequence at `i` encodes a character `Sanitizer` removes (C1, U+061C, U+180E, U+200B-F,
    /// U+202A-E, U+2060-9, U+FEFF, tags).
    @inline(__always)
    static func isHiddenUTF8(_ p: UnsafePointer<UInt8>, _ i: Int, _ n: Int) -> Bool {
        let c = p[i]
        @inline(__always) func at(_ k: Int) -> UInt8 { i + k < n ? p[i + k] : 0 }
        switch c {
        case 0xC2: return (0x80...0x9F).contains(at(1))
        case 0xD8: return at(1) == 0x9C
        case 0xE1: return at(1) == 0xA0 && at(2) == 0x8E
        case 0xE2:
            let c1 = at(1), c2 = at(2)
            return (c1 == 0x80 && ((0x8B...0x8F).contains(c2) || (0xAA...0xAE).contains(c2)))
                || (c1 == 0x81 && (0xA0...0xA9).contains(c2))
        case 0xEF: return at(1) == 0xBB && at(2) == 0xBF
        case 0xF3: return at(1) == 0xA0 && (at(2) == 0x80 || at(2) == 0x81)
        default: return false
        }
    }
}
