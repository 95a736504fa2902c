import BrigJSONRPC

#if canImport(Glibc)
@preconcurrency import Glibc
#endif

/// Byte-level pre-checks for secrets, shared by the audit trail's redaction fast path and the
/// content defenses' leak pre-check: `memchr` over rare anchor bytes, then a compare. A false
/// answer means the full `Redactor` would find no value pattern here.
public enum SecretScan {
    /// The start of a value pattern of the audit `Redactor` (checked by tests against it):
    /// gh[pousr]_, github_pat_, aws_secret (any case), sk-, xox[abpr]-, -----BEGIN, AKIA, ASIA,
    /// AIza, eyJ, bearer (Bearer, BEARER).
    public static func hasSecretPrefix(_ b: UnsafeBufferPointer<UInt8>) -> Bool {
        var found = false
        forEach(UInt8(ascii: "_"), in: b) { i in
            if at(b, i - 3, gh), ghKinds.contains(byteAt(b, i - 1)) { found = true }
            else if at(b, i - 6, githubPat) { found = true }
            else if at(b, i - 3, awsSecret, fold: true) { found = true }
            return !found
        }
        if found { return true }
        forEach(UInt8(ascii: "-"), in: b) { i in
            if at(b, i - 2, sk) || at(b, i, pemBegin) { found = true }
            else if at(b, i - 4, xox), slackKinds.contains(byteAt(b, i - 1)) { found = true }
            return !found
        }
        if found { return true }
        forEach(UInt8(ascii: "A"), in: b) { i in
            found = at(b, i, akia) || at(b, i, asia) || at(b, i, aiza)
            return !found
        }
        if found { return true }
        forEach(UInt8(ascii: "J"), in: b) { i in
            found = at(b, i - 2, eyJ)
            return !found
        }
        if found { return true }
        for anchor in [UInt8(ascii: "B"), UInt8(ascii: "b")] {
            forEach(anchor, in: b) { i in
                found = at(b, i, bearer, fold: true)
                return !found
            }
            if found { return true }
        }
        return false
    }

    private static let gh = Array("gh".utf8), githubPat = Array("github_pat_".utf8), awsSecret = Array("aws_secret".utf8)
    private static let sk = Array("sk-".utf8), pemBegin = Array("-----BEGIN ".utf8), xox = Array("xox".utf8)
    private static let akia = Array("AKIA".utf8), asia = Array("ASIA".utf8), aiza = Array("AIza".utf8)
    private static let eyJ = Array("eyJ".utf8), bearer = Array("bearer".utf8)
    private static let ghKinds: [UInt8] = [0x70, 0x6F, 0x75, 0x73, 0x72]
    private static let slackKinds: [UInt8] = [0x61, 0x62, 0x70, 0x72]

    @inline(__always) private static func byteAt(_ b: UnsafeBufferPointer<UInt8>, _ i: Int) -> UInt8 {
        i >= 0 && i < b.count ? b[i] : 0
    }

    /// Whether `word` stands at `i` (ASCII case-folded when `fold`).
    private static func at(_ b: UnsafeBufferPointer<UInt8>, _ i: Int, _ word: [UInt8], fold: Bool = false) -> Bool {
        guard i >= 0, i + word.count <= b.count else { return false }
        for k in 0..<word.count {
            var c = b[i + k]
            if fold, c >= 0x41, c <= 0x5A { c += 32 }
            if c != word[k] { return false }
        }
        return true
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

    /// Whether `needle` occurs in `b` (memchr on its first byte, then a compare).
    public static func contains(_ b: UnsafeBufferPointer<UInt8>, _ needle: [UInt8]) -> Bool {
        guard let first = needle.first, needle.count <= b.count, let base = b.baseAddress else { return needle.isEmpty }
        var found = false
        needle.withUnsafeBytes { nd in
            forEach(first, in: b) { i in
                if i + needle.count <= b.count, memcmp(base + i, nd.baseAddress!, needle.count) == 0 { found = true }
                return !found
            }
        }
        return found
    }

    /// Calls `body` with the index of each `byte` in `b` until it returns false.
    @inline(__always)
    public static func forEach(_ byte: UInt8, in b: UnsafeBufferPointer<UInt8>, _ body: (Int) -> Bool) {
        guard let base = b.baseAddress else { return }
        var i = 0
        let n = b.count
        while i < n, let p = memchr(base + i, Int32(byte), n - i) {
            let k = UnsafeRawPointer(p) - UnsafeRawPointer(base)
            if !body(k) { return }
            i = k + 1
        }
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
