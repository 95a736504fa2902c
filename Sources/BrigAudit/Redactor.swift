public import BrigJSONRPC

/// Removes secrets from payloads before they are written: by member name, by value pattern, and
/// by the exact values of injected secrets. Every removal leaves a marker naming its kind:
/// `[REDACTED:github-token]`, `[REDACTED:key:password]`, `[REDACTED:secret:GITHUB_TOKEN]`.
public struct Redactor: Sendable {
    /// Member names whose values are removed: case-insensitive substrings of the name, with `-`
    /// read as `_` (so `x-api-key` and `github_token` match).
    public static let builtinKeys = ["password", "passwd", "token", "secret", "api_key", "apikey", "access_key",
                                     "authorization", "cookie", "session", "private_key", "client_secret",
                                     "credential"]
    /// Shorter injected values are not matched by value (they would match everywhere).
    public static let minimumSecretLength = 4

    let keys: [[UInt8]]
    /// `keys` with the writer's pre-check filter.
    let names: SensitiveNames
    /// (name, value bytes), longest value first.
    let secrets: [(String, [UInt8])]
    /// The values as the writer's pre-check searches for them (`SecretScan.needles`).
    let secretNeedles: [[UInt8]]

    public init(extraKeys: [String] = [], secretValues: [String: String] = [:]) {
        var k = Redactor.builtinKeys
        for e in extraKeys {
            let n = Redactor.normalizeKey(e)
            if !n.isEmpty, !k.contains(n) { k.append(n) }
        }
        keys = k.map { Array($0.utf8) }
        names = SensitiveNames(keys: keys)
        secrets = secretValues
            .filter { $0.value.utf8.count >= Redactor.minimumSecretLength }
            .map { ($0.key, Array($0.value.utf8)) }
            .sorted { $0.1.count != $1.1.count ? $0.1.count > $1.1.count : $0.0 < $1.0 }
        secretNeedles = SecretScan.needles(secrets.map { String(decoding: $0.1, as: UTF8.self) })
    }

    static func normalizeKey(_ key: String) -> String {
        String(decoding: key.utf8.map { c -> UInt8 in
            if c >= 0x41, c <= 0x5A { return c + 32 }
            return c == UInt8(ascii: "-") ? UInt8(ascii: "_") : c
        }, as: UTF8.self)
    }

    /// Whether a member of this name has its value removed.
    public func isSensitiveKey(_ key: String) -> Bool {
        let n = Array(Redactor.normalizeKey(key).utf8)
        return keys.contains { contains(n, $0) }
    }

    /// The value with secrets removed.
    public func redact(_ value: JSONValue) -> JSONValue {
        switch value {
        case .string(let s): return .string(redact(s))
        case .array(let items): return .array(items.map(redact))
        case .object(let members):
            return .object(members.map { key, v in
                switch v {
                case .null, .bool: return (key, v)
                default: return (key, isSensitiveKey(key) ? .string("[REDACTED:key:\(key)]") : redact(v))
                }
            })
        default: return value
        }
    }

    /// The text with injected secret values and secret-looking patterns replaced.
    public func redact(_ text: String) -> String {
        var bytes = Array(text.utf8)
        guard bytes.count >= Redactor.minimumSecretLength else { return text }
        var changed = false
        for (name, value) in secrets where bytes.count >= value.count {
            if replaceAll(&bytes, value, with: Array("[REDACTED:secret:\(name)]".utf8)) { changed = true }
        }
        if let patterned = redactPatterns(bytes) {
            bytes = patterned
            changed = true
        }
        return changed ? String(decoding: bytes, as: UTF8.self) : text
    }

    // MARK: Matching

    private func contains(_ haystack: [UInt8], _ needle: [UInt8]) -> Bool {
        guard needle.count <= haystack.count else { return false }
        if needle.isEmpty { return true }
        var i = 0
        while i + needle.count <= haystack.count {
            if haystack[i] == needle[0] {
                var j = 1
                while j < needle.count, haystack[i + j] == needle[j] { j += 1 }
                if j == needle.count { return true }
            }
            i += 1
        }
        return false
    }

    private func replaceAll(_ bytes: inout [UInt8], _ needle: [UInt8], with marker: [UInt8]) -> Bool {
        var out: [UInt8] = []
        var i = 0, last = 0, found = false
        while i + needle.count <= bytes.count {
            if bytes[i] == needle[0], bytes[i..<(i + needle.count)].elementsEqual(needle) {
                if !found { out.reserveCapacity(bytes.count) }
                found = true
                out.append(contentsOf: bytes[last..<i])
                out.append(contentsOf: marker)
                i += needle.count
                last = i
            } else {
                i += 1
            }
        }
        guard found else { return false }
        out.append(contentsOf: bytes[last...])
        bytes = out
        return true
    }

    /// nil when nothing matched.
    func redactPatterns(_ b: [UInt8]) -> [UInt8]? {
        var out: [UInt8] = []
        var i = 0, last = 0, found = false
        while i < b.count {
            let c = b[i]
            let boundary = i == 0 || !isWord(b[i - 1])
            var match: (start: Int, end: Int, kind: String)?
            if boundary {
                switch c {
                case UInt8(ascii: "A"):
                    if has(b, i, "AKIA") || has(b, i, "ASIA") {
                        let e = run(b, i + 4) { isUpper($0) || isDigit($0) }
                        if e - (i + 4) == 16, e == b.count || !isWord(b[e]) { match = (i, e, "aws-access-key") }
                    } else if has(b, i, "AIza") {
                        let e = run(b, i + 4) { isAlnum($0) || $0 == 0x5F || $0 == 0x2D }
                        if e - (i + 4) >= 35 { match = (i, i + 39, "google-api-key") }
                    }
                case UInt8(ascii: "g"):
                    for p in ["ghp_", "gho_", "ghu_", "ghs_", "ghr_"] where has(b, i, p) {
                        let e = run(b, i + 4, isAlnum)
                        if e - (i + 4) >= 20 { match = (i, e, "github-token") }
                    }
                    if match == nil, has(b, i, "github_pat_") {
                        let e = run(b, i + 11) { isAlnum($0) || $0 == 0x5F }
                        if e - (i + 11) >= 20 { match = (i, e, "github-token") }
                    }
                case UInt8(ascii: "x"):
                    if has(b, i, "xox"), i + 4 < b.count, [0x61, 0x62, 0x70, 0x72].contains(b[i + 3]), b[i + 4] == 0x2D {
                        let e = run(b, i + 5) { isAlnum($0) || $0 == 0x2D }
                        if e - (i + 5) >= 10 { match = (i, e, "slack-token") }
                    }
                case UInt8(ascii: "e"):
                    if has(b, i, "eyJ") {
                        let isB64url = { (x: UInt8) in isAlnum(x) || x == 0x5F || x == 0x2D }
                        let e1 = run(b, i + 3, isB64url)
                        if e1 - i >= 8, e1 < b.count, b[e1] == 0x2E, has(b, e1 + 1, "eyJ") {
                            let e2 = run(b, e1 + 4, isB64url)
                            if e2 < b.count, b[e2] == 0x2E {
                                match = (i, run(b, e2 + 1, isB64url), "jwt")
                            }
                        }
                    }
                case UInt8(ascii: "s"):
                    if has(b, i, "sk-") {
                        let e = run(b, i + 3) { isAlnum($0) || $0 == 0x5F || $0 == 0x2D }
                        if e - (i + 3) >= 20 { match = (i, e, "openai-key") }
                    }
                case UInt8(ascii: "-"):
                    if has(b, i, "-----BEGIN "), let headerEnd = find(b, "-----", from: i + 11),
                       containsBytes(b[(i + 11)..<headerEnd], "PRIVATE KEY") {
                        var end = b.count
                        if let endMarker = find(b, "-----END ", from: headerEnd + 5),
                           let close = find(b, "-----", from: endMarker + 9) {
                            end = close + 5
                        }
                        match = (i, end, "private-key")
                    }
                default: break
                }
                if match == nil, c | 0x20 == UInt8(ascii: "b"), hasFolded(b, i, "bearer"), i + 6 < b.count,
                   b[i + 6] == 0x20 || b[i + 6] == 0x09 {
                    let t = run(b, i + 6) { $0 == 0x20 || $0 == 0x09 }
                    let e = run(b, t) { isAlnum($0) || [0x2E, 0x5F, 0x7E, 0x2B, 0x2F, 0x3D, 0x2D].contains($0) }
                    if e - t >= 8 { match = (t, e, "bearer-token") }
                }
                if match == nil, c | 0x20 == UInt8(ascii: "a"), hasFolded(b, i, "aws_secret") {
                    var j = run(b, i + 10) { isAlpha($0) || $0 == 0x5F }
                    j = run(b, j) { [0x20, 0x09, 0x3A, 0x3D, 0x22, 0x27].contains($0) }
                    let e = run(b, j) { isAlnum($0) || $0 == 0x2F || $0 == 0x2B || $0 == 0x3D }
                    if e - j == 40 { match = (j, e, "aws-secret-key") }
                }
            }
            if let m = match {
                if !found { out.reserveCapacity(b.count) }
                found = true
                out.append(contentsOf: b[last..<m.start])
                out.append(contentsOf: Array("[REDACTED:\(m.kind)]".utf8))
                i = m.end
                last = m.end
            } else {
                i += 1
            }
        }
        guard found else { return nil }
        out.append(contentsOf: b[last...])
        return out
    }
}

@inline(__always) private func isDigit(_ c: UInt8) -> Bool { c >= 0x30 && c <= 0x39 }
@inline(__always) private func isUpper(_ c: UInt8) -> Bool { c >= 0x41 && c <= 0x5A }
@inline(__always) private func isAlpha(_ c: UInt8) -> Bool { isUpper(c) || (c >= 0x61 && c <= 0x7A) }
@inline(__always) private func isAlnum(_ c: UInt8) -> Bool { isAlpha(c) || isDigit(c) }
@inline(__always) private func isWord(_ c: UInt8) -> Bool { isAlnum(c) }

private func has(_ b: [UInt8], _ i: Int, _ prefix: StaticString) -> Bool {
    prefix.withUTF8Buffer { p in
        guard i + p.count <= b.count else { return false }
        for k in 0..<p.count where b[i + k] != p[k] { return false }
        return true
    }
}

private func hasFolded(_ b: [UInt8], _ i: Int, _ lowerPrefix: StaticString) -> Bool {
    lowerPrefix.withUTF8Buffer { p in
        guard i + p.count <= b.count else { return false }
        for k in 0..<p.count where (isUpper(b[i + k]) ? b[i + k] + 32 : b[i + k]) != p[k] { return false }
        return true
    }
}

private func has(_ b: [UInt8], _ i: Int, _ prefix: String) -> Bool {
    let p = Array(prefix.utf8)
    guard i + p.count <= b.count else { return false }
    for k in 0..<p.count where b[i + k] != p[k] { return false }
    return true
}

private func run(_ b: [UInt8], _ start: Int, _ pred: (UInt8) -> Bool) -> Int {
    var e = min(start, b.count)
    while e < b.count, pred(b[e]) { e += 1 }
    return e
}

private func find(_ b: [UInt8], _ needle: StaticString, from: Int) -> Int? {
    needle.withUTF8Buffer { n -> Int? in
        var i = from
        while i + n.count <= b.count {
            var k = 0
            while k < n.count, b[i + k] == n[k] { k += 1 }
            if k == n.count { return i }
            i += 1
        }
        return nil
    }
}

private func containsBytes(_ b: ArraySlice<UInt8>, _ needle: StaticString) -> Bool {
    let arr = Array(b)
    return find(arr, needle, from: 0) != nil
}
