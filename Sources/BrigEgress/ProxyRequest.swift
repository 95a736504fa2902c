import BrigSystem

/// A request to the egress proxy, read from its head (bytes from the confined server, so
/// untrusted): `CONNECT host:port` (a tunnel) or an absolute-form plain HTTP request
/// (`GET http://host[:port]/path HTTP/1.1`), whose head is rewritten for the origin.
public struct ProxyRequest: Sendable, Equatable {
    public enum Kind: String, Sendable { case connect, http }

    public var kind: Kind
    public var method: String
    /// The host as the request names it, lowercase, IPv6 without brackets.
    public var host: String
    public var port: UInt16
    /// For `http`: the head to send to the origin (origin-form target, `Proxy-Connection`,
    /// `Proxy-Authorization`, `Connection` and `Keep-Alive` removed, `Connection: close`, a
    /// `Host` added when the request had none). Empty for `connect`.
    public var upstreamHead: [UInt8]

    /// `host:port` with IPv6 in brackets, as refusals name the destination.
    public var destination: String { ProxyRequest.destination(host, port) }

    static func destination(_ host: String, _ port: UInt16) -> String { host.contains(":") ? "[\(host)]:\(port)" : "\(host):\(port)" }

    /// The largest head the proxy reads.
    public static let headLimit = 16 << 10

    /// Why a head is refused: the status brig answers (400, or 403 for a `Host` that is not the
    /// URL's host) and a one-line reason.
    public struct Failure: Error, Sendable, Equatable, CustomStringConvertible {
        public var status: Int
        public var reason: String
        /// The host and port the request named, when it got that far (for the record).
        public var host: String?
        public var port: UInt16?
        init(_ reason: String, status: Int = 400, host: String? = nil, port: UInt16? = nil) {
            self.status = status
            self.reason = reason
            self.host = host
            self.port = port
        }
        public var description: String { reason }
    }

    private static let methods: Set<String> = ["GET", "HEAD", "POST", "PUT", "DELETE", "OPTIONS", "PATCH", "TRACE"]
    private static let crlfcrlf: [UInt8] = [0x0d, 0x0a, 0x0d, 0x0a]

    /// The length of the head at the front of `bytes` (through the blank line), or nil while
    /// the blank line has not arrived. `from` skips bytes already searched.
    public static func headLength(in bytes: UnsafeRawBufferPointer, from: Int = 0) -> Int? {
        var i = max(0, from - 3)
        // Looks at the fourth byte of each candidate: not LF, no match starts here; neither CR
        // nor LF, none starts at the next three either.
        while i + 4 <= bytes.count {
            if bytes[i + 3] != 0x0a {
                i += bytes[i + 3] == 0x0d ? 1 : 4
                continue
            }
            if bytes[i] == 0x0d && bytes[i + 1] == 0x0a && bytes[i + 2] == 0x0d { return i + 4 }
            i += 1
        }
        return nil
    }

    /// Parses a whole head (request line, header lines, each ending CRLF, then CRLF).
    public static func parse(_ head: some Collection<UInt8>) -> Result<ProxyRequest, Failure> {
        let bytes = Array(head)
        guard bytes.count <= headLimit else { return .failure(Failure("the request head is over \(headLimit) bytes")) }
        guard bytes.count >= 4, Array(bytes.suffix(4)) == crlfcrlf else { return .failure(Failure("the request head does not end with an empty line")) }
        var lines: [ArraySlice<UInt8>] = []
        var start = 0
        var i = 0
        while i < bytes.count - 2 {
            let c = bytes[i]
            if c == 0x0d {
                guard bytes[i + 1] == 0x0a else { return .failure(Failure("a bare CR in the request head")) }
                lines.append(bytes[start..<i])
                i += 2
                start = i
                continue
            }
            if c == 0x0a { return .failure(Failure("a bare LF in the request head")) }
            if c == 0 || (c < 0x20 && c != 0x09) || c == 0x7f { return .failure(Failure("a control character in the request head")) }
            i += 1
        }
        guard let requestLine = lines.first else { return .failure(Failure("no request line")) }
        let parts = requestLine.split(separator: 0x20, omittingEmptySubsequences: false)
        guard parts.count == 3, let method = token(parts[0]) else { return .failure(Failure("a malformed request line")) }
        let version = String(decoding: parts[2], as: UTF8.self)
        guard version == "HTTP/1.1" || version == "HTTP/1.0" else { return .failure(Failure("not an HTTP/1.x request")) }
        var headers: [(name: String, line: ArraySlice<UInt8>, value: ArraySlice<UInt8>)] = []
        for line in lines.dropFirst() {
            guard let colon = line.firstIndex(of: 0x3a), let name = token(line[line.startIndex..<colon]) else {
                return .failure(Failure(line.first == 0x20 || line.first == 0x09 ? "a folded header line" : "a malformed header line"))
            }
            headers.append((name.lowercased(), line, trimmed(line[(colon + 1)...])))
        }
        let target = parts[1]
        if method == "CONNECT" {
            guard let (host, port) = authority(target, defaultPort: nil) else {
                return .failure(Failure("CONNECT wants HOST:PORT, not \"\(String(decoding: target.prefix(100), as: UTF8.self))\""))
            }
            return .success(ProxyRequest(kind: .connect, method: method, host: host, port: port, upstreamHead: []))
        }
        guard methods.contains(method) else { return .failure(Failure("the method \(method.prefix(32)) is not proxied")) }
        let lower = target.prefix(8).map { $0 >= 0x41 && $0 <= 0x5a ? $0 | 0x20 : $0 }
        if lower.starts(with: Array("https://".utf8)) {
            return .failure(Failure("https:// URLs go through CONNECT (set HTTPS_PROXY)"))
        }
        guard lower.starts(with: Array("http://".utf8)) else {
            return .failure(Failure("the proxy takes an absolute URL (http://HOST/PATH) or CONNECT HOST:PORT"))
        }
        let rest = target.dropFirst(7)
        let end = rest.firstIndex { $0 == 0x2f || $0 == 0x3f || $0 == 0x23 } ?? rest.endIndex
        guard let (host, port) = authority(rest[..<end], defaultPort: 80) else {
            return .failure(Failure("a malformed URL authority \"\(String(decoding: rest[..<end].prefix(100), as: UTF8.self))\""))
        }
        var path = Array(rest[end...])
        if path.contains(0x23) { return .failure(Failure("a URL with a fragment", host: host, port: port)) }
        if path.first != 0x2f { path.insert(0x2f, at: 0) }
        var sawHost = false
        for h in headers where h.name == "host" {
            guard !sawHost else { return .failure(Failure("more than one Host header", host: host, port: port)) }
            sawHost = true
            guard let (named, _) = authority(h.value, defaultPort: 80), named == host else {
                let text = String(decoding: h.value.prefix(100), as: UTF8.self)
                return .failure(Failure("the Host header names \(text), not the URL's host \(host)", status: 403, host: host, port: port))
            }
        }
        var out = Array(method.utf8) + [0x20] + path + [0x20] + Array(version.utf8) + [0x0d, 0x0a]
        out.reserveCapacity(bytes.count + 64)
        if !sawHost { out += Array("Host: \(destinationForHost(host, port))\r\n".utf8) }
        for h in headers where !hopByHop.contains(h.name) {
            out += h.line
            out += [0x0d, 0x0a]
        }
        out += Array("Connection: close\r\n\r\n".utf8)
        return .success(ProxyRequest(kind: .http, method: method, host: host, port: port, upstreamHead: out))
    }

    private static let hopByHop: Set<String> = ["proxy-connection", "proxy-authorization", "connection", "keep-alive"]

    private static func destinationForHost(_ host: String, _ port: UInt16) -> String {
        port == 80 ? (host.contains(":") ? "[\(host)]" : host) : destination(host, port)
    }

    /// The bytes of RFC 9110's tchar.
    private static let tchar: [Bool] = (0..<256).map { c in
        (0x30...0x39).contains(c) || (0x41...0x5a).contains(c) || (0x61...0x7a).contains(c) || "!#$%&'*+-.^_`|~".utf8.contains(UInt8(c))
    }

    /// An HTTP token (a method or a header name), at most 64 bytes.
    private static func token(_ b: ArraySlice<UInt8>) -> String? {
        guard !b.isEmpty, b.count <= 64, b.allSatisfy({ tchar[Int($0)] }) else { return nil }
        return String(decoding: b, as: UTF8.self)
    }

    private static func trimmed(_ b: ArraySlice<UInt8>) -> ArraySlice<UInt8> {
        var s = b
        while let f = s.first, f == 0x20 || f == 0x09 { s = s.dropFirst() }
        while let l = s.last, l == 0x20 || l == 0x09 { s = s.dropLast() }
        return s
    }

    /// `host[:port]` or `[v6][:port]` (the port required when there is no default), lowercase,
    /// a trailing dot dropped; no user info, no empty host, ports 1-65535.
    static func authority(_ b: ArraySlice<UInt8>, defaultPort: UInt16?) -> (String, UInt16)? {
        guard !b.isEmpty, b.count <= 300, !b.contains(0x40) else { return nil }
        var hostPart: ArraySlice<UInt8>
        var portPart: ArraySlice<UInt8>?
        if b.first == 0x5b {
            guard let close = b.firstIndex(of: 0x5d) else { return nil }
            hostPart = b[(b.startIndex + 1)..<close]
            let after = b[(close + 1)...]
            if !after.isEmpty {
                guard after.first == 0x3a else { return nil }
                portPart = after.dropFirst()
            }
            guard IPAddress(String(decoding: hostPart, as: UTF8.self))?.family == .v6 else { return nil }
        } else {
            if let colon = b.firstIndex(of: 0x3a) {
                hostPart = b[..<colon]
                portPart = b[(colon + 1)...]
            } else {
                hostPart = b
            }
        }
        if hostPart.last == 0x2e { hostPart = hostPart.dropLast() }
        guard !hostPart.isEmpty else { return nil }
        let port: UInt16
        if let portPart {
            guard !portPart.isEmpty, portPart.count <= 5, portPart.allSatisfy({ $0 >= 0x30 && $0 <= 0x39 }),
                let p = UInt16(String(decoding: portPart, as: UTF8.self)), p > 0
            else { return nil }
            port = p
        } else {
            guard let defaultPort else { return nil }
            port = defaultPort
        }
        let host = String(decoding: hostPart.map { $0 >= 0x41 && $0 <= 0x5a ? $0 | 0x20 : $0 }, as: UTF8.self)
        return (host, port)
    }
}
