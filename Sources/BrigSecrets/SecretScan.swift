import BrigJSONRPC
import BrigSystem

#if canImport(Glibc)
@preconcurrency import Glibc
#endif

/// Byte-level pre-checks for secrets, shared by the audit trail's redaction fast path and the
/// content defenses' leak pre-check: `memchr` over rare anchor bytes, then a compare. A false
/// answer means the full `Redactor` would find no value pattern here.
public enum SecretScan {
    /// Whether a prefix of `SecretPattern.all` occurs in `b` (anywhere: the word boundary is
    /// the redactor's to check). Each pattern's anchor byte is found with `memchr`, then its
    /// prefixes are compared around it.
    public static func hasSecretPrefix(_ b: UnsafeBufferPointer<UInt8>) -> Bool {
        for group in SecretPattern.anchorGroups {
            var found = false
            ByteSearch.forEach(group.byte, in: b) { i in
                for a in group.anchors where has(b, i - a.offset, a.prefix, fold: a.foldsCase) {
                    found = true
                    break
                }
                return !found
            }
            if found { return true }
        }
        return false
    }

    /// What to search for to find injected secret values in JSON text read by
    /// `JSONEscapes.withDecoded`: each value's bytes, and its short spelling inside a JSON string
    /// (`JSONEscapes.shortSpelling`) where that differs, since text with only the short escapes
    /// is read in place.
    public static func needles(_ values: [String]) -> [[UInt8]] {
        var needles: [[UInt8]] = []
        for value in values {
            let raw = Array(value.utf8)
            needles.append(raw)
            let escaped = JSONEscapes.shortSpelling(value)
            if escaped != raw { needles.append(escaped) }
        }
        return needles
    }

    /// Whether a member name in the JSON text `b` could contain one of `names`' keys. Walks the
    /// text's string literals quote by quote (`memchr`, escapes skipped, so JSON text inside a
    /// string value is not mistaken for members); a literal followed by `:` is a member name. A
    /// name with an escape in it counts as a match (its decoded form is not at hand), and so does
    /// text that does not walk as JSON. A false answer means `Redactor` would redact no member by
    /// name.
    public static func mayNameSensitiveMember(_ b: UnsafeBufferPointer<UInt8>, names: SensitiveNames) -> Bool {
        guard let base = b.baseAddress else { return false }
        let n = b.count
        var i = 0
        var open = -1
        while i < n, let p = memchr(base + i, 0x22, n - i) {
            let q = UnsafeRawPointer(p) - UnsafeRawPointer(base)
            i = q + 1
            if open < 0 {
                open = q
                continue
            }
            // Inside a string: a quote after an odd run of backslashes is escaped.
            var backslashes = 0
            while q - 1 - backslashes > open, base[q - 1 - backslashes] == 0x5C { backslashes += 1 }
            if backslashes & 1 == 1 { continue }
            let start = open + 1
            open = -1
            var next = q + 1
            while next < n, base[next] == 0x20 || base[next] == 0x09 || base[next] == 0x0A || base[next] == 0x0D { next += 1 }
            guard next < n, base[next] == UInt8(ascii: ":") else { continue }
            if names.mayMatch(UnsafeBufferPointer(start: base + start, count: q - start)) { return true }
        }
        return open >= 0
    }
}

/// The member-name keys of a `Redactor`, with a filter that rules most names out without
/// comparing them to every key: a bit for the first three bytes of each key (folded, hashed to
/// 12 bits), so a name is compared only where three of its bytes could start a key. Names repeat
/// in every message and almost none is sensitive, so this is the common case made cheap.
public struct SensitiveNames: Sendable {
    /// Lower case, `_` for `-` (as `Redactor.normalizeKey` makes them).
    public let keys: [[UInt8]]
    /// 4096 bits; nil when a key is shorter than three bytes (every name is compared then).
    private let starts: [UInt64]?
    /// Names longer than this are reported as a match without a look (they are folded on the stack).
    static let longestChecked = 128

    public init(keys: [[UInt8]]) {
        self.keys = keys
        guard !keys.contains(where: { $0.count < 3 }) else {
            starts = nil
            return
        }
        var bits = [UInt64](repeating: 0, count: 64)
        for k in keys {
            let s = SensitiveNames.slot(k[0], k[1], k[2])
            bits[s >> 6] |= 1 << UInt64(s & 63)
        }
        starts = bits
    }

    @inline(__always) static func fold(_ c: UInt8) -> UInt8 {
        if c >= 0x41, c <= 0x5A { return c + 32 }
        return c == 0x2D ? 0x5F : c
    }

    @inline(__always) static func slot(_ a: UInt8, _ b: UInt8, _ c: UInt8) -> Int {
        Int(((UInt32(a) << 16 | UInt32(b) << 8 | UInt32(c)) &* 0x9E37_79B1) >> 20)
    }

    /// Whether the raw bytes of a member name (between its quotes) could name a sensitive member:
    /// a key occurs in its folded form, or it holds an escape, or it is too long to fold here.
    public func mayMatch(_ name: UnsafeBufferPointer<UInt8>) -> Bool {
        let length = name.count
        guard length <= SensitiveNames.longestChecked else { return true }
        if let starts {
            guard length >= 3 else { return memchr(name.baseAddress!, 0x5C, length) != nil }
            var a = SensitiveNames.fold(name[0]), b = SensitiveNames.fold(name[1])
            var hit = a == 0x5C || b == 0x5C
            var i = 2
            while !hit, i < length {
                let c = SensitiveNames.fold(name[i])
                let s = SensitiveNames.slot(a, b, c)
                hit = c == 0x5C || starts[s >> 6] & (1 << UInt64(s & 63)) != 0
                a = b
                b = c
                i += 1
            }
            if !hit { return false }
        }
        return compare(name)
    }

    /// The exact check: folds the name and looks for every key in it.
    private func compare(_ name: UnsafeBufferPointer<UInt8>) -> Bool {
        withUnsafeTemporaryAllocation(of: UInt8.self, capacity: SensitiveNames.longestChecked) { folded -> Bool in
            for k in 0..<name.count {
                let c = name[k]
                if c == 0x5C { return true }
                folded[k] = SensitiveNames.fold(c)
            }
            let hay = UnsafeBufferPointer(rebasing: folded[0..<name.count])
            for key in keys where key.count <= name.count {
                if SensitiveNames.occurs(key, in: hay) { return true }
            }
            return false
        }
    }

    private static func occurs(_ needle: [UInt8], in hay: UnsafeBufferPointer<UInt8>) -> Bool {
        guard let first = needle.first else { return true }
        var i = 0
        let last = hay.count - needle.count
        while i <= last {
            if hay[i] == first {
                var k = 1
                while k < needle.count, hay[i + k] == needle[k] { k += 1 }
                if k == needle.count { return true }
            }
            i += 1
        }
        return false
    }
}
