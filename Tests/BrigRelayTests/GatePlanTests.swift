import BrigProfile
import BrigSandbox
import Testing

@testable import BrigRelay

#if canImport(Glibc)
@preconcurrency import Glibc
#endif

@Suite("sandbox plan: the socket and memfd gate")
struct GatePlanTests {
    static let context = ProfileContext(home: "/home/u", workdir: "/work/w", tmpdir: "/tmp/brig-plan-test", environment: [:])

    func plan(_ profile: String, notify: Bool, overrides: ProfileOverrides = .init()) throws -> SandboxPlan {
        let p = try ProfileLoader.load(profile, context: Self.context, overrides: overrides)
        var features = KernelFeatures.probe()
        features.seccompNotify = notify
        return try SandboxPlan.make(
            profile: p, executable: nil, arguments: [], context: Self.context,
            hostEnvironment: [:], features: features, build: false)
    }

    @Test func theGateCarriesTheGrantsAndThePortRule() throws {
        var o = ProfileOverrides()
        o.unixPaths = ["/run/app"]
        o.network = "443"
        let p = try plan("default", notify: true, overrides: o)
        let rules = try #require(p.confinement.gateRules)
        #expect(rules.unixGrants == ["/tmp/brig-plan-test", "/run/app"])
        #expect(rules.tcpConnectPorts == [443])
        #expect(rules.calls == SyscallGate.gatedNames)
        #expect(p.confinement.seccompListener)
        #expect(p.enforced.contains { $0.hasPrefix("unix sockets: pathname connect/sendto/sendmsg/sendmmsg only under /tmp/brig-plan-test, /run/app") })
        #expect(p.enforced.contains { $0.hasPrefix("fileless exec: ") })
    }

    @Test func killProfilesStillGetAListener() throws {
        let dir = "/tmp/brig-plan-test-\(getpid())"
        _ = mkdir(dir, 0o755)
        defer { unlink(dir + "/kill.yaml"); rmdir(dir) }
        let yaml = "version: 1\nname: kill\nextends: default\nsandbox:\n  syscalls: {on_deny: kill}\n"
        _ = yaml.withCString { text in
            let f = fopen(dir + "/kill.yaml", "w")
            defer { fclose(f) }
            return fputs(text, f)
        }
        let p = try plan(dir + "/kill.yaml", notify: true)
        #expect(p.confinement.seccompListener)
        #expect(p.confinement.gateRules != nil)
    }

    @Test func withoutNotificationItIsNotEnforcedAndSaysSo() throws {
        let p = try plan("strict", notify: false)
        #expect(p.confinement.gateRules == nil)
        #expect(!p.confinement.seccompListener)
        #expect(p.notEnforced.contains { $0.hasPrefix("unix sockets: named sockets are not limited") })
        #expect(p.notEnforced.contains { $0.hasPrefix("memfd: ") })
    }
}
