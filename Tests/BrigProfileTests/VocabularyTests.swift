import Testing

@testable import BrigProfile

@Suite("The profile's words, parsed once into types")
struct VocabularyTests {
    @Test("Capabilities carry the kernel's numbers (linux/capability.h), in its order")
    func capabilityNumbers() {
        let expected: [(Capability, Int)] = [
            (.chown, 0), (.dacOverride, 1), (.kill, 5), (.setpcap, 8), (.netBindService, 10), (.netRaw, 13),
            (.sysModule, 16), (.sysChroot, 18), (.sysPtrace, 19), (.sysAdmin, 21), (.sysResource, 24), (.mknod, 27),
            (.setfcap, 31), (.macAdmin, 33), (.syslog, 34), (.auditRead, 37), (.perfmon, 38), (.bpf, 39), (.checkpointRestore, 40),
        ]
        for (cap, number) in expected { #expect(cap.number == number, "\(cap)") }
        #expect(Capability.allCases.count == 41)
        #expect(Capability.allCases.map(\.number) == Array(0...40))
    }

    @Test("A capability as a profile writes it: any case, with or without cap_")
    func capabilitySpellings() {
        #expect(Capability(profileWord: "CAP_NET_BIND_SERVICE") == .netBindService)
        #expect(Capability(profileWord: "net_raw") == .netRaw)
        #expect(Capability(profileWord: "Sys_Admin") == .sysAdmin)
        #expect(Capability(profileWord: "cap_") == nil)
        #expect(Capability(profileWord: "net-raw") == nil)
    }

    @Test(
        "sandbox.user: every spelling it accepts, and what it refuses",
        arguments: [
            ("auto", UserSpec.auto), ("keep", .keep), ("1000", .ids(uid: 1000, gid: 1000)), ("1000:100", .ids(uid: 1000, gid: 100)),
            ("nobody", .name("nobody", group: nil)), ("www-data:33", .name("www-data", group: 33)), ("_svc$", .name("_svc$", group: nil)),
        ] as [(String, UserSpec)])
    func userSpecs(text: String, spec: UserSpec) {
        #expect(UserSpec(text) == spec)
    }

    @Test("sandbox.user refusals")
    func userRefusals() {
        for text in ["", "Root", "1000:", ":100", "a:b", "1:2:3", "99999999999", "1-2", "x y", String(repeating: "a", count: 34)] {
            #expect(UserSpec(text) == nil, "\(text)")
        }
    }

    @Test("A profile's lists become typed values; an unknown word is refused at its line with the choices")
    func parsedTypes() throws {
        let p = try load(
            """
            version: 1
            sandbox:
              capabilities: [CAP_NET_BIND_SERVICE, sys_ptrace]
              require: [seccomp, landlock_net]
              namespaces: [pid, net]
              rlimits: {as: 1GiB, nofile: 64}
              user: "1000:100"
            mcp:
              pins: block
              poisoning: off
              leaks: block
            """)
        #expect(p.sandbox.capabilities == [.netBindService, .sysPtrace])
        #expect(p.sandbox.require == [.seccomp, .landlockNet])
        #expect(p.sandbox.namespaces == [.pid, .net])
        #expect(p.sandbox.rlimits == [.addressSpace: 1 << 30, .nofile: 64])
        #expect(p.sandbox.user == .ids(uid: 1000, gid: 100))
        #expect(p.mcp.pins == .block && p.mcp.poisoning == .off && p.mcp.leaks == .block)
        #expect(throws: ProfileError.self) {
            try load("version: 1\nsandbox:\n  namespaces: [pid, mnt]\n")
        }
        do {
            _ = try load("version: 1\nmcp:\n  pins: maybe\n")
            Issue.record("pins: maybe was accepted")
        } catch {
            #expect(error.description == "\(testSource):3: mcp.pins: expected block, warn, off, got \"maybe\"")
        }
    }
}
