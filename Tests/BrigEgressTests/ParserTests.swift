import BrigEgress
import BrigSystem
import Testing

@Suite("The proxy's parsers: request heads, ClientHellos")
struct ParserTests {
    private func parse(_ text: String) -> Result<ProxyRequest, ProxyRequest.Failure> { ProxyRequest.parse(Array(text.utf8)) }

    @Test("CONNECT: names, IPv4, bracketed IPv6, case and a trailing dot")
    func connect() throws {
        let r = try parse("CONNECT API.GitHub.com.:443 HTTP/1.1\r\nHost: api.github.com:443\r\n\r\n").get()
        #expect(r.kind == .connect && r.host == "api.github.com" && r.port == 443 && r.upstreamHead.isEmpty && r.destination == "api.github.com:443")
        let v6 = try parse("CONNECT [2001:db8::1]:8443 HTTP/1.1\r\n\r\n").get()
        #expect(v6.host == "2001:db8::1" && v6.port == 8443 && v6.destination == "[2001:db8::1]:8443")
        #expect(try parse("CONNECT 10.0.0.5:22 HTTP/1.0\r\n\r\n").get().host == "10.0.0.5")
    }

    @Test("Absolute-form HTTP: the head rewritten to origin-form, Proxy-* and Connection dropped, Connection: close")
    func absolute() throws {
        let text =
            "POST http://Example.com:8080/a/b?c=d HTTP/1.1\r\nHost: example.com:8080\r\nProxy-Connection: keep-alive\r\n"
            + "Proxy-Authorization: Basic eDp5\r\nConnection: keep-alive\r\nKeep-Alive: 5\r\nContent-Length: 3\r\nX-A:  b \r\n\r\n"
        let r = try parse(text).get()
        #expect(r.kind == .http && r.method == "POST" && r.host == "example.com" && r.port == 8080)
        let head = String(decoding: r.upstreamHead, as: UTF8.self)
        #expect(head == "POST /a/b?c=d HTTP/1.1\r\nHost: example.com:8080\r\nContent-Length: 3\r\nX-A:  b \r\nConnection: close\r\n\r\n")
        let bare = try parse("GET http://example.com HTTP/1.0\r\n\r\n").get()
        #expect(String(decoding: bare.upstreamHead, as: UTF8.self) == "GET / HTTP/1.0\r\nHost: example.com\r\nConnection: close\r\n\r\n")
        let query = try parse("GET http://[::1]:81?x HTTP/1.1\r\nHost: [::1]:81\r\n\r\n").get()
        #expect(query.host == "::1" && query.port == 81 && String(decoding: query.upstreamHead, as: UTF8.self).hasPrefix("GET /?x HTTP/1.1\r\n"))
    }

    @Test(
        "Refused heads: 400 with a reason, 403 for a Host naming another host",
        arguments: [
            ("GET /index.html HTTP/1.1\r\nHost: x\r\n\r\n", 400, "absolute URL"),
            ("GET https://x.com/ HTTP/1.1\r\n\r\n", 400, "CONNECT"),
            ("BREW http://x.com/ HTTP/1.1\r\n\r\n", 400, "not proxied"),
            ("GET http://x.com/ HTTP/2\r\n\r\n", 400, "HTTP/1.x"),
            ("GET  http://x.com/ HTTP/1.1\r\n\r\n", 400, "request line"),
            ("GET http://x.com/ HTTP/1.1\nHost: x\r\n\r\n", 400, "bare LF"),
            ("GET http://x.com/ HTTP/1.1\r\nHost x\r\n\r\n", 400, "header line"),
            ("GET http://x.com/ HTTP/1.1\r\nA: b\r\n c\r\n\r\n", 400, "folded"),
            ("GET http://x.com/ HTTP/1.1\r\nHost: x.com\r\nHost: x.com\r\n\r\n", 400, "more than one Host"),
            ("GET http://x.com/ HTTP/1.1\r\nHost: y.com\r\n\r\n", 403, "names y.com, not the URL's host x.com"),
            ("GET http://user@x.com/ HTTP/1.1\r\n\r\n", 400, "authority"),
            ("GET http://x.com:0/ HTTP/1.1\r\n\r\n", 400, "authority"),
            ("GET http://x.com/#f HTTP/1.1\r\n\r\n", 400, "fragment"),
            ("CONNECT x.com HTTP/1.1\r\n\r\n", 400, "HOST:PORT"),
            ("CONNECT [x.com]:443 HTTP/1.1\r\n\r\n", 400, "HOST:PORT"),
            ("CONNECT x.com:99999 HTTP/1.1\r\n\r\n", 400, "HOST:PORT"),
            ("GET http://x.com/ HTTP/1.1\r\nA: \u{1}\r\n\r\n", 400, "control character"),
            ("\u{16}\u{3}\u{1}\r\n\r\n", 400, "control character"),
            ("GET http://x.com/ HTTP/1.1\r\n", 400, "empty line"),
        ])
    func refused(_ text: String, _ status: Int, _ words: String) {
        guard case .failure(let f) = parse(text) else {
            Issue.record("\(text.debugDescription) parsed")
            return
        }
        #expect(f.status == status && f.reason.contains(words), "\(text.debugDescription): \(f.status) \(f.reason)")
    }

    @Test("The end of a head: found wherever the blank line falls, also when searched in steps")
    func headLength() {
        let head = Array("GET http://x/ HTTP/1.1\r\nA: b\r\n\r\nBODY".utf8)
        let end = head.withUnsafeBytes { ProxyRequest.headLength(in: $0) }
        #expect(end == head.count - 4)
        for cut in 0...head.count {
            let found = head.withUnsafeBytes { b -> Int? in
                let first = ProxyRequest.headLength(in: UnsafeRawBufferPointer(rebasing: b[0..<cut]))
                return first ?? ProxyRequest.headLength(in: b, from: cut)
            }
            #expect(found == end, "cut at \(cut)")
        }
        #expect(Array("a\r\n\r".utf8).withUnsafeBytes { ProxyRequest.headLength(in: $0) } == nil)
        #expect(Array("\r\r\n\r\n".utf8).withUnsafeBytes { ProxyRequest.headLength(in: $0) } == 5)
    }

    @Test("ClientHello: the server name read; other protocols pass; partial ones wait; broken ones are refused")
    func clientHellos() {
        let hello = clientHello(serverName: "API.Example.com")
        #expect(ClientHello.scan(hello) == .hello(serverName: "api.example.com"))
        #expect(ClientHello.scan(clientHello(serverName: nil)) == .hello(serverName: nil))
        #expect(ClientHello.scan(clientHello(serverName: "x.org", padding: 3000)) == .hello(serverName: "x.org"))
        #expect(ClientHello.scan(Array("SSH-2.0-OpenSSH\r\n".utf8)) == .notTLS)
        #expect(ClientHello.scan([]) == .needMore(1))
        #expect(ClientHello.scan(Array(hello.prefix(3))) == .needMore(5))
        #expect(ClientHello.scan(Array(hello.prefix(40))) == .needMore(hello.count))
        // The same handshake message cut over two records.
        let message = Array(hello.dropFirst(5))
        let split: [UInt8] = [0x16, 0x03, 0x01, 0x00, 0x0a] + message.prefix(10) + [0x16, 0x03, 0x01, 0x00, UInt8(message.count - 10)] + message.dropFirst(10)
        #expect(ClientHello.scan(Array(split.prefix(20))) == .needMore(20 + message.count - 10))
        #expect(ClientHello.scan(split) == .hello(serverName: "api.example.com"))
        var badVersion = hello
        badVersion[1] = 2
        #expect(ClientHello.scan(badVersion).isMalformed)
        var notHello = hello
        notHello[5] = 2
        #expect(ClientHello.scan(notHello).isMalformed)
        var cut = hello
        cut[8] &+= 1  // the hello claims a byte more than its record holds, then a record that is not a handshake follows
        #expect(ClientHello.scan(cut + [0x17, 0x03, 0x03, 0x00, 0x01, 0x00]).isMalformed)
        let twoNames = clientHelloWithTwoNames()
        #expect(ClientHello.scan(twoNames).isMalformed)
        #expect(ClientHello.scan(clientHello(serverName: "bad name")).isMalformed)
        #expect(ClientHello.scan(clientHello(serverName: "10.0.0.1")).isMalformed)
    }

    /// A seed of the fuzz corpus (its first byte picks the fuzzer's parser and is dropped).
    private func seed(_ name: String) throws -> [UInt8] {
        let tests = #filePath.split(separator: "/", omittingEmptySubsequences: false).dropLast(2).joined(separator: "/")
        return Array(try #require(FileSystem.read(tests + "/fuzz/corpus/fuzz-egress/" + name)).dropFirst())
    }

    @Test("Real ClientHellos (captured from curl and openssl s_client): the server name, none, cut short, over two records")
    func realClientHellos() throws {
        #expect(ClientHello.scan(try seed("hello-curl")) == .hello(serverName: "registry.npmjs.org"))
        #expect(ClientHello.scan(try seed("hello-curl-two-records")) == .hello(serverName: "registry.npmjs.org"))
        #expect(ClientHello.scan(try seed("hello-openssl")) == .hello(serverName: "api.github.com"))
        #expect(ClientHello.scan(try seed("hello-no-sni")) == .hello(serverName: nil))
        let cut = try seed("hello-curl-cut")
        #expect(ClientHello.scan(cut) == .needMore(try seed("hello-curl").count))
        #expect(ClientHello.scan(try seed("tunnel-ssh")) == .notTLS)
    }

    private func clientHelloWithTwoNames() -> [UInt8] {
        var hello = clientHello(serverName: "a.com")
        let sni: [UInt8] = [0x00, 0x00, 0x00, 0x0a, 0x00, 0x08, 0x00, 0x00, 0x05] + Array("b.com".utf8)
        // Append a second server_name extension: grow the extensions, handshake and record lengths.
        hello += sni
        func grow(_ at: Int, _ width: Int) {
            var n = 0
            for i in 0..<width { n = n << 8 | Int(hello[at + i]) }
            n += sni.count
            for i in 0..<width { hello[at + i] = UInt8(n >> (8 * (width - 1 - i)) & 0xff) }
        }
        grow(3, 2)
        grow(6, 3)
        let extensionsAt = 5 + 4 + 2 + 32 + 1 + 2 + 2 + 2
        grow(extensionsAt, 2)
        return hello
    }
}

extension ClientHello.Scan {
    var isMalformed: Bool {
        if case .malformed = self { return true }
        return false
    }
}
