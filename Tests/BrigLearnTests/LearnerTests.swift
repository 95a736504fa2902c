import BrigPlan
import BrigProfile
import BrigRelay
import BrigSandbox
import Testing

@testable import BrigLearn

#if canImport(Glibc)
@preconcurrency import Glibc
#endif

@Suite("Learner.run: an early failure releases what the session was handed")
struct LearnerTests {
    static let context = ProfileContext(home: "/home/u", workdir: "/work/w", tmpdir: "/tmp/brig-learn-test", environment: [:])

    @Test("a watch filter that cannot be built leaves no private directory behind")
    func watchFailureRemovesTheDirectory() throws {
        let profile = try ProfileLoader.load("default", context: Self.context)
        var plan = try SandboxPlan.plan(
            profile: profile, executable: nil, arguments: [], context: Self.context, hostEnvironment: [:])
        // A deny-list base: its denied calls are watched too, and one of them names no group.
        try #require(plan.profile.sandbox.syscallDefault == .allow)
        plan.seccompNames.append("@no-such-group")
        let directory = try PrivateDirectory(prefix: "brig-learn-test-")
        var resources = Session.Resources()
        resources.temporaryDirectory = directory
        #expect(access(directory.path, F_OK) == 0)
        let spec = SpawnSpec(executable: "/bin/true", arguments: ["/bin/true"], environment: [], stdin: 0, stdout: 1, stderr: 2)
        let request = Learner.Request(
            spec: spec, plan: plan, relay: RelayConfiguration(), policy: nil, resources: resources, replay: nil)
        #expect(throws: SpawnError.self) { _ = try Learner.run(request) }
        #expect(access(directory.path, F_OK) != 0, "the private directory \(directory.path) was left behind")
        directory.remove()
    }

    @Test("a server that cannot be started leaves no private directory behind, with a replay too")
    func spawnFailureRemovesTheDirectory() throws {
        let profile = try ProfileLoader.load("default", context: Self.context)
        let plan = try SandboxPlan.plan(
            profile: profile, executable: nil, arguments: [], context: Self.context, hostEnvironment: [:])
        let directory = try PrivateDirectory(prefix: "brig-learn-test-")
        var resources = Session.Resources()
        resources.temporaryDirectory = directory
        let missing = "/nonexistent/brig-learn-test-server"
        let spec = SpawnSpec(executable: missing, arguments: [missing], environment: [], stdin: 0, stdout: 1, stderr: 2)
        let request = Learner.Request(
            spec: spec, plan: plan, relay: RelayConfiguration(), policy: nil, resources: resources,
            replay: [Array(#"{"jsonrpc":"2.0","id":1,"method":"ping"}"#.utf8)])
        #expect(throws: SpawnError.self) { _ = try Learner.run(request) }
        #expect(access(directory.path, F_OK) != 0, "the private directory \(directory.path) was left behind")
        directory.remove()
    }
}
