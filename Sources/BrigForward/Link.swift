import BrigSystem
import CLibssl

#if canImport(Glibc)
@preconcurrency import Glibc
#endif

/// Where the forwarder ships records: `tcp://HOST:PORT` (RFC 6587 octet counting), `tls://HOST:PORT`
/// (RFC 5425), `relp://HOST:PORT` (RELP, acknowledged).
public struct ForwardTarget: Sendable, Equatable, CustomStringConvertible {
    public enum Transport: String, Sendable { case tcp, tls, relp }
    public var transport: Transport
    public var host: String
    public var port: UInt16

    /// Parses `SCHEME://HOST:PORT` (`[v6]:PORT` for an IPv6 address); nil with the reason.
    public static func parse(_ text: String) -> Result<ForwardTarget, ForwardError> {
        let parts = text.split(separator: "://", maxSplits: 1, omittingEmptySubsequences: false)
        guard parts.count == 2 else {
            return .failure(ForwardError("--to \(text): expected tcp://HOST:PORT, tls://HOST:PORT or relp://HOST:PORT"))
        }
        guard let transport = Transport(rawValue: parts[0].lowercased()) else {
            return .failure(ForwardError("--to \(text): unknown scheme \"\(parts[0])\" (tcp, tls or relp)"))
        }
        var rest = parts[1]
        if rest.hasSuffix("/") { rest = rest.dropLast() }
        let host: Substring, portText: Substring
        if rest.hasPrefix("[") {
            guard let close = rest.firstIndex(of: "]"), rest[rest.index(after: close)...].hasPrefix(":") else {
                return .failure(ForwardError("--to \(text): expected [ADDRESS]:PORT"))
            }
            host = rest[rest.index(after: rest.startIndex)..<close]
            portText = rest[rest.index(close, offsetBy: 2)...]
        } else {
            guard let colon = rest.lastIndex(of: ":") else {
                return .failure(ForwardError("--to \(text): the port is missing (HOST:PORT)"))
            }
            host = rest[..<colon]
            portText = rest[rest.index(after: colon)...]
        }
        guard !host.isEmpty else { return .failure(ForwardError("--to \(text): the host is missing")) }
        guard let port = UInt16(portText), port > 0 else {
            return .failure(ForwardError("--to \(text): bad port \"\(portText)\""))
        }
        return .success(ForwardTarget(transport: transport, host: String(host), port: port))
    }

    public var description: String { "\(transport.rawValue)://\(host.contains(":") ? "[\(host)]" : host):\(port)" }
}

public struct ForwardError: Error, CustomStringConvertible, Sendable {
    public var description: String
    public init(_ description: String) { self.description = description }
}

/// TLS settings: the CA file that the collector's certificate must chain to (else the system's
/// CAs), and an optional client certificate and key.
public struct TLSSettings: Sendable {
    public var caFile: String?
    public var certFile: String?
    public var keyFile: String?
    public init(caFile: String?, certFile: String?, keyFile: String?) {
        self.caFile = caFile
        self.certFile = certFile
        self.keyFile = keyFile
    }
}

/// One connection to the collector: a TCP socket, with TLS over it for `tls://`.
final class Link {
    let fd: Int32
    private var ssl: OpaquePointer?
    private var ctx: OpaquePointer?
    /// Bytes handed to the socket so far (TLS: the encrypted bytes), for `acknowledged`.
    private(set) var written: UInt64 = 0
    private var readBuffer = [UInt8](repeating: 0, count: 1 << 16)

    private init(fd: Int32) { self.fd = fd }

    deinit {
        if let ssl { SSL_free(ssl) }
        if let ctx { SSL_CTX_free(ctx) }
        Glibc.close(fd)
    }

    /// Connects within `timeoutMillis`; with `tls`, completes the handshake and checks the
    /// certificate against the CA and the host name.
    static func connect(_ target: ForwardTarget, tls: TLSSettings?, timeoutMillis: Int32 = 5000) throws(ForwardError) -> Link {
        var hints = addrinfo()
        hints.ai_socktype = Int32(SOCK_STREAM.rawValue)
        hints.ai_family = AF_UNSPEC
        var res: UnsafeMutablePointer<addrinfo>?
        let rc = getaddrinfo(target.host, String(target.port), &hints, &res)
        guard rc == 0, let first = res else {
            throw ForwardError("\(target): cannot resolve \(target.host): \(String(cString: gai_strerror(rc)))")
        }
        defer { freeaddrinfo(res) }
        var lastError = "no address"
        var ai: UnsafeMutablePointer<addrinfo>? = first
        while let a = ai {
            ai = a.pointee.ai_next
            let fd = socket(a.pointee.ai_family, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue) | Int32(SOCK_NONBLOCK.rawValue), 0)
            if fd < 0 { lastError = SystemError.text(); continue }
            var r = Glibc.connect(fd, a.pointee.ai_addr, a.pointee.ai_addrlen)
            if r != 0 && errno == EINPROGRESS {
                var p = pollfd(fd: fd, events: Int16(POLLOUT), revents: 0)
                if poll(&p, 1, timeoutMillis) == 1 {
                    var err: Int32 = 0
                    var len = socklen_t(MemoryLayout<Int32>.size)
                    getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &len)
                    r = err == 0 ? 0 : -1
                    if err != 0 { errno = err }
                } else {
                    errno = ETIMEDOUT
                }
            }
            if r != 0 { lastError = SystemError.text(); Glibc.close(fd); continue }
            // Blocking from here, with timeouts: a collector that stops reading for 30 s is dropped and reconnected.
            let flags = fcntl(fd, F_GETFL)
            _ = fcntl(fd, F_SETFL, flags & ~O_NONBLOCK)
            var tv = timeval(tv_sec: 30, tv_usec: 0)
            setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, socklen_t(MemoryLayout<timeval>.size))
            var rtv = timeval(tv_sec: 10, tv_usec: 0)
            setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &rtv, socklen_t(MemoryLayout<timeval>.size))
            var one: Int32 = 1
            setsockopt(fd, SOL_SOCKET, SO_KEEPALIVE, &one, socklen_t(MemoryLayout<Int32>.size))
            let link = Link(fd: fd)
            if let tls { try link.startTLS(target, tls) }
            return link
        }
        throw ForwardError("\(target): cannot connect: \(lastError)")
    }

    static func sslError(_ what: String) -> ForwardError {
        var text = what
        var code = ERR_get_error()
        var parts: [String] = []
        while code != 0 {
            var buf = [CChar](repeating: 0, count: 256)
            ERR_error_string_n(code, &buf, buf.count)
            parts.append(String(decoding: buf.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self))
            code = ERR_get_error()
        }
        if !parts.isEmpty { text += ": " + parts.joined(separator: "; ") }
        return ForwardError(text)
    }

    private func startTLS(_ target: ForwardTarget, _ settings: TLSSettings) throws(ForwardError) {
        guard let ctx = SSL_CTX_new(TLS_client_method()) else { throw Link.sslError("\(target): TLS: cannot create a context") }
        self.ctx = ctx
        _ = brig_ssl_ctx_set_min_tls12(ctx)
        if let ca = settings.caFile {
            guard SSL_CTX_load_verify_locations(ctx, ca, nil) == 1 else { throw Link.sslError("\(ca): cannot load the CA file") }
        } else {
            SSL_CTX_set_default_verify_paths(ctx)
        }
        SSL_CTX_set_verify(ctx, SSL_VERIFY_PEER, nil)
        if let cert = settings.certFile {
            guard SSL_CTX_use_certificate_chain_file(ctx, cert) == 1 else { throw Link.sslError("\(cert): cannot load the client certificate") }
            let key = settings.keyFile ?? cert
            guard SSL_CTX_use_PrivateKey_file(ctx, key, SSL_FILETYPE_PEM) == 1 else { throw Link.sslError("\(key): cannot load the client key") }
            guard SSL_CTX_check_private_key(ctx) == 1 else { throw Link.sslError("\(key): the key does not match the certificate \(cert)") }
        }
        guard let ssl = SSL_new(ctx) else { throw Link.sslError("\(target): TLS: cannot create a session") }
        self.ssl = ssl
        _ = brig_ssl_set_host_name(ssl, target.host)
        guard SSL_set1_host(ssl, target.host) == 1 else { throw Link.sslError("\(target): TLS: bad host name") }
        SSL_set_fd(ssl, fd)
        if SSL_connect(ssl) != 1 {
            let verify = SSL_get_verify_result(ssl)
            if verify != X509_V_OK {
                throw ForwardError("\(target): TLS: the collector's certificate is not accepted: \(String(cString: X509_verify_cert_error_string(verify)))")
            }
            throw Link.sslError("\(target): TLS handshake failed")
        }
    }

    /// Writes all of `bytes` (blocking).
    func send(_ bytes: [UInt8]) throws(ForwardError) {
        var done = 0
        while done < bytes.count {
            let n: Int = bytes[done...].withUnsafeBytes { b in
                if let ssl { return Int(SSL_write(ssl, b.baseAddress, Int32(min(b.count, 1 << 30)))) }
                return Glibc.send(fd, b.baseAddress, b.count, Int32(MSG_NOSIGNAL))
            }
            if n <= 0 {
                if ssl == nil, n < 0, errno == EINTR { continue }
                throw ForwardError("send: \(ssl == nil ? SystemError.text() : "TLS write failed")")
            }
            done += n
        }
        if let ssl {
            written = UInt64(BIO_number_written(SSL_get_wbio(ssl)))
        } else {
            written += UInt64(bytes.count)
        }
    }

    /// Bytes written that the collector's TCP has acknowledged.
    func acknowledged() -> UInt64? {
        let q = brig_unacked_bytes(fd)
        guard q >= 0 else { return nil }
        return written >= UInt64(q) ? written - UInt64(q) : 0
    }

    /// Whether the peer closed or reset the connection (a readable socket with nothing to read).
    func peerClosed() -> Bool {
        var p = pollfd(fd: fd, events: Int16(POLLIN), revents: 0)
        guard poll(&p, 1, 0) == 1 else { return false }
        if p.revents & Int16(POLLERR | POLLHUP) != 0 { return true }
        // The raw socket, TLS or not: end of stream means the collector closed it.
        var b: UInt8 = 0
        let n = recv(fd, &b, 1, Int32(MSG_PEEK | MSG_DONTWAIT))
        return n == 0 || (n < 0 && errno != EAGAIN && errno != EWOULDBLOCK)
    }

    /// Reads what has arrived (waiting up to `timeoutMillis`); nil when the peer closed.
    func receive(timeoutMillis: Int32) throws(ForwardError) -> [UInt8] {
        var p = pollfd(fd: fd, events: Int16(POLLIN), revents: 0)
        if ssl.map({ SSL_pending($0) }) ?? 0 == 0 {
            guard poll(&p, 1, timeoutMillis) == 1 else { return [] }
        }
        let n: Int = readBuffer.withUnsafeMutableBytes { b in
            if let ssl { return Int(SSL_read(ssl, b.baseAddress, Int32(b.count))) }
            return recv(fd, b.baseAddress, b.count, Int32(MSG_DONTWAIT))
        }
        if n < 0, ssl == nil, errno == EAGAIN || errno == EINTR { return [] }
        if n <= 0 { throw ForwardError("the collector closed the connection") }
        return Array(readBuffer[0..<n])
    }

    func shutdownWrite() {
        if let ssl { SSL_shutdown(ssl) }
        Glibc.shutdown(fd, Int32(SHUT_WR))
    }
}

/// RELP framing (librelp's protocol): `TXNR SP COMMAND SP DATALEN [SP DATA] LF`.
public enum RELPFrame {
    public static func frame(txnr: UInt64, command: String, data: [UInt8]) -> [UInt8] {
        var out = Array("\(txnr) \(command) \(data.count)".utf8)
        if !data.isEmpty {
            out.append(0x20)
            out += data
        }
        out.append(0x0A)
        return out
    }

    public static let openData = Array("relp_version=0\nrelp_software=brig\ncommands=syslog".utf8)

    public struct Response: Sendable, Equatable {
        public var txnr: UInt64
        public var command: String
        public var code: Int
        public var text: String
    }

    /// Takes the complete frames off the front of `buffer`; throws on bytes that are not RELP.
    public static func parse(_ buffer: inout [UInt8]) throws(ForwardError) -> [Response] {
        var out: [Response] = []
        var i = 0
        func number(_ i: inout Int) -> UInt64? {
            var n: UInt64 = 0, d = 0
            while i < buffer.count, buffer[i] >= 0x30, buffer[i] <= 0x39, d < 12 {
                n = n * 10 + UInt64(buffer[i] - 0x30)
                i += 1
                d += 1
            }
            return d > 0 ? n : nil
        }
        while true {
            var j = i
            guard let txnr = number(&j) else {
                if j < buffer.count { throw ForwardError("RELP: a frame does not start with a transaction number") }
                break
            }
            guard j < buffer.count else { break }
            guard buffer[j] == 0x20 else { throw ForwardError("RELP: bad frame") }
            j += 1
            let cmdStart = j
            while j < buffer.count, buffer[j] != 0x20, j - cmdStart < 32 { j += 1 }
            guard j < buffer.count else { break }
            guard buffer[j] == 0x20 else { throw ForwardError("RELP: bad command") }
            let command = String(decoding: buffer[cmdStart..<j], as: UTF8.self)
            j += 1
            guard let len = number(&j) else {
                if j >= buffer.count { break }
                throw ForwardError("RELP: bad data length")
            }
            let dataStart = len > 0 ? j + 1 : j
            guard dataStart + Int(len) < buffer.count else { break }
            guard buffer[dataStart + Int(len)] == 0x0A else { throw ForwardError("RELP: frame without its trailer") }
            let data = Array(buffer[dataStart..<(dataStart + Int(len))])
            var code = 0
            var k = 0
            while k < data.count, data[k] >= 0x30, data[k] <= 0x39, k < 3 { code = code * 10 + Int(data[k] - 0x30); k += 1 }
            out.append(Response(txnr: txnr, command: command, code: code, text: String(decoding: data, as: UTF8.self)))
            i = dataStart + Int(len) + 1
        }
        if i > 0 { buffer.removeSubrange(..<i) }
        return out
    }
}
