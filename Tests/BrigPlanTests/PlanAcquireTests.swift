import BrigProfile
import BrigSystem
import Testing

@testable import BrigPlan
@testable import BrigSandbox

#if canImport(Glibc)
@preconcurrency import Glibc
#endif

/// The plan is pure (what `brig check` prints); `acquire` makes what the child needs.
@Suite("sandbox plan: the pure step, then acquiring", .serialized)
struct PlanAcquireTests {
    func directory() throws -> String {
        var template = Array("/tmp/brig-plan-acquire-XXXXXX".utf8CString)
        let made = template.withUnsafeMutableBufferPointer { mkdtemp($0.baseAddress!) }
        return String(cString: try #require(made))
    }

    func plan(_ yaml: String, dir: String) throws -> SandboxPlan {
        let context = ProfileContext(home: "/home/u", workdir: dir, tmpdir: dir, environment: [:])
        let profile = try ProfileLoader.load(yaml: yaml, source: dir + "/p.yaml", context: context)
        return try SandboxPlan.plan(
            profile: profile, executable: nil, arguments: [], context: context, hostEnvironment: ["PATH": "/usr/bin"])
    }

    @Test("The plan opens and reads nothing: no ruleset, a placeholder for the secret, even when its file is missing")
    func planIsPure() throws {
        let dir = try directory()
        defer { _ = system("rm -rf '\(dir)'") }
        let p = try plan(
            "version: 1\nextends: default\nsandbox:\n  env:\n    secrets: {API_TOKEN: {file: \"\(dir)/missing\"}}\n", dir: dir)
        #expect(p.confinement.landlockRuleset == -1 && p.landlock == nil && p.cgroup == nil)
        #expect(p.environment.contains("API_TOKEN=<secret from \(dir)/missing>"))
        #expect(p.secretValues.isEmpty)
        #expect(!p.pending.isEmpty)
        // What the plan says it will enforce is there before anything is made.
        #expect(p.enforced.contains { $0.hasPrefix("landlock ABI") })
    }

    @Test("acquire: the ruleset is open, the secret read into the environment and remembered for redaction")
    func acquireMakesWhatThePlanNeeds() throws {
        let dir = try directory()
        defer { _ = system("rm -rf '\(dir)'") }
        #expect(FileSystem.write(dir + "/token", Array("s3cr3t-value\n".utf8)))
        var p = try plan("version: 1\nextends: default\nsandbox:\n  env:\n    secrets: {API_TOKEN: {file: \"\(dir)/token\"}}\n", dir: dir)
        try p.acquire()
        defer { if p.confinement.landlockRuleset >= 0 { close(p.confinement.landlockRuleset) } }
        #expect(p.confinement.landlockRuleset >= 0 && p.landlock != nil)
        #expect(fcntl(p.confinement.landlockRuleset, F_GETFD) >= 0)
        #expect(p.environment.contains("API_TOKEN=s3cr3t-value"))
        #expect(!p.environment.contains { $0.contains("<secret from") })
        #expect(p.secretValues == ["API_TOKEN": "s3cr3t-value"])
        #expect(p.pending.isEmpty)
    }

    @Test("acquire: an unreadable secret is an error naming the key and the file, and leaves no ruleset open")
    func acquireFailsBeforeOpening() throws {
        let dir = try directory()
        defer { _ = system("rm -rf '\(dir)'") }
        var p = try plan("version: 1\nextends: default\nsandbox:\n  env:\n    secrets: {API_TOKEN: {file: \"\(dir)/missing\"}}\n", dir: dir)
        do {
            try p.acquire()
            Issue.record("acquire read a missing secret")
        } catch {
            #expect(error.description == "sandbox.env.secrets.API_TOKEN: cannot read \(dir)/missing: No such file or directory")
        }
        #expect(p.confinement.landlockRuleset == -1 && p.landlock == nil)
    }
}
