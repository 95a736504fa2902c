import BrigProfile
import Testing

@testable import BrigPlan
@testable import BrigSandbox

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
        return try SandboxPlan.plan(
            profile: p, executable: nil, arguments: [], context: Self.context,
            hostEnvironment: [:], features: features)
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

@Suite("The profile's words in the kernel's terms")
struct VocabularyMappingTests {
    @Test("Each resource limit is its RLIMIT_ number")
    func resourceLimits() {
        let expected: [ResourceLimit: __rlimit_resource] = [
            .cpu: RLIMIT_CPU, .fsize: RLIMIT_FSIZE, .data: RLIMIT_DATA, .stack: RLIMIT_STACK, .core: RLIMIT_CORE,
            .nproc: __RLIMIT_NPROC, .nofile: RLIMIT_NOFILE, .memlock: __RLIMIT_MEMLOCK, .addressSpace: RLIMIT_AS,
        ]
        #expect(expected.count == ResourceLimit.allCases.count)
        for (limit, resource) in expected { #expect(limit.resource == Int32(resource.rawValue), "\(limit)") }
    }

    @Test("Each namespace is its clone flag (pid with a mount namespace)")
    func namespaces() {
        // linux/sched.h: CLONE_NEWNS 0x20000, CLONE_NEWUTS 0x4000000, CLONE_NEWIPC 0x8000000,
        // CLONE_NEWPID 0x20000000, CLONE_NEWNET 0x40000000.
        #expect(Namespace.pid.cloneFlags == 0x2000_0000 | 0x2_0000)
        #expect(Namespace.ipc.cloneFlags == 0x800_0000)
        #expect(Namespace.uts.cloneFlags == 0x400_0000)
        #expect(Namespace.net.cloneFlags == 0x4000_0000)
    }

    @Test("Requirements read the probed features")
    func requirements() {
        var f = KernelFeatures(seccomp: true, seccompNotify: false, landlockABI: 4, noNewPrivs: true, isRoot: false, canDropBoundingSet: false)
        #expect(f.provides(.seccomp) && !f.provides(.seccompNotify) && f.provides(.landlock) && f.provides(.landlockNet))
        #expect(!f.provides(.landlockScope) && f.provides(.noNewPrivs) && !f.provides(.namespaces))
        f.landlockABI = 6
        f.userNamespaces = true
        #expect(f.provides(.landlockScope) && f.provides(.namespaces))
        f.landlockABI = 0
        #expect(!f.provides(.landlock))
    }
}
