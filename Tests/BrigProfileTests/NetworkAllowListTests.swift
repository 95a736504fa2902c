import BrigProfile
import Testing

@Suite("sandbox.network: allow-lists of hosts")
struct NetworkAllowListTests {
    @Test func profileKeysParseToRules() throws {
        let s = try load(
            """
            version: 1
            sandbox:
              network:
                allow: ["api.github.com", "*.githubusercontent.com:443", "10.0.0.5:5432"]
                deny: ["169.254.169.254"]
            """
        ).sandbox
        guard case .hosts(let rules) = s.network else {
            Issue.record("not an allow-list: \(s.network.summary)")
            return
        }
        #expect(rules.allow.map(\.description) == ["api.github.com", "*.githubusercontent.com:443", "10.0.0.5:5432"])
        #expect(rules.deny.map(\.description) == ["169.254.169.254"])
        #expect(rules.decide(host: "raw.githubusercontent.com", port: 443).allowed)
        #expect(!rules.decide(host: "githubusercontent.com", port: 443).allowed)
        #expect(!rules.decide(host: "api.github.com", port: 22).allowed)
        #expect(s.network.summary == "allow api.github.com, *.githubusercontent.com:443, 10.0.0.5:5432; deny 169.254.169.254")
    }

    @Test(arguments: [
        ("sandbox:\n  network:\n    allow: [\"exa mple.com\"]\n", "p.yaml:4: sandbox.network.allow: "),
        ("sandbox:\n  network:\n    deny: [\"169.254.169.254\"]\n", "p.yaml:4: sandbox.network.allow: an allow-list is needed with deny"),
        ("sandbox:\n  network:\n    allow: [a.com]\n    connect: [443]\n", "p.yaml:5: sandbox.network: connect/bind port lists and an allow-list"),
        ("sandbox:\n  network:\n    allow: [{a: b}]\n", "p.yaml:4: sandbox.network.allow: expected a host"),
    ])
    func profileErrorsNameTheLine(_ body: String, _ expected: String) throws {
        let error = try #require(loadError("version: 1\n" + body))
        #expect(error.description.hasSuffix(expected) || error.description.contains(expected), "got: \(error.description)")
    }

    @Test func netFlagListsReplaceOrAdd() throws {
        var o = ProfileOverrides()
        o.network = "api.github.com,10.0.0.5:5432,!169.254.169.254"
        guard case .hosts(let replaced) = try ProfileLoader.load("default", context: testContext, overrides: o).sandbox.network else {
            Issue.record("--net HOSTS is not an allow-list")
            return
        }
        #expect(replaced.allow.map(\.description) == ["api.github.com", "10.0.0.5:5432"] && replaced.deny.map(\.description) == ["169.254.169.254"])
        o.network = "443,80"
        #expect(try ProfileLoader.load("default", context: testContext, overrides: o).sandbox.network == .ports(connect: [443, 80], bind: []))
        o.network = "+api.example.com"
        guard case .hosts(let added) = try ProfileLoader.load("python", context: testContext, overrides: o).sandbox.network else {
            Issue.record("--net +HOST did not keep python's allow-list")
            return
        }
        #expect(added.decide(host: "pypi.org", port: 443).allowed && added.decide(host: "api.example.com", port: 443).allowed)
    }
}
