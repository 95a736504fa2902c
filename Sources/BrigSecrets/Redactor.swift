public import BrigJSONRPC
import BrigSystem

/// Removes secrets from payloads before they are written: by member name, by value pattern, and
/// by the exact values of injected secrets. Every removal leaves a marker naming its kind:
/// `[REDACTED:github-token]`, `[REDACTED:key:password]`, `[REDACTED:secret:GITHUB_TOKEN]`.
public struct Redactor: Sendable {
    /// Member names whose values are removed: case-insensitive substrings of the name, with `-`
    /// read as `_` (so `x-api-key` and `github_token` match).
    public static let builtinKeys = [
        "password", "passwd", "token", "secret", "api_key", "apikey", "access_key",
        "authorization", "cookie", "session", "private_key", "client_secret",
        "credential",
    ]
    /// Shorter injected values are not matched by value (they would match everywhere).
    public static let minimumSecretLength = 4

    let keys: [[UInt8]]
    /// `keys` with the writer's pre-check filter.
    public let names: SensitiveNames
    /// (name, value bytes), longest value first.
    let secrets: [(String, [UInt8])]
    /// The values as the writer's pre-check searches for them (`SecretScan.needles`).
    public let secretNeedles: [[UInt8]]

    public init(extraKeys: [String] = [], secretValues: [String: String] = [:]) {
        var k = Redactor.builtinKeys
        for e in extraKeys {
            let n = Redactor.normalizeKey(e)
            if !n.isEmpty, !k.contains(n) { k.append(n) }
        }
        keys = k.map { Array($0.utf8) }
        names = SensitiveNames(keys: keys)
        secrets =
            secretValues
            .filter { $0.value.utf8.count >= Redactor.minimumSecretLength }
            .map { ($0.key, Array($0.value.utf8)) }
            .sorted { $0.1.count != $1.1.count ? $0.1.count > $1.1.count : $0.0 < $1.0 }
        secretNeedles = SecretScan.needles(secrets.map { String(decoding: $0.1, as: UTF8.self) })
    }

    static func normalizeKey(_ key: String) -> String {
        String(
            decoding: key.utf8.map { c -> UInt8 in
                if c >= 0x41, c <= 0x5A { return c + 32 }
                return c == UInt8(ascii: "-") ? UInt8(ascii: "_") : c
            }, as: UTF8.self)
    }

    /// Whether a member of this name has its value removed.
    public func isSensitiveKey(_ key: String) -> Bool {
        let n = Array(Redactor.normalizeKey(key).utf8)
        return keys.contains { ByteSearch.contains(n, $0) }
    }

    /// The value with secrets removed.
    public func redact(_ value: JSONValue) -> JSONValue {
        switch value {
        case .string(let s): return .string(redact(s))
        case .array(let items): return .array(items.map(redact))
        case .object(let members):
            return .object(
                members.map { key, v in
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

    /// The text with every value pattern of `SecretPattern.all` replaced by its marker; nil
    /// when nothing matched.
    func redactPatterns(_ b: [UInt8]) -> [UInt8]? {
        let patterns = SecretPattern.all, byFirstByte = SecretPattern.byFirstByte
        var out: [UInt8] = []
        var i = 0, last = 0, found = false
        while i < b.count {
            var match: (range: Range<Int>, kind: String)?
            let candidates = byFirstByte[Int(b[i])]
            if !candidates.isEmpty, i == 0 || !ByteClass.alphanumeric.contains(b[i - 1]) {
                for k in candidates {
                    if let r = patterns[k].match(b, at: i) {
                        match = (r, patterns[k].kind)
                        break
                    }
                }
            }
            if let m = match {
                if !found { out.reserveCapacity(b.count) }
                found = true
                out.append(contentsOf: b[last..<m.range.lowerBound])
                out.append(contentsOf: Array("[REDACTED:\(m.kind)]".utf8))
                i = m.range.upperBound
                last = i
            } else {
                i += 1
            }
        }
        guard found else { return nil }
        out.append(contentsOf: b[last...])
        return out
    }
}
