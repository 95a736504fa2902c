public import BrigJSONRPC
import BrigSecrets
import BrigSystem

/// A secret found in text going from the server to the host.
public struct LeakFinding: Sendable, Equatable {
    /// A value pattern of `Redactor` (`github-token`, `aws-access-key`, `private-key`, `jwt`, ...)
    /// or `secret:NAME` for an injected secret's exact value.
    public var kind: String
    /// Where: `content[0].text`, `structuredContent.env.TOKEN`, ...
    public var location: String
    public var count: Int

    public init(kind: String, location: String, count: Int = 1) {
        self.kind = kind
        self.location = location
        self.count = count
    }
}

/// Finds secrets in server-to-host text with the audit trail's own `Redactor`: its value
/// patterns, and the exact values of the secrets injected into the server (`name → value`,
/// values shorter than `Redactor.minimumSecretLength` are ignored). Member names are not
/// used here (a result's `token_count` is not a leak). Found secrets are replaced by
/// `[REDACTED:KIND]` / `[REDACTED:secret:NAME]`.
public struct LeakScanner: Sendable {
    let redactor: Redactor
    /// The injected secret values that are matched, name → value.
    public let secretValues: [String: String]

    public init(secretValues: [String: String] = [:]) {
        self.secretValues = secretValues.filter { $0.value.utf8.count >= Redactor.minimumSecretLength }
        redactor = Redactor(secretValues: self.secretValues)
    }

    /// The text with secrets replaced, and one finding per kind found.
    public func scan(_ text: String, location: String) -> (text: String, findings: [LeakFinding]) {
        let redacted = redactor.redact(text)
        guard redacted != text else { return (text, []) }
        let before = LeakScanner.markers(in: text)
        var counts = LeakScanner.markers(in: redacted)
        for (k, c) in before { counts[k, default: 0] -= c }
        let findings = counts.filter { $0.value > 0 }.sorted { $0.key < $1.key }
            .map { LeakFinding(kind: $0.key, location: location, count: $0.value) }
        return (redacted, findings)
    }

    /// Every string of `value` scanned; base64 payloads (`blob`, and `data` beside a
    /// `mimeType`) are left alone.
    public func scan(_ value: JSONValue, location: String = "") -> (value: JSONValue, findings: [LeakFinding]) {
        var findings: [LeakFinding] = []
        let v = walk(value, location, &findings)
        return (v, findings)
    }

    private func walk(_ value: JSONValue, _ path: String, _ findings: inout [LeakFinding]) -> JSONValue {
        switch value {
        case .string(let s):
            let (t, f) = scan(s, location: path.isEmpty ? "." : path)
            findings += f
            return f.isEmpty ? value : .string(t)
        case .array(let items):
            return .array(items.enumerated().map { walk($1, "\(path)[\($0)]", &findings) })
        case .object(let members):
            let binary = value["mimeType"] != nil
            return .object(
                members.map { key, v in
                    if key == "blob" || (binary && key == "data") { return (key, v) }
                    return (key, walk(v, path.isEmpty ? key : path + "." + key, &findings))
                })
        default:
            return value
        }
    }

    /// Counts of `[REDACTED:KIND]` markers by kind.
    static func markers(in text: String) -> [String: Int] {
        var counts: [String: Int] = [:]
        var rest = Substring(text)
        while let start = rest.firstRange(of: "[REDACTED:") {
            rest = rest[start.upperBound...]
            guard let close = rest.firstIndex(of: "]") else { break }
            counts[String(rest[..<close]), default: 0] += 1
            rest = rest[rest.index(after: close)...]
        }
        return counts
    }
}
