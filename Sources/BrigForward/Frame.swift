#if canImport(Glibc)
import Glibc
#endif

/// What the forwarder reads from a record line without parsing all of it, and the syslog frame it
/// ships: RFC 5424 with the record, unchanged, as the MSG; octet-counted (RFC 6587 3.4.1) for TCP
/// and TLS (RFC 5425), the same message as a RELP `syslog` command's data.
public enum SyslogFrame {
    /// Facility authpriv (10): severity notice (5) for records, warning (4) for alerts
    /// (`event.kind: alert`: denials, blocked syscalls, failures).
    public static let noticePriority = 85
    public static let warningPriority = 84

    /// `<PRI>1 TIMESTAMP HOST brig - audit - RECORD` (the record's own `@timestamp`; `-` when
    /// the line does not start like a record).
    public static func message(record: ArraySlice<UInt8>, host: [UInt8]) -> [UInt8] {
        var out: [UInt8] = []
        out.reserveCapacity(record.count + 96)
        append(record: record, host: host, to: &out)
        return out
    }

    private static let noticeHead = Array("<85>1 ".utf8)
    private static let warningHead = Array("<84>1 ".utf8)
    private static let appHead = Array(" brig - audit - ".utf8)

    static func append(record: ArraySlice<UInt8>, host: [UInt8], to out: inout [UInt8]) {
        let ts = timestamp(record)
        out.append(contentsOf: ts.map { isAlert(record, afterTimestamp: $0.endIndex) } ?? false ? warningHead : noticeHead)
        if let ts { out.append(contentsOf: ts) } else { out.append(UInt8(ascii: "-")) }
        out.append(0x20)
        out.append(contentsOf: host)
        out.append(contentsOf: appHead)
        out.append(contentsOf: record)
    }

    /// `LEN SP MSG`: the octet-counted frame of one record.
    public static func octetCounted(record: ArraySlice<UInt8>, host: [UInt8]) -> [UInt8] {
        var out: [UInt8] = []
        appendOctetCounted(record: record, host: host, to: &out)
        return out
    }

    public static func appendOctetCounted(record: ArraySlice<UInt8>, host: [UInt8], to out: inout [UInt8]) {
        // The length's digits go first: the header's length is known before it is written.
        let ts = timestamp(record)
        let length = noticeHead.count + (ts?.count ?? 1) + 1 + host.count + appHead.count + record.count
        var digits: [UInt8] = []
        var n = length
        repeat {
            digits.append(UInt8(0x30 + n % 10))
            n /= 10
        } while n > 0
        out.append(contentsOf: digits.reversed())
        out.append(0x20)
        append(record: record, host: host, to: &out)
    }

    /// Splits octet-counted frames (for tests and the collector-side tooling): the messages, or
    /// nil when the bytes are not a sequence of whole frames.
    public static func splitOctetCounted(_ bytes: [UInt8]) -> [[UInt8]]? {
        var out: [[UInt8]] = []
        var i = 0
        while i < bytes.count {
            var n = 0, digits = 0
            while i < bytes.count, bytes[i] >= 0x30, bytes[i] <= 0x39, digits < 10 {
                n = n * 10 + Int(bytes[i] - 0x30)
                i += 1
                digits += 1
            }
            guard digits > 0, i < bytes.count, bytes[i] == 0x20, i + 1 + n <= bytes.count else { return nil }
            out.append(Array(bytes[(i + 1)..<(i + 1 + n)]))
            i += 1 + n
        }
        return out
    }

    /// The hostname field: printable US-ASCII without spaces, at most 255 (RFC 5424 6.2.4).
    public static func hostField(_ name: String) -> [UInt8] {
        let bytes = Array(name.utf8.filter { $0 > 0x20 && $0 < 0x7F }.prefix(255))
        return bytes.isEmpty ? [UInt8(ascii: "-")] : bytes
    }

    private static let timestampKey = Array("{\"@timestamp\":\"".utf8)

    /// The record's `@timestamp` text (RFC 3339, as RFC 5424 wants it).
    static func timestamp(_ record: ArraySlice<UInt8>) -> ArraySlice<UInt8>? {
        let keyCount = timestampKey.count
        guard record.count > keyCount + 20 else { return nil }
        return record.withUnsafeBufferPointer { buf -> ArraySlice<UInt8>? in
            guard memcmp(buf.baseAddress!, timestampKey, keyCount) == 0 else { return nil }
            var i = keyCount
            let limit = min(buf.count, keyCount + 40)
            while i < limit {
                let c = buf[i]
                if c == 0x22 { break }
                // digits, `:`, `-`, `.`, `T`, `Z`, `+`
                guard (c >= 0x30 && c <= 0x3A) || c == 0x2D || c == 0x2E || c == 0x54 || c == 0x5A || c == 0x2B else { return nil }
                i += 1
            }
            guard i < limit, i > keyCount else { return nil }
            return record[(record.startIndex + keyCount)..<(record.startIndex + i)]
        }
    }

    private static let alertKind = Array("\",\"event\":{\"kind\":\"alert\"".utf8)

    /// `event.kind` is `alert`: right after the timestamp, where the writer puts it.
    static func isAlert(_ record: ArraySlice<UInt8>, afterTimestamp end: Int) -> Bool {
        guard end + alertKind.count <= record.endIndex else { return false }
        return record[end..<(end + alertKind.count)].withUnsafeBufferPointer { memcmp($0.baseAddress!, alertKind, alertKind.count) == 0 }
    }
}

/// The chain fields of a record line, read from where the writer puts them: `event.sequence`, and
/// `brig.mac` as the line's last 64 hex digits (`,"mac":"<64 hex>"}}`).
public struct RecordMark: Sendable, Equatable {
    public var sequence: UInt64
    public var mac: String

    private static let sequenceKey = Array("\"sequence\":".utf8)
    private static let macKey = Array(",\"mac\":\"".utf8)

    public init?(line: ArraySlice<UInt8>) {
        // `,"mac":"` + 64 hex + `"}}`
        let tail = 8 + 64 + 3
        guard line.count > tail else { return nil }
        let found: (UInt64, String)? = line.withUnsafeBufferPointer { buf -> (UInt64, String)? in
            let base = buf.baseAddress!
            let macStart = buf.count - tail
            guard memcmp(base + macStart, RecordMark.macKey, 8) == 0, buf[buf.count - 3] == 0x22,
                buf[buf.count - 2] == 0x7D, buf[buf.count - 1] == 0x7D
            else { return nil }
            for k in (macStart + 8)..<(macStart + 72) {
                let c = buf[k]
                guard (c >= 0x30 && c <= 0x39) || (c >= 0x61 && c <= 0x66) else { return nil }
            }
            // event.sequence: the first "sequence": of the line is event's (event comes second,
            // before any payload).
            let key = RecordMark.sequenceKey
            let limit = min(buf.count, 400) - key.count
            var at = -1
            var i = 0
            while i < limit {
                if buf[i] == 0x22, memcmp(base + i, key, key.count) == 0 { at = i; break }
                i += 1
            }
            guard at >= 0 else { return nil }
            var j = at + key.count
            var n: UInt64 = 0, digits = 0
            while j < buf.count, buf[j] >= 0x30, buf[j] <= 0x39, digits < 19 {
                n = n * 10 + UInt64(buf[j] - 0x30)
                j += 1
                digits += 1
            }
            guard digits > 0 else { return nil }
            return (n, String(decoding: UnsafeBufferPointer(rebasing: buf[(macStart + 8)..<(macStart + 72)]), as: UTF8.self))
        }
        guard let found else { return nil }
        (sequence, mac) = found
    }

    public init(sequence: UInt64, mac: String) {
        self.sequence = sequence
        self.mac = mac
    }
}
