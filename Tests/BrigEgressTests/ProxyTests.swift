import BrigEgress
import BrigProfile
import BrigSystem
import Testing

#if canImport(Glibc)
import Glibc
#endif

@Suite("The egress proxy end to end, on loopback sockets")
struct ProxyTests {
    init() { _ = signal(SIGPIPE, SIG_IGN) }

    @Test("CONNECT to an allowed name: 200, bytes both ways with half-close, one report with counts, address, rule, cause")
    func connectAllowed() throws {
        let far = try FarEnd.echo()
        defer { far.close() }
        let p = try ProxyUnderTest(reaching: "echo.test", at: far)
        defer { p.proxy.stop() }
        let (c, answer) = try p.connect("echo.test:\(far.port)")
        defer { close(c) }
        #expect(answer == "HTTP/1.1 200 Connection established\r\n\r\n")
        Loopback.send(c, "hello, far end")
        shutdown(c, Int32(SHUT_WR))
        #expect(String(decoding: Loopback.readAll(c), as: UTF8.self) == "hello, far end")
        let reports = p.reports.wait(for: 1)
        try #require(reports.count == 1)
        let r = reports[0]
        #expect(r.host == "echo.test" && r.port == far.port && r.kind == .connect && r.allowed && r.status == 200)
        #expect(r.address == IPAddress("127.0.0.1") && r.rule == "echo.test:\(far.port)" && r.reason == nil)
        #expect(r.bytesUp == 14 && r.bytesDown == 14)
        #expect(r.cause == EgressCause(id: "7", method: "tools/call", tool: "fetch"))
        #expect(r.startMicros > 1_700_000_000_000_000 && r.durationMicros > 0)
        #expect(p.resolved == ["echo.test"])
    }

    @Test("CONNECT refused by the rules: 403 with the one-line body, never resolved, reported at once")
    func connectRefused() throws {
        let p = try ProxyUnderTest(allow: ["*.test:*"], deny: ["evil.test"], names: ["evil.test": ["1.2.3.4"]])
        defer { p.proxy.stop() }
        for (target, reason) in [("evil.test:443", "denied by evil.test"), ("other.example:443", "not in the allow-list")] {
            let c = try p.client()
            defer { close(c) }
            Loopback.send(c, "CONNECT \(target) HTTP/1.1\r\n\r\n")
            let answer = String(decoding: Loopback.readAll(c), as: UTF8.self)
            let body = "brig: egress to \(target) refused: \(reason)\n"
            #expect(
                answer == "HTTP/1.1 403 Forbidden\r\nContent-Type: text/plain\r\nContent-Length: \(body.utf8.count)\r\nConnection: close\r\n\r\n\(body)")
        }
        let reports = p.reports.wait(for: 2)
        #expect(reports.count == 2 && reports.allSatisfy { !$0.allowed && $0.status == 403 && $0.address == nil && $0.kind == .connect })
        #expect(reports.first?.rule == "evil.test")
        #expect(reports.map(\.refusal) == [.denied("evil.test"), .notAllowed])
        #expect(p.resolved.isEmpty)
    }

    @Test("A name that resolves to loopback or the metadata address is refused; an address rule makes the exception")
    func rebinding() throws {
        let far = try FarEnd.echo()
        defer { far.close() }
        let p = try ProxyUnderTest(
            allow: ["*.test:*", "127.0.0.1:\(far.port + 1)"],
            names: ["local.test": ["127.0.0.1"], "meta.test": ["169.254.169.254"], "mixed.test": ["::ffff:127.0.0.1", "10.0.0.1"]])
        defer { p.proxy.stop() }
        for (name, reason) in [
            ("local.test", "resolves to 127.0.0.1, a loopback address"), ("meta.test", "resolves to 169.254.169.254, a link-local address"),
            ("mixed.test", "resolves to 127.0.0.1, a loopback address"),
        ] {
            let (c, answer) = try p.connect("\(name):\(far.port)")
            defer { close(c) }
            #expect(answer.hasPrefix("HTTP/1.1 403 Forbidden\r\n"))
            #expect(String(decoding: Loopback.readAll(c), as: UTF8.self) == "brig: egress to \(name):\(far.port) refused: \(reason)\n")
        }
        let literal = try p.client()
        defer { close(literal) }
        Loopback.send(literal, "CONNECT 127.0.0.1:\(far.port) HTTP/1.1\r\n\r\n")
        let refusal = String(decoding: Loopback.readAll(literal), as: UTF8.self)
        #expect(refusal.hasSuffix("refused: port \(far.port) is not in the allow-list (127.0.0.1:\(far.port + 1) allows port \(far.port + 1))\n"))
        #expect(far.connections == 0)
        let reports = p.reports.wait(for: 4)
        #expect(reports.count == 4 && reports.allSatisfy { !$0.allowed && $0.status == 403 })
        // What refused each (what the report's advice names): the first local address, or the port.
        #expect(
            reports.map(\.refusal) == [
                .localAddress(IPAddress("127.0.0.1")!), .localAddress(IPAddress("169.254.169.254")!), .localAddress(IPAddress("127.0.0.1")!), .notAllowed,
            ])
    }

    @Test("SNI: a ClientHello naming the CONNECT host passes (also when it comes in pieces); another name is refused before a byte goes upstream")
    func serverName() throws {
        let far = try FarEnd.echo()
        defer { far.close() }
        let p = try ProxyUnderTest(reaching: "api.test", at: far, pattern: "*.test")
        defer { p.proxy.stop() }
        let hello = clientHello(serverName: "API.test")
        do {
            let (c, answer) = try p.connect("api.test:\(far.port)")
            defer { close(c) }
            #expect(answer.hasPrefix("HTTP/1.1 200"))
            Loopback.send(c, Array(hello.prefix(3)))
            usleep(50_000)
            Loopback.send(c, Array(hello[3..<30]))
            usleep(50_000)
            Loopback.send(c, Array(hello.dropFirst(30)) + Array("after".utf8))
            shutdown(c, Int32(SHUT_WR))
            #expect(Loopback.readAll(c) == hello + Array("after".utf8))
        }
        do {
            let (c, answer) = try p.connect("api.test:\(far.port)")
            defer { close(c) }
            #expect(answer.hasPrefix("HTTP/1.1 200"))
            Loopback.send(c, clientHello(serverName: "blocked.example"))
            #expect(Loopback.readAll(c).isEmpty)
        }
        let reports = p.reports.wait(for: 2)
        try #require(reports.count == 2)
        #expect(reports[0].allowed && reports[0].bytesUp == UInt64(hello.count + 5))
        #expect(!reports[1].allowed && reports[1].reason == "TLS server name blocked.example is not the CONNECT host api.test")
        #expect(reports[1].bytesUp == 0 && reports[1].status == 200)
        let reads = far.reads(waitingFor: 2)
        #expect(reads.count == 2 && reads.last?.isEmpty == true)
    }

    @Test("A far end that speaks first is heard while the SNI check waits for the server's first byte")
    func serverSpeaksFirst() throws {
        let far = try FarEnd { c, me in
            Loopback.send(c, "220 ready\r\n")
            me.keep(Loopback.readAll(c))
        }
        defer { far.close() }
        let p = try ProxyUnderTest(reaching: "smtp.test", at: far)
        defer { p.proxy.stop() }
        let (c, answer) = try p.connect("smtp.test:\(far.port)")
        defer { close(c) }
        #expect(answer.hasPrefix("HTTP/1.1 200"))
        #expect(String(decoding: Loopback.read(c, count: 11), as: UTF8.self) == "220 ready\r\n")
        Loopback.send(c, "EHLO x\r\n")
        shutdown(c, Int32(SHUT_WR))
        #expect(Loopback.readAll(c).isEmpty)
        let reports = p.reports.wait(for: 1)
        #expect(reports.first?.bytesDown == 11 && reports.first?.bytesUp == 8)
        #expect(far.reads == [Array("EHLO x\r\n".utf8)])
    }

    @Test("Plain HTTP: forwarded in origin-form with Proxy-* removed and Connection: close; the body follows; the answer comes back")
    func plainHTTP() throws {
        let far = try FarEnd { c, me in
            let head = Loopback.readHead(c)
            let body = Loopback.read(c, count: 4)
            me.keep(Array(head.utf8) + body)
            Loopback.send(c, "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok")
        }
        defer { far.close() }
        let p = try ProxyUnderTest(reaching: "web.test", at: far)
        defer { p.proxy.stop() }
        let c = try p.client()
        defer { close(c) }
        Loopback.send(
            c,
            "PUT http://web.test:\(far.port)/path?q=1 HTTP/1.1\r\nHost: WEB.test:\(far.port)\r\nProxy-Connection: keep-alive\r\n"
                + "Proxy-Authorization: Basic eDp5\r\nUser-Agent: t\r\nContent-Length: 4\r\n\r\nbody")
        let answer = String(decoding: Loopback.readAll(c), as: UTF8.self)
        shutdown(c, Int32(SHUT_WR))
        #expect(answer == "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok")
        let expected = "PUT /path?q=1 HTTP/1.1\r\nHost: WEB.test:\(far.port)\r\nUser-Agent: t\r\nContent-Length: 4\r\nConnection: close\r\n\r\nbody"
        #expect(far.reads.map { String(decoding: $0, as: UTF8.self) } == [expected])
        let reports = p.reports.wait(for: 1)
        try #require(reports.count == 1)
        #expect(reports[0].kind == .http && reports[0].allowed && reports[0].bytesUp == UInt64(expected.utf8.count) && reports[0].bytesDown == 40)
        #expect(reports[0].status == nil && reports[0].address == IPAddress("127.0.0.1"))
    }

    @Test("Plain HTTP refusals: a Host naming another host (403), origin-form and garbage (400), a slow head (408)")
    func plainRefusals() throws {
        let p = try ProxyUnderTest(allow: ["web.test"], names: ["web.test": ["1.2.3.4"]], headTimeoutMillis: 300)
        defer { p.proxy.stop() }
        for (request, status) in [
            ("GET http://web.test/ HTTP/1.1\r\nHost: evil.test\r\n\r\n", "403 Forbidden"), ("GET / HTTP/1.1\r\nHost: web.test\r\n\r\n", "400 Bad Request"),
            ("\u{16}\u{3}\u{1}\u{2}\u{0}\r\n\r\n", "400 Bad Request"), ("GET http://web.test/ HTTP/1.1\r\n", "408 Request Timeout"),
        ] {
            let c = try p.client()
            defer { close(c) }
            Loopback.send(c, request)
            #expect(String(decoding: Loopback.readAll(c), as: UTF8.self).hasPrefix("HTTP/1.1 \(status)\r\n"), "\(request.debugDescription)")
        }
        let reports = p.reports.wait(for: 4)
        #expect(reports.map(\.status) == [403, 400, 400, 408])
        #expect(reports[0].reason == "the Host header names evil.test, not the URL's host web.test" && reports[0].host == "web.test")
        #expect(p.resolved.isEmpty)
    }

    @Test("Failures: a name that does not resolve, a port nobody listens on (502)")
    func failures() throws {
        let closed = try Loopback.listen()
        close(closed.fd)
        let p = try ProxyUnderTest(allow: ["*.test:*", "127.0.0.1:*"], names: ["gone.test": []])
        defer { p.proxy.stop() }
        let (a, first) = try p.connect("gone.test:443")
        close(a)
        #expect(first.hasPrefix("HTTP/1.1 502 Bad Gateway\r\n"))
        let (b, second) = try p.connect("127.0.0.1:\(closed.port)")
        close(b)
        #expect(second.hasPrefix("HTTP/1.1 502 Bad Gateway\r\n"))
        let reports = p.reports.wait(for: 2)
        #expect(reports.count == 2 && reports.allSatisfy { $0.allowed && $0.status == 502 })
        #expect(reports[0].reason == "gone.test does not resolve")
        #expect(reports.last?.reason == "cannot connect to 127.0.0.1:\(closed.port): Connection refused")
    }

    @Test("Many bytes through a tunnel, counted exactly")
    func bulk() throws {
        let size = 8 << 20
        let far = try FarEnd { c, me in
            let got = Loopback.readAll(c)
            me.keep([UInt8(got.count >> 20)])
            var chunk = [UInt8](repeating: 0x61, count: 1 << 20)
            for _ in 0..<(size >> 20) {
                chunk[0] &+= 1
                Loopback.send(c, chunk)
            }
        }
        defer { far.close() }
        let p = try ProxyUnderTest(allow: ["127.0.0.1:\(far.port)"])
        defer { p.proxy.stop() }
        let (c, answer) = try p.connect("127.0.0.1:\(far.port)")
        defer { close(c) }
        #expect(answer.hasPrefix("HTTP/1.1 200"))
        Loopback.send(c, [UInt8](repeating: 0x62, count: 3 << 20))
        shutdown(c, Int32(SHUT_WR))
        let got = Loopback.readAll(c)
        #expect(got.count == size && got[0] == 0x62 && got[size - (1 << 20)] == 0x69)
        let reports = p.reports.wait(for: 1)
        #expect(reports.first?.bytesUp == 3 << 20 && reports.first?.bytesDown == UInt64(size))
        #expect(far.reads == [[3]])
    }

    @Test("stop() with open tunnels and a half-sent head: every one is shut, reported once, and stop returns")
    func stopWithOpenConnections() throws {
        let far = try FarEnd { c, _ in _ = Loopback.readAll(c) }
        defer { far.close() }
        let p = try ProxyUnderTest(allow: ["127.0.0.1:\(far.port)"])
        var clients: [Int32] = []
        for _ in 0..<3 {
            let (c, answer) = try p.connect("127.0.0.1:\(far.port)")
            #expect(answer.hasPrefix("HTTP/1.1 200"))
            clients.append(c)
        }
        let partial = try p.client()
        Loopback.send(partial, "CONNECT 127.0.0.1:1 HT")
        clients.append(partial)
        defer { for c in clients { close(c) } }
        usleep(50_000)
        let t0 = MonotonicClock.nanoseconds()
        p.proxy.stop()
        #expect(MonotonicClock.nanoseconds() - t0 < 2_000_000_000)
        #expect(p.reports.all.count == 4)
        for c in clients[0..<3] { #expect(Loopback.readAll(c).isEmpty) }
        #expect(p.reports.wait(for: 4).count == 4)
        #expect((try? Loopback.connect(p.port)) == nil)
    }

    @Test("A connection that sends nothing holds up no other: the one that accepted it hands accepting on")
    func silentConnectionHoldsNoOther() throws {
        let far = try FarEnd.echo()
        defer { far.close() }
        let p = try ProxyUnderTest(reaching: "echo.test", at: far)
        defer { p.proxy.stop() }
        let silent = try p.client()
        defer { close(silent) }
        for i in 0..<3 {
            let (c, answer) = try p.connect("echo.test:\(far.port)")
            #expect(answer == "HTTP/1.1 200 Connection established\r\n\r\n")
            Loopback.send(c, "ping \(i)")
            shutdown(c, Int32(SHUT_WR))
            #expect(String(decoding: Loopback.readAll(c), as: UTF8.self) == "ping \(i)")
            close(c)
        }
        #expect(p.reports.wait(for: 3).count == 3)
    }

    @Test("Forty connections at once: each is served and reported once")
    func manyAtOnce() throws {
        let far = try FarEnd.echo()
        defer { far.close() }
        let p = try ProxyUnderTest(reaching: "echo.test", at: far)
        defer { p.proxy.stop() }
        var clients: [Int32] = []
        for _ in 0..<40 {
            let c = try p.client()
            Loopback.send(c, "CONNECT echo.test:\(far.port) HTTP/1.1\r\n\r\n")
            clients.append(c)
        }
        for (i, c) in clients.enumerated() {
            #expect(Loopback.readHead(c) == "HTTP/1.1 200 Connection established\r\n\r\n")
            Loopback.send(c, "n\(i)")
            shutdown(c, Int32(SHUT_WR))
            #expect(String(decoding: Loopback.readAll(c), as: UTF8.self) == "n\(i)")
            close(c)
        }
        let reports = p.reports.wait(for: 40)
        #expect(reports.count == 40 && reports.allSatisfy { $0.allowed && $0.status == 200 && $0.bytesUp == $0.bytesDown })
    }

    @Test("Beyond the connection bound: 503, and the connection is reported")
    func bound() throws {
        let far = try FarEnd { c, _ in _ = Loopback.readAll(c) }
        defer { far.close() }
        let p = try ProxyUnderTest(allow: ["127.0.0.1:\(far.port)"], maxConnections: 1)
        defer { p.proxy.stop() }
        let (first, answer) = try p.connect("127.0.0.1:\(far.port)")
        defer { close(first) }
        #expect(answer.hasPrefix("HTTP/1.1 200"))
        let second = try p.client()
        defer { close(second) }
        #expect(String(decoding: Loopback.readAll(second), as: UTF8.self).hasPrefix("HTTP/1.1 503 Service Unavailable\r\n"))
        let reports = p.reports.wait(for: 1)
        #expect(reports.count == 1 && reports[0].status == 503 && reports[0].reason == "more than 1 egress connections are open")
    }
}
