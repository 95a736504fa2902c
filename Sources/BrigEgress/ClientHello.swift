import BrigProfile

/// The first bytes a client sends through a CONNECT tunnel, read as a TLS ClientHello far enough
/// to find its server name (RFC 8446 §4.1.2, RFC 6066 §3), so that a tunnel to an allowed name
/// cannot ask the far end for another (domain fronting by SNI).
public enum ClientHello {
    /// What the bytes so far are.
    public enum Scan: Sendable, Equatable {
        /// The first byte is not a TLS handshake record's: another protocol, passed as it is.
        case notTLS
        /// A ClientHello under way: at least this many bytes in all are needed.
        case needMore(Int)
        /// A whole ClientHello, with its `host_name` (lowercase, a trailing dot dropped), if any.
        case hello(serverName: String?)
        /// Starts like TLS but is not a ClientHello brig can read: refused, never passed.
        case malformed(String)
    }

    /// The most bytes the proxy waits for (records with their headers).
    public static let limit = 32 << 10
    /// The longest ClientHello message read.
    static let helloLimit = 16 << 10

    /// Reads the front of a tunnel's client-to-server stream.
    public static func scan(_ bytes: UnsafeRawBufferPointer) -> Scan {
        guard !bytes.isEmpty else { return .needMore(1) }
        guard bytes[0] == 0x16 else { return .notTLS }
        var handshake: [UInt8] = []
        var pos = 0
        while true {
            guard bytes.count >= pos + 5 else { return .needMore(pos + 5) }
            guard bytes[pos] == 0x16 else { return .malformed("a TLS record that is not a handshake inside the ClientHello") }
            guard bytes[pos + 1] == 3 else { return .malformed("a TLS record of an unknown version") }
            let length = Int(bytes[pos + 3]) << 8 | Int(bytes[pos + 4])
            guard length > 0, length <= 18432 else { return .malformed("a TLS record of length \(length)") }
            guard pos + 5 + length <= limit else { return .malformed("a ClientHello over \(limit) bytes") }
            guard bytes.count >= pos + 5 + length else { return .needMore(pos + 5 + length) }
            handshake += bytes[(pos + 5)..<(pos + 5 + length)]
            pos += 5 + length
            guard handshake.count >= 4 else { continue }
            guard handshake[0] == 1 else { return .malformed("the first TLS handshake message is not a ClientHello") }
            let helloLength = Int(handshake[1]) << 16 | Int(handshake[2]) << 8 | Int(handshake[3])
            guard helloLength <= helloLimit else { return .malformed("a ClientHello of \(helloLength) bytes") }
            if handshake.count >= 4 + helloLength { return parse(handshake[4..<(4 + helloLength)]) }
        }
    }

    public static func scan(_ bytes: [UInt8]) -> Scan { bytes.withUnsafeBytes { scan($0) } }

    /// A cursor over the ClientHello's body.
    private struct Reader {
        let bytes: ArraySlice<UInt8>
        var at: Int
        init(_ bytes: ArraySlice<UInt8>) {
            self.bytes = bytes
            at = bytes.startIndex
        }
        var atEnd: Bool { at == bytes.endIndex }
        mutating func skip(_ n: Int) -> Bool {
            guard bytes.endIndex - at >= n else { return false }
            at += n
            return true
        }
        mutating func number(_ width: Int) -> Int? {
            guard bytes.endIndex - at >= width else { return nil }
            var n = 0
            for i in 0..<width { n = n << 8 | Int(bytes[at + i]) }
            at += width
            return n
        }
        /// A vector with a length prefix of `width` bytes.
        mutating func vector(_ width: Int) -> ArraySlice<UInt8>? {
            guard let n = number(width), bytes.endIndex - at >= n else { return nil }
            defer { at += n }
            return bytes[at..<(at + n)]
        }
    }

    static func parse(_ body: ArraySlice<UInt8>) -> Scan {
        var r = Reader(body)
        guard r.skip(2 + 32) else { return .malformed("a ClientHello cut short") }
        guard let session = r.vector(1), session.count <= 32 else { return .malformed("a bad ClientHello session id") }
        guard let suites = r.vector(2), suites.count >= 2, suites.count % 2 == 0 else { return .malformed("bad ClientHello cipher suites") }
        guard let compression = r.vector(1), !compression.isEmpty else { return .malformed("bad ClientHello compression methods") }
        if r.atEnd { return .hello(serverName: nil) }
        guard let extensions = r.vector(2), r.atEnd else { return .malformed("bad ClientHello extensions") }
        var e = Reader(extensions)
        var name: String?
        var sawServerName = false
        while !e.atEnd {
            guard let type = e.number(2), let data = e.vector(2) else { return .malformed("a ClientHello extension cut short") }
            guard type == 0 else { continue }
            guard !sawServerName else { return .malformed("two server_name extensions") }
            sawServerName = true
            var s = Reader(data)
            guard let list = s.vector(2), s.atEnd, !list.isEmpty else { return .malformed("a bad server_name extension") }
            var l = Reader(list)
            while !l.atEnd {
                guard let kind = l.number(1), let entry = l.vector(2), !entry.isEmpty else { return .malformed("a bad server_name entry") }
                guard kind == 0 else { continue }
                guard name == nil else { return .malformed("two host names in server_name") }
                guard case .success(let labels) = HostName.labels(Substring(decoding: entry, as: UTF8.self)) else {
                    return .malformed("a server name that is not a host name")
                }
                name = labels.joined(separator: ".")
            }
        }
        return .hello(serverName: name)
    }
}
