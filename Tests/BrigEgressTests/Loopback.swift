import BrigEgress
import BrigProfile
import BrigSystem
import Synchronization

#if canImport(Glibc)
import Glibc
#endif

/// Loopback sockets for the proxy's tests: listeners on 127.0.0.1, far ends that run a handler
/// per connection, clients that read with a timeout. Nothing leaves the machine.
enum Loopback {
    /// A TCP socket listening on 127.0.0.1 at a port the kernel picks.
    static func listen() throws -> (fd: Int32, port: UInt16) {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
        guard fd >= 0 else { throw SystemError("socket") }
        var one: Int32 = 1
        setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, socklen_t(MemoryLayout<Int32>.size))
        let bound = IPAddress(v4: 0x7f00_0001).withSocketAddress(port: 0) { bind(fd, $0, $1) }
        guard bound == 0, Glibc.listen(fd, 512) == 0 else { throw SystemError("bind/listen") }
        var sa = sockaddr_storage()
        var len = socklen_t(MemoryLayout<sockaddr_storage>.size)
        _ = withUnsafeMutablePointer(to: &sa) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(fd, $0, &len) } }
        guard let (_, port) = withUnsafeBytes(of: &sa, { IPAddress.from(socketAddress: $0.baseAddress!) }) else { throw SystemError("getsockname") }
        return (fd, port)
    }

    /// A connected client socket to 127.0.0.1:`port`, reads timing out after `timeout` seconds.
    static func connect(_ port: UInt16, timeout: Int = 5) throws -> Int32 {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
        guard fd >= 0 else { throw SystemError("socket") }
        let r = IPAddress(v4: 0x7f00_0001).withSocketAddress(port: port) { Glibc.connect(fd, $0, $1) }
        guard r == 0 else {
            close(fd)
            throw SystemError("connect")
        }
        var tv = timeval(tv_sec: timeout, tv_usec: 0)
        setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, socklen_t(MemoryLayout<timeval>.size))
        return fd
    }

    static func send(_ fd: Int32, _ bytes: [UInt8]) {
        _ = bytes.withUnsafeBytes { FileSystem.writeAll(fd, $0) }
    }

    static func send(_ fd: Int32, _ text: String) { send(fd, Array(text.utf8)) }

    /// Reads until the peer closes (or the read times out, or `limit` bytes).
    static func readAll(_ fd: Int32, limit: Int = 64 << 20) -> [UInt8] {
        var out: [UInt8] = []
        var buf = [UInt8](repeating: 0, count: 65536)
        while out.count < limit {
            let n = retryingInterrupted { Glibc.read(fd, &buf, buf.count) }
            if n <= 0 { break }
            out += buf[0..<n]
        }
        return out
    }

    /// Reads exactly `count` bytes (fewer when the peer closes or the read times out).
    static func read(_ fd: Int32, count: Int) -> [UInt8] {
        var out: [UInt8] = []
        var buf = [UInt8](repeating: 0, count: 65536)
        while out.count < count {
            let n = retryingInterrupted { Glibc.read(fd, &buf, min(buf.count, count - out.count)) }
            if n <= 0 { break }
            out += buf[0..<n]
        }
        return out
    }

    /// Reads up to the end of an HTTP head (`\r\n\r\n`), byte by byte.
    static func readHead(_ fd: Int32) -> String {
        var out: [UInt8] = []
        var b: UInt8 = 0
        while !out.suffix(4).elementsEqual([0x0d, 0x0a, 0x0d, 0x0a]), retryingInterrupted({ Glibc.read(fd, &b, 1) }) == 1 { out.append(b) }
        return String(decoding: out, as: UTF8.self)
    }
}

/// A far end on 127.0.0.1: each connection it accepts runs `handler` on its own thread, and
/// what it read is kept. `close()` stops it.
final class FarEnd: Sendable {
    let fd: Int32
    let port: UInt16
    private let received = Mutex<[[UInt8]]>([])
    private let accepted = Mutex(0)

    init(_ handler: @escaping @Sendable (Int32, FarEnd) -> Void) throws {
        (fd, port) = try Loopback.listen()
        let listener = fd
        OSThread.start(name: "test-far-end") { [self] in
            while true {
                let c = accept(listener, nil, nil)
                if c < 0 {
                    if errno == EINTR { continue }
                    return
                }
                accepted.withLock { $0 += 1 }
                OSThread.start {
                    handler(c, self)
                    Glibc.close(c)
                }
            }
        }
    }

    func keep(_ bytes: [UInt8]) { received.withLock { $0.append(bytes) } }
    var reads: [[UInt8]] { received.withLock { $0 } }

    /// What it read, once `count` connections have ended (waiting up to 5 s).
    func reads(waitingFor count: Int) -> [[UInt8]] {
        let deadline = MonotonicClock.nanoseconds() + 5_000_000_000
        while reads.count < count && MonotonicClock.nanoseconds() < deadline { usleep(2000) }
        return reads
    }
    var connections: Int { accepted.withLock { $0 } }

    func close() {
        shutdown(fd, Int32(SHUT_RDWR))
        Glibc.close(fd)
    }

    /// Reads to EOF, keeps it, writes it back, closes: the server's half-close must reach it
    /// for the answer to come.
    static func echo() throws -> FarEnd {
        try FarEnd { c, me in
            let bytes = Loopback.readAll(c)
            me.keep(bytes)
            Loopback.send(c, bytes)
        }
    }
}

/// What the proxy reported (or its resolver was asked), in order, and a wait for it.
final class Log<Entry: Sendable>: Sendable {
    private let list = Mutex<[Entry]>([])
    func add(_ e: Entry) { list.withLock { $0.append(e) } }
    var all: [Entry] { list.withLock { $0 } }

    /// The entries once there are `count` (waiting up to 5 s), then a moment more, so an
    /// entry too many would show.
    func wait(for count: Int) -> [Entry] {
        let deadline = MonotonicClock.nanoseconds() + 5_000_000_000
        while all.count < count && MonotonicClock.nanoseconds() < deadline { usleep(2000) }
        usleep(20_000)
        return all
    }
}

/// A running proxy on its own listener, with the reports and the names its resolver was asked.
final class ProxyUnderTest: Sendable {
    let proxy: EgressProxy
    let port: UInt16
    let reports = Log<EgressConnection>()
    private let lookedUp = Log<String>()
    /// The names the resolver was asked, in order.
    var resolved: [String] { lookedUp.all }

    init(
        allow: [String], deny: [String] = [], names: [String: [String]] = [:], maxConnections: Int = 256,
        cause: EgressCause? = EgressCause(id: "7", method: "tools/call", tool: "fetch"), headTimeoutMillis: Int = 10_000
    ) throws {
        let rules = EgressRules(allow: try allow.map { try HostRule.parse($0) }, deny: try deny.map { try HostRule.parse($0) })
        let (fd, port) = try Loopback.listen()
        self.port = port
        let table = names.mapValues { $0.compactMap { IPAddress($0) } }
        let reports = self.reports
        let lookedUp = self.lookedUp
        proxy = EgressProxy(
            listener: fd, rules: rules,
            resolve: { name in
                lookedUp.add(name)
                return table[name] ?? []
            },
            cause: { cause }, finished: { reports.add($0) }, maxConnections: maxConnections, headTimeoutMillis: headTimeoutMillis)
        try proxy.start()
    }

    /// A proxy that lets `name` (or the names `pattern` matches) reach `far`, which `name`
    /// resolves to (127.0.0.1, allowed on the far end's port).
    convenience init(reaching name: String, at far: FarEnd, pattern: String? = nil) throws {
        try self.init(allow: ["\(pattern ?? name):\(far.port)", "127.0.0.1:\(far.port)"], names: [name: ["127.0.0.1"]])
    }

    func client() throws -> Int32 { try Loopback.connect(port) }

    /// A CONNECT through the proxy; the socket and brig's answer head.
    func connect(_ target: String) throws -> (Int32, String) {
        let c = try client()
        Loopback.send(c, "CONNECT \(target) HTTP/1.1\r\nHost: \(target)\r\n\r\n")
        return (c, Loopback.readHead(c))
    }
}

/// A TLS 1.3-style ClientHello record, built by hand (RFC 8446 §4.1.2): one cipher suite, null
/// compression, `server_name` (RFC 6066 §3) when given, and supported_versions.
func clientHello(serverName: String?, padding: Int = 0) -> [UInt8] {
    func u16(_ n: Int) -> [UInt8] { [UInt8(n >> 8 & 0xff), UInt8(n & 0xff)] }
    var body: [UInt8] = [0x03, 0x03] + (0..<32).map { UInt8($0) } + [0x00] + u16(2) + [0x13, 0x01] + [0x01, 0x00]
    var extensions: [UInt8] = []
    if let serverName {
        let name = Array(serverName.utf8)
        let entry: [UInt8] = [0x00] + u16(name.count) + name
        let list = u16(entry.count) + entry
        extensions += u16(0) + u16(list.count) + list
    }
    extensions += u16(0x2b) + u16(3) + [0x02, 0x03, 0x04]
    if padding > 0 { extensions += u16(0x15) + u16(padding) + [UInt8](repeating: 0, count: padding) }
    body += u16(extensions.count) + extensions
    let handshake: [UInt8] = [0x01, 0x00] + u16(body.count) + body
    return [0x16, 0x03, 0x01] + u16(handshake.count) + handshake
}
