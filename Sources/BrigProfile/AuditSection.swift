import BrigSystem
import Yams

/// What an audit record keeps of a message's params/result/error.
public enum AuditPayloads: String, Sendable, CaseIterable {
    /// The payload with secrets replaced by `[REDACTED:...]` markers (by key name, value pattern,
    /// and the exact values of injected secrets).
    case redacted
    /// The SHA-256 of the message line, hex.
    case hash
    /// No payload.
    case none
    /// The payload as sent.
    case full
}

/// When the audit writer calls `fsync`.
public enum AuditFsync: String, Sendable, CaseIterable {
    /// After every batch of records (and the caller waits for its record to be durable).
    case always
    /// At most once a second while records arrive, and at session end.
    case interval
    /// Never (the kernel writes back in its own time).
    case never
}

/// What happens when a record cannot be written (ENOSPC, EIO, EFBIG).
public enum AuditOnFailure: String, Sendable, CaseIterable {
    /// The log becomes unhealthy: the relay stops forwarding and answers requests with an error.
    case block
    /// Keep relaying; one line on stderr per failure burst; lost records are counted in the log.
    case `continue`
}

/// The `audit:` section of a profile.
///
/// ```yaml
/// audit:
///   enabled: true
///   path: "$XDG_STATE_HOME/brig/audit/NAME.jsonl"   # "-" = stderr
///   payloads: redacted            # redacted | hash | none | full
///   key_file: "~/.config/brig/audit.key"
///   anchor: "$XDG_STATE_HOME/brig/audit/NAME.anchor"
///   anchor_every: {records: 100, seconds: 5}
///   rotate: {max_bytes: 64MiB, keep: 10}
///   fsync: interval               # always | interval | never
///   on_failure: block             # block | continue
///   redact_keys: [password, token]
///   syslog: false
/// ```
public struct AuditSettings: Sendable, Equatable {
    /// Whether brig writes an audit trail at all.
    public var enabled: Bool = true
    /// The log file (variables expanded, absolute), `"-"` for stderr; nil = the default
    /// `$XDG_STATE_HOME/brig/audit/NAME.jsonl` where NAME is the profile's name.
    public var path: String? = nil
    public var payloads: AuditPayloads = .redacted
    /// The HMAC key file; nil = the default `$XDG_STATE_HOME/brig/audit.key`, created on first use.
    public var keyFile: String? = nil
    /// Where the latest sequence and MAC are kept; nil = no anchor.
    public var anchor: String? = nil
    /// The anchor is rewritten after this many records...
    public var anchorEveryRecords: Int = 100
    /// ... or this many seconds (whichever comes first), and at session end.
    public var anchorEverySeconds: Double = 5
    /// A log file is rotated before it would grow past this size.
    public var rotateMaxBytes: UInt64 = 64 << 20
    /// Rotated files kept (`NAME.jsonl.1` ... `NAME.jsonl.KEEP`).
    public var rotateKeep: Int = 10
    public var fsync: AuditFsync = .interval
    public var onFailure: AuditOnFailure = .block
    /// Key names redacted in addition to the built-in list (case-insensitive substrings).
    public var redactKeys: [String] = []
    /// Forward denials and blocked syscalls to /dev/log as RFC 5424 messages.
    public var syslog: Bool = false

    public init() {}
}

/// One file's `audit:` section before `extends` merging: what it sets overrides the parent,
/// `redact_keys` appends.
struct AuditLayer {
    var enabled: Bool?
    var path: String?
    var payloads: AuditPayloads?
    var keyFile: String?
    var anchor: String?
    var anchorEveryRecords: Int?
    var anchorEverySeconds: Double?
    var rotateMaxBytes: UInt64?
    var rotateKeep: Int?
    var fsync: AuditFsync?
    var onFailure: AuditOnFailure?
    var redactKeys: [String] = []
    var syslog: Bool?

    func apply(to base: AuditSettings) -> AuditSettings {
        var s = base
        if let enabled { s.enabled = enabled }
        if let path { s.path = path }
        if let payloads { s.payloads = payloads }
        if let keyFile { s.keyFile = keyFile }
        if let anchor { s.anchor = anchor }
        if let anchorEveryRecords { s.anchorEveryRecords = anchorEveryRecords }
        if let anchorEverySeconds { s.anchorEverySeconds = anchorEverySeconds }
        if let rotateMaxBytes { s.rotateMaxBytes = rotateMaxBytes }
        if let rotateKeep { s.rotateKeep = rotateKeep }
        if let fsync { s.fsync = fsync }
        if let onFailure { s.onFailure = onFailure }
        if let syslog { s.syslog = syslog }
        appendUnique(&s.redactKeys, redactKeys)
        return s
    }
}

extension Vocabulary {
    static let auditKeys = [
        "enabled", "path", "payloads", "key_file", "anchor", "anchor_every", "rotate",
        "fsync", "on_failure", "redact_keys", "syslog",
    ]
    static let anchorEveryKeys = ["records", "seconds"]
    static let rotateKeys = ["max_bytes", "keep"]
}

extension DocumentParser {
    func parseAudit(_ node: Node, into layer: inout AuditLayer) throws(ProfileError) {
        for (key, _, value) in try entries(node, "audit", allowed: Vocabulary.auditKeys, nullIsEmpty: true) {
            let path = "audit." + key
            switch key {
            case "enabled": layer.enabled = try bool(value, path)
            case "syslog": layer.syslog = try bool(value, path)
            case "path":
                if try string(value, path) == "-" {
                    layer.path = "-"
                } else if let p = try self.path(value, path) {
                    layer.path = p
                }
            case "key_file":
                if let p = try self.path(value, path) { layer.keyFile = p }
            case "anchor":
                if let p = try self.path(value, path) { layer.anchor = p }
            case "payloads":
                layer.payloads = try choice(value, path, AuditPayloads.self, AuditPayloads.allCases.map(\.rawValue))
            case "fsync":
                layer.fsync = try choice(value, path, AuditFsync.self, AuditFsync.allCases.map(\.rawValue))
            case "on_failure":
                layer.onFailure = try choice(value, path, AuditOnFailure.self, AuditOnFailure.allCases.map(\.rawValue))
            case "anchor_every":
                for (k, _, v) in try entries(value, path, allowed: Vocabulary.anchorEveryKeys) {
                    let sub = path + "." + k
                    if k == "records" {
                        layer.anchorEveryRecords = try positiveInt(v, sub)
                    } else {
                        guard case .scalar(let s) = v, let d = Double(s.string), d > 0, d.isFinite else {
                            throw fail(v, sub, "expected a number of seconds greater than 0, got \(kind(v))")
                        }
                        layer.anchorEverySeconds = d
                    }
                }
            case "rotate":
                for (k, _, v) in try entries(value, path, allowed: Vocabulary.rotateKeys) {
                    let sub = path + "." + k
                    if k == "keep" {
                        layer.rotateKeep = try positiveInt(v, sub)
                    } else {
                        guard case .scalar(let s) = v, !isNull(v), let n = ByteSize.parse(s.string), n != UInt64.max else {
                            throw fail(v, sub, "expected a size like 64MiB, 64M or 64MB, got \(kind(v))")
                        }
                        guard n >= 4096 else { throw fail(v, sub, "must be at least 4096 bytes, got \(n)") }
                        layer.rotateMaxBytes = n
                    }
                }
            case "redact_keys":
                for (s, item) in try strings(value, path) {
                    let k = s.lowercased()
                    guard !k.isEmpty, !k.contains(where: { $0 == " " || $0 == "\t" }) else {
                        throw fail(item, path, "\"\(s)\" is not a key name (expected a word without spaces)")
                    }
                    appendUnique(&layer.redactKeys, [k])
                }
            default: break
            }
        }
    }

    func bool(_ node: Node, _ path: String) throws(ProfileError) -> Bool {
        guard case .scalar(let s) = node, !isNull(node) else {
            throw fail(node, path, "expected true or false, got \(kind(node))")
        }
        switch s.string {
        case "true", "True", "TRUE", "yes", "on": return true
        case "false", "False", "FALSE", "no", "off": return false
        default: throw fail(node, path, "expected true or false, got \"\(s.string)\"")
        }
    }

    func positiveInt(_ node: Node, _ path: String) throws(ProfileError) -> Int {
        guard case .scalar(let s) = node, let n = Int(s.string), n > 0 else {
            throw fail(node, path, "expected a whole number greater than 0, got \(kind(node))")
        }
        return n
    }
}
