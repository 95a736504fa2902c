import BrigProfile
import BrigSystem
import Testing

@Suite("Egress words: IP addresses, host rules, decisions")
struct EgressRulesTests {
    @Test("IP addresses: inet_pton's spellings, inet_ntop's text, bytes, mapped IPv4")
    func addresses() throws {
        let v4 = try #require(IPAddress("10.0.0.5"))
        #expect(v4.family == .v4 && v4.bytes == [10, 0, 0, 5] && v4.description == "10.0.0.5" && v4.v4Value == 0x0a00_0005)
        let v6 = try #require(IPAddress("FD00:0:0::1:2"))
        #expect(v6.family == .v6 && v6.description == "fd00::1:2" && v6.bracketed == "[fd00::1:2]")
        #expect(IPAddress(bytes: v6.bytes) == v6 && IPAddress(bytes: [1, 2, 3]) == nil)
        let mapped = try #require(IPAddress("::ffff:127.0.0.1"))
        #expect(mapped.family == .v6 && mapped.unmapped == IPAddress("127.0.0.1") && mapped != IPAddress("127.0.0.1"))
        for bad in ["", "1.2.3", "010.0.0.1", "256.1.1.1", "1.2.3.4.5", "::1%eth0", "[::1]", "fe80::1::2", "0x7f.0.0.1", "2130706433", "a.b.c.d"] {
            #expect(IPAddress(bad) == nil, "\(bad)")
        }
        let back = IPAddress("2001:db8::7")!.withSocketAddress(port: 8443) { sa, _ in IPAddress.from(socketAddress: UnsafeRawPointer(sa)) }
        #expect(back?.address == IPAddress("2001:db8::7") && back?.port == 8443)
    }

    @Test(
        "Special-purpose ranges, v4-mapped and NAT64 judged as IPv4",
        arguments: [
            ("127.0.0.1", IPAddress.SpecialRange.loopback), ("127.255.0.9", .loopback), ("::1", .loopback),
            ("10.1.2.3", .privateUse), ("172.16.0.1", .privateUse), ("172.31.255.255", .privateUse), ("192.168.1.1", .privateUse),
            ("169.254.169.254", .linkLocal), ("fe80::1", .linkLocal), ("febf::1", .linkLocal), ("100.64.0.1", .sharedAddressSpace),
            ("100.127.255.255", .sharedAddressSpace), ("fd12:3456::1", .uniqueLocal), ("fc00::1", .uniqueLocal), ("224.0.0.251", .multicast),
            ("ff02::1", .multicast), ("0.0.0.0", .unspecified), ("::", .unspecified), ("255.255.255.255", .broadcast),
            ("::ffff:169.254.169.254", .linkLocal), ("::ffff:10.0.0.1", .privateUse), ("64:ff9b::7f00:1", .loopback),
            ("2002:a9fe:a9fe::1", .linkLocal), ("::7f00:1", .reserved), ("240.0.0.1", .reserved), ("2001:db8::1", .documentation),
            ("fec0::1", .privateUse), ("203.0.113.80", .documentation), ("198.51.100.1", .documentation), ("192.0.2.9", .documentation),
            ("198.18.0.1", .benchmarking), ("198.19.255.255", .benchmarking), ("192.0.0.8", .reserved),
        ])
    func special(_ text: String, _ range: IPAddress.SpecialRange) throws {
        #expect(try #require(IPAddress(text)).specialRange == range)
    }

    @Test(
        "Public addresses are in no special range",
        arguments: ["1.1.1.1", "8.8.8.8", "172.32.0.1", "100.128.0.1", "2606:4700::1111", "64:ff9b::808:808", "::ffff:8.8.4.4", "fe00::1"])
    func publicAddresses(_ text: String) throws {
        #expect(try #require(IPAddress(text)).specialRange == nil)
    }

    @Test("Networks: containment by family and prefix")
    func networks() throws {
        let n = try #require(IPNetwork(IPAddress("10.0.0.0")!, prefixLength: 8))
        #expect(n.contains(IPAddress("10.255.1.2")!) && !n.contains(IPAddress("11.0.0.0")!) && !n.contains(IPAddress("::ffff:10.0.0.1")!))
        let v6 = try #require(IPNetwork(IPAddress("fd00::")!, prefixLength: 8))
        #expect(v6.contains(IPAddress("fdff::1")!) && !v6.contains(IPAddress("fe00::")!))
        #expect(IPNetwork(IPAddress("::")!, prefixLength: 0)?.contains(IPAddress("2001:db8::1")!) == true)
        #expect(IPNetwork(IPAddress("10.1.2.3")!, prefixLength: 16)?.description == "10.1.0.0/16")
        #expect(IPNetwork(IPAddress("2001:db8::1")!, prefixLength: 127)?.contains(IPAddress("2001:db8::")!) == true)
        #expect(IPNetwork(IPAddress("1.2.3.4")!, prefixLength: 33) == nil && IPNetwork(IPAddress("::")!, prefixLength: 129) == nil)
    }

    @Test(
        "Host rules: spellings and their canonical text",
        arguments: [
            ("api.github.com", "api.github.com"), ("API.GitHub.com.", "api.github.com"), ("*.githubusercontent.com", "*.githubusercontent.com"),
            ("api-*.example.com:8080", "api-*.example.com:8080"), ("example.com:8000-8100", "example.com:8000-8100"), ("example.com:*", "example.com:*"),
            ("10.0.0.5", "10.0.0.5"), ("10.0.0.5:22", "10.0.0.5:22"), ("::1", "::1"), ("[::1]", "::1"), ("[0:0::1]:8080", "[::1]:8080"),
            ("10.0.0.0/8", "10.0.0.0/8"), ("10.0.0.0/8:443", "10.0.0.0/8:443"), ("fd00::/8", "fd00::/8"), ("[fd00::/8]:*", "[fd00::/8]:*"),
            ("*", "*"), ("*:443", "*:443"), ("my_host.internal", "my_host.internal"), ("localhost:3000", "localhost:3000"), ("x.com:443-443", "x.com:443"),
        ])
    func spellings(_ text: String, _ canonical: String) throws {
        let rule = try HostRule.parse(text)
        #expect(rule.description == canonical)
        #expect(try HostRule.parse(canonical) == rule)
    }

    @Test(
        "Host rules: bad spellings are named",
        arguments: [
            ("", "empty"), ("exa mple.com", "not allowed"), ("a..b", "empty label"), ("example.com:", "bad port"), ("example.com:0", "bad port"),
            ("example.com:65536", "bad port"), ("example.com:100-90", "low port"), ("example.com:http", "bad port"), ("10.0.0.1/8", "bits are set"),
            ("10.0.0.0/33", "prefix length"), ("10.0.0.0/", "prefix length"), ("::1:443:x", "not an IPv6"), ("[::1", "closing ]"), ("[::1]443", ":PORT"),
            ("[10.0.0.1]:80", "brackets are for IPv6"), ("10.0.0", "is a number"), ("1.2.3.4.5", "is a number"), ("bücher.de", "not allowed"),
            (String(repeating: "a", count: 64) + ".com", "63 characters"), (String(repeating: "abcdefghi.", count: 26) + "com", "253 characters"),
            ("example.com:*:1", "not an IPv6"), ("[fe80::1%eth0]", "not an IPv6"),
        ])
    func badSpellings(_ text: String, _ words: String) {
        do {
            let rule = try HostRule.parse(text)
            Issue.record("\(text) parsed as \(rule)")
        } catch {
            #expect(error.message.contains(words), "\(text): \(error.message)")
            #expect(!error.message.contains("\n"))
        }
    }

    private func rules(allow: [String], deny: [String] = []) throws -> EgressRules {
        EgressRules(allow: try allow.map { try HostRule.parse($0) }, deny: try deny.map { try HostRule.parse($0) })
    }

    @Test("Name globs: any depth below the apex, within one label, exact names")
    func globs() throws {
        let r = try rules(allow: ["*.githubusercontent.com", "api-*.example.com", "exact.org"])
        for allowed in ["raw.githubusercontent.com", "a.b.c.githubusercontent.com", "RAW.GitHubUserContent.com.", "api-v2.example.com", "api-.example.com", "exact.org"] {
            #expect(r.decide(host: allowed, port: 443).allowed, "\(allowed)")
        }
        for refused in ["githubusercontent.com", "evilgithubusercontent.com", "api.example.com", "x.api-v2.example.com", "api-v2.example.com.evil", "www.exact.org"] {
            #expect(!r.decide(host: refused, port: 443).allowed, "\(refused)")
        }
        #expect(r.decide(host: "x.githubusercontent.com", port: 443) == .init(allowed: true, rule: "*.githubusercontent.com", reason: nil))
        #expect(HostName.label("abcabd", matches: "a*d") && HostName.label("ad", matches: "a*d") && !HostName.label("abc", matches: "a*d"))
        #expect(HostName.label("x-y-z", matches: "*-*-*") && !HostName.label("x-y", matches: "*-*-*"))
    }

    @Test("Ports: none written means 443 and 80; ranges; any; the refusal says which ports")
    func ports() throws {
        let r = try rules(allow: ["a.com", "b.com:8000-8100", "c.com:*"])
        #expect(r.decide(host: "a.com", port: 443).allowed && r.decide(host: "a.com", port: 80).allowed)
        let refused = r.decide(host: "a.com", port: 22)
        #expect(!refused.allowed && refused.reason == "port 22 is not in the allow-list (a.com allows ports 443 and 80)")
        #expect(r.decide(host: "b.com", port: 8000).allowed && r.decide(host: "b.com", port: 8100).allowed && !r.decide(host: "b.com", port: 8101).allowed)
        #expect(r.decide(host: "c.com", port: 1).allowed && r.decide(host: "c.com", port: 65535).allowed)
        #expect(r.decide(host: "d.com", port: 443) == .init(allowed: false, rule: nil, reason: "not in the allow-list"))
    }

    @Test("Deny wins over allow, and a deny rule with no port denies every port")
    func denyWins() throws {
        let r = try rules(allow: ["*.example.com:*", "10.0.0.0/8:*", "*:443"], deny: ["secret.example.com", "10.9.0.0/16:22", "*.bad.org"])
        #expect(r.decide(host: "secret.example.com", port: 8080) == .init(allowed: false, rule: "secret.example.com", reason: "denied by secret.example.com"))
        #expect(r.decide(host: "open.example.com", port: 8080).allowed)
        #expect(!r.decide(host: "10.9.1.1", port: 22).allowed && r.decide(host: "10.9.1.1", port: 23).allowed)
        #expect(!r.decide(host: "x.bad.org", port: 443).allowed && r.decide(host: "bad.org", port: 443).allowed)
        #expect(r.decide(host: "anything.net", port: 443) == .init(allowed: true, rule: "*:443", reason: nil))
    }

    @Test("IP literals match address and network rules only; names match name rules only")
    func literals() throws {
        let r = try rules(allow: ["10.0.0.5:*", "fd00::/8", "*"])
        #expect(r.decide(host: "10.0.0.5", port: 9).allowed && r.decide(host: "[fd00::1]", port: 443).allowed && r.decide(host: "fd00::1", port: 80).allowed)
        #expect(!r.decide(host: "10.0.0.6", port: 443).allowed)
        #expect(r.decide(host: "::ffff:10.0.0.5", port: 9).allowed)
        #expect(!r.decide(host: "1.1.1.1", port: 443).allowed)
        let names = try rules(allow: ["10.0.0.5"])
        #expect(!names.decide(host: "ten.example", port: 443).allowed)
        #expect(r.decide(host: "bad name", port: 443).reason?.hasPrefix("not a valid host name") == true)
        #expect(!r.decide(host: "2130706433", port: 443).allowed && !r.decide(host: "127.1", port: 443).allowed)
    }

    @Test("After resolution: private ranges refused unless an address rule covers them; deny addresses win")
    func admission() throws {
        let r = try rules(allow: ["*.corp.example", "10.1.0.0/16:443", "api.example.com"], deny: ["169.254.169.254", "203.0.113.0/24"])
        let loopback = r.admits(address: IPAddress("127.0.0.1")!, port: 443, forName: "api.example.com")
        #expect(loopback == .init(allowed: false, rule: nil, reason: "resolves to 127.0.0.1, a loopback address"))
        let metadata = r.admits(address: IPAddress("169.254.169.254")!, port: 80, forName: "api.example.com")
        #expect(metadata == .init(allowed: false, rule: "169.254.169.254", reason: "resolves to 169.254.169.254, denied by 169.254.169.254"))
        #expect(r.admits(address: IPAddress("10.1.2.3")!, port: 443, forName: "git.corp.example") == .init(allowed: true, rule: "10.1.0.0/16:443", reason: nil))
        #expect(!r.admits(address: IPAddress("10.1.2.3")!, port: 80, forName: "git.corp.example").allowed)
        #expect(!r.admits(address: IPAddress("10.2.0.1")!, port: 443, forName: "git.corp.example").allowed)
        #expect(r.admits(address: IPAddress("::ffff:10.1.0.9")!, port: 443, forName: "git.corp.example").allowed)
        #expect(!r.admits(address: IPAddress("::ffff:127.0.0.1")!, port: 443, forName: "api.example.com").allowed)
        #expect(!r.admits(address: IPAddress("fd00::1")!, port: 443, forName: "api.example.com").allowed)
        #expect(r.admits(address: IPAddress("1.1.1.1")!, port: 443, forName: "api.example.com") == .init(allowed: true, rule: nil, reason: nil))
        #expect(!r.admits(address: IPAddress("203.0.113.7")!, port: 443, forName: nil).allowed)
        #expect(r.admits(address: IPAddress("192.168.0.1")!, port: 443, forName: nil).reason == "192.168.0.1 is a private address")
    }

    @Test("Documentation and benchmarking addresses are not local: a name may resolve there (a mirror, a fake-IP proxy)")
    func notLocal() throws {
        #expect(IPAddress.SpecialRange.allCases.filter { !$0.isLocal } == [.documentation, .benchmarking])
        let r = try rules(allow: ["pypi.org", "*.example.com"], deny: ["198.18.0.66"])
        #expect(r.admits(address: IPAddress("203.0.113.80")!, port: 443, forName: "pypi.org") == .init(allowed: true, rule: nil, reason: nil))
        #expect(r.admits(address: IPAddress("198.18.0.5")!, port: 443, forName: "api.example.com").allowed)
        #expect(r.admits(address: IPAddress("::ffff:198.51.100.7")!, port: 80, forName: "pypi.org").allowed)
        #expect(!r.admits(address: IPAddress("198.18.0.66")!, port: 443, forName: "api.example.com").allowed)
        // The ranges where the machine's and its networks' services live stay refused.
        for local in ["127.0.0.1", "10.0.0.1", "169.254.169.254", "100.64.0.1", "fd00::1", "240.0.0.1", "192.0.0.8"] {
            #expect(!r.admits(address: IPAddress(local)!, port: 443, forName: "pypi.org").allowed, "\(local)")
        }
    }
}
