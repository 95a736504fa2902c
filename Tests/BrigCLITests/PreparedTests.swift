import ArgumentParser
import BrigPlan
import BrigRelay
import BrigSystem
import Testing

@testable import BrigCLI

#if canImport(Glibc)
@preconcurrency import Glibc
#endif

/// `Prepared.make` and `brig run` up to the session: brig's own errors are thrown with their
/// code and message, and leave no private directory behind.
@Suite("Preparing a session: brig's own errors, and the private directory they release")
struct PreparedTests {
    let scratch: Scratch
    let directories: PrivateDirectories

    init() throws {
        scratch = try Scratch()
        directories = try PrivateDirectories(scratch)
    }

    /// `Prepared.make` for `options -- argv`, its private directory named with this test's prefix.
    func make(_ options: [String], _ argv: [String] = ["/bin/true"]) throws -> Prepared {
        let run = try Brig.Run.parse(["--workdir", scratch.path] + options + ["--"] + argv)
        return try Prepared.$privateDirectoryPrefix.withValue(directories.prefix) {
            try Prepared.make(
                argv: argv, sandbox: run.sandbox, policyOptions: run.policyOptions, relay: RelayConfiguration(),
                relayLimitGiven: false, confine: true)
        }
    }

    /// The error `body` throws, which must be brig's own (any other fails the test).
    func failure(_ body: () throws -> Prepared) throws -> BrigCLIError {
        do {
            let prepared = try body()
            prepared.release()
        } catch let error as BrigCLIError {
            return error
        }
        Issue.record("no error")
        return BrigCLIError(code: 0, message: "no error")
    }

    @Test func aValidProfileMakesTheDirectoryAndReleaseRemovesIt() throws {
        defer { scratch.remove() }
        let profile = try scratch.write("good.yaml", "version: 1\nname: good\nextends: default\n")
        #expect(directories.present().isEmpty)
        let prepared = try make(["--profile", profile])
        // The observation the other tests rely on: the run's directory is found by its prefix.
        let made = directories.present()
        #expect(made.count == 1)
        #expect(prepared.resources.temporaryDirectory.map { FileSystem.parent(of: $0.path) } == directories.base)
        #expect(prepared.relay.profileName == "good")
        prepared.release()
        #expect(directories.present().isEmpty)
    }

    @Test func handingOverLeavesNothingToRelease() throws {
        defer { scratch.remove() }
        var prepared = try make([])
        let taken = prepared.handOver()
        prepared.release()
        // The session's: still there until the session ends.
        #expect(directories.present().count == 1)
        #expect(prepared.resources.temporaryDirectory == nil)
        #expect(prepared.resources.landlockRuleset == -1)
        taken.temporaryDirectory?.remove()
        if taken.landlockRuleset >= 0 { _ = Glibc.close(taken.landlockRuleset) }
        taken.cgroup?.remove()
        #expect(directories.present().isEmpty)
    }

    @Test func aMissingProfileIs125NamingTheFile() throws {
        defer { scratch.remove() }
        let missing = scratch.path + "/missing.yaml"
        let error = try failure { try make(["--profile", missing]) }
        #expect(error.code == 125)
        #expect(error.message == "\(missing): cannot read profile: No such file or directory")
        #expect(directories.present().isEmpty)
    }

    @Test func anUnknownKeyIs125NamingFileLineAndKey() throws {
        defer { scratch.remove() }
        let profile = try scratch.write("bad.yaml", "version: 1\nname: bad\nsandbox:\n  bogus: 1\n")
        let error = try failure { try make(["--profile", profile]) }
        #expect(error.code == 125)
        #expect(error.message.hasPrefix("\(profile):4: sandbox.bogus: "), "\(error.message)")
        #expect(Brig.ending(for: error).standardError == "brig: \(error.message)\n")
        #expect(directories.present().isEmpty)
    }

    @Test func yamlThatDoesNotParseIs125NamingFileAndLine() throws {
        defer { scratch.remove() }
        let profile = try scratch.write("broken.yaml", "version: 1\nname: broken\nsandbox:\n  network: [unclosed\n")
        let error = try failure { try make(["--profile", profile]) }
        #expect(error.code == 125)
        #expect(error.message.hasPrefix("\(profile):"), "\(error.message)")
        #expect(!error.message.contains("\n"))
        #expect(directories.present().isEmpty)
    }

    @Test func aPolicyThatDoesNotCompileLeavesNoDirectory() throws {
        defer { scratch.remove() }
        // The profile loads; the policy fails later (an unknown --role), after the directory exists.
        let profile = try scratch.write("policy.yaml", "version: 1\nname: badpolicy\nextends: default\nmcp:\n  roles: {r: [a]}\n")
        let error = try failure { try make(["--profile", profile, "--role", "nosuchrole"]) }
        #expect(error.code == 125)
        #expect(error.message.contains("nosuchrole"), "\(error.message)")
        #expect(directories.present().isEmpty)
    }

    @Test func aCommandNotFoundIs127() throws {
        defer { scratch.remove() }
        let error = try failure { try make([], ["brigcli-no-such-command-\(scratch.unique)"]) }
        #expect(error == .notFound("brigcli-no-such-command-\(scratch.unique)"))
        #expect(error.code == 127)
        #expect(directories.present().isEmpty)
    }

    @Test func aFileThatIsNotExecutableIs126() throws {
        defer { scratch.remove() }
        let script = try scratch.write("server.sh", "#!/bin/sh\nexit 0\n", mode: 0o644)
        let error = try failure { try make([], [script]) }
        #expect(error.code == 126)
        #expect(error.message == "\(script): permission denied (not an executable file)")
        #expect(directories.present().isEmpty)
    }

    @Test func aRefusedWorkdirIs125BeforeAnyDirectory() throws {
        defer { scratch.remove() }
        let error = try failure { try make(["--workdir", "/"]) }
        #expect(error.code == 125)
        #expect(error.message.hasPrefix("--workdir /: "), "\(error.message)")
        #expect(directories.present().isEmpty)
    }

    /// `brig run` itself: an executable whose hash does not match is refused after the profile
    /// is loaded (the directory exists by then) and before the session starts.
    @Test func runRefusingTheExecutableLeavesNoDirectory() throws {
        defer { scratch.remove() }
        let want = String(repeating: "ab", count: 32)
        let run = try Brig.Run.parse(["--workdir", scratch.path, "--no-audit", "--expect-sha256", want, "--", "/bin/true"])
        let error = #expect(throws: BrigCLIError.self) {
            try Prepared.$privateDirectoryPrefix.withValue(directories.prefix) { try run.run() }
        }
        #expect(error?.code == 125)
        #expect(error?.message.hasSuffix(" does not match --expect-sha256 \(want); not starting it") == true, "\(error?.message ?? "")")
        #expect(directories.present().isEmpty)
    }
}
