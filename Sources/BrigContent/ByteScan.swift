import BrigAudit

#if canImport(Glibc)
@preconcurrency import Glibc
#endif

/// Byte-level pre-checks on a raw JSON text: is there anything the sanitizer or the leak scanner
/// could act on? Built on `memchr` over rare anchor bytes and an 8-bytes-at-a-time pass, so an
/// ordinary result costs a few passes at memory speed.
enum ByteScan {
    /// Whether the bytes may hold a terminal escape, a control character or an invisible /
    /// bidi character: raw (UTF-8, control bytes) or as a JSON `\uXXXX` escape.
    static func mayHideText(_ b: UnsafeBufferPointer<UInt8>) -> Bool {
        hasSuspiciousRawByte(b) || hasSuspiciousEscape(b)
    }

    /// Bytes < 0x20 (a message line has no raw control characters, not even a newline) and the
    /// UTF-8 encodings of the characters `Sanitizer` removes.
    static func hasSuspiciousRawByte(_ b: UnsafeBufferPointer<UInt8>) -> Bool {
        guard let base = b.baseAddress else { return false }
        let n = b.count
        let raw = UnsafeRawPointer(base)
        var i = 0
        while i < n {
            // Skip 8 bytes at a time while every byte is in 0x20..<0x80.
            while i + 8 <= n {
                let x = UInt64(littleEndian: raw.loadUnaligned(fromByteOffset: i, as: UInt64.self))
                if ((x &- 0x2020_2020_2020_2020) | x) & 0x8080_8080_8080_8080 != 0 { break }
                i += 8
            }
            let end = min(n, i + 8)
            while i < end {
                let c = base[i]
                if c < 0x20 {
                    if c != 0x09 && c != 0x0A && c != 0x0D { return true }
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

    /// A `\uXXXX` escape of a character `Sanitizer` removes (tags appear as the `\uDB40` surrogate).
    static func hasSuspiciousEscape(_ b: UnsafeBufferPointer<UInt8>) -> Bool {
        var found = false
        forEach(UInt8(ascii: "\\"), in: b) { i in
            guard i + 5 < b.count, b[i + 1] == UInt8(ascii: "u") else { return true }
            var v: UInt32 = 0
            for k in 2...5 {
                let h = b[i + k]
                let d: UInt8
                switch h {
                case 0x30...0x39: d = h - 0x30
                case 0x41...0x46: d = h - 0x41 + 10
                case 0x61...0x66: d = h - 0x61 + 10
                default: return true
                }
                v = v << 4 | UInt32(d)
            }
            if v == 0xDB40 || Sanitizer.classify(v) != nil || v == 0x1B {
                found = true
                return false
            }
            return true
        }
        return found
    }

    static func hasSecretPrefix(_ b: UnsafeBufferPointer<UInt8>) -> Bool { SecretScan.hasSecretPrefix(b) }
    static func contains(_ b: UnsafeBufferPointer<UInt8>, _ needle: [UInt8]) -> Bool { SecretScan.contains(b, needle) }
    @inline(__always)
    static func forEach(_ byte: UInt8, in b: UnsafeBufferPointer<UInt8>, _ body: (Int) -> Bool) {
        SecretScan.forEach(byte, in: b, body)
    }
}
