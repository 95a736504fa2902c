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

    /// A plan with `home` as $HOME and `dir/w` as the working directory.
    func plan(_ yaml: String, dir: String, home: String, environment: [String: String] = [:]) throws -> SandboxPlan {
        _ = mkdir(dir + "/w", 0o755)
        let context = ProfileContext(home: home, workdir: dir + "/w", tmpdir: dir + "/w", environment: [:])
        let profile = try ProfileLoader.load(yaml: yaml, source: dir + "/p.yaml", context: context)
        return try SandboxPlan.plan(
            profile: profile, executable: nil, arguments: [], context: context,
            hostEnvironment: environment.merging(["PATH": "/usr/bin"]) { a, _ in a })
    }

    @Test("A write grant under $HOME that does not exist is planned, not made; acquire makes it 0700 and the view binds it")
    func missingWriteGrants() throws {
        let dir = try directory()
        defer { _ = system("rm -rf '\(dir)'") }
        let home = dir + "/home"
        #expect(mkdir(home, 0o755) == 0)
        let yaml = "version: 1\nextends: default\nsandbox:\n  filesystem:\n    write: [\"$HOME/.cache/tool\", \"\(dir)/outside/x\"]\n"
        var p = try plan(yaml, dir: dir, home: home)
        // Only the one under $HOME (not $HOME itself, not one elsewhere), and nothing made yet.
        #expect(p.missingWriteGrants == [home + "/.cache/tool"])
        #expect(SandboxPlan.missingGrants([home, "/", home + "/.cache/tool", home + "/.cache/tool"], under: home) == [home + "/.cache/tool"])
        // Not in a directory of another user's (root with a user's $HOME would leave root's there).
        if geteuid() == 0 {
            #expect(mkdir(home + "/theirs", 0o755) == 0 && chown(home + "/theirs", 65534, 65534) == 0)
            #expect(SandboxPlan.missingGrants([home + "/theirs/cache/x"], under: home).isEmpty)
            rmdir(home + "/theirs")
        }
        #expect(!FileSystem.exists(home + "/.cache"))
        #expect(p.enforced.contains("write grants created at start (0700; they do not exist yet): \(home)/.cache/tool"))
        try p.acquire()
        defer { if p.confinement.landlockRuleset >= 0 { close(p.confinement.landlockRuleset) } }
        var st = stat()
        #expect(stat(home + "/.cache/tool", &st) == 0 && (st.st_mode & S_IFMT) == S_IFDIR && st.st_mode & 0o777 == 0o700)
        // The parents it had to make are 0700 too.
        #expect(stat(home + "/.cache", &st) == 0 && (st.st_mode & S_IFMT) == S_IFDIR && st.st_mode & 0o777 == 0o700)
        #expect(p.missingWriteGrants.isEmpty && !FileSystem.exists(dir + "/outside"))
        #expect(p.landlock?.granted.contains { $0.0 == home + "/.cache/tool" } == true)
        if let view = p.view {
            #expect(view.operations.contains { $0.kind == .bind && $0.path == home + "/.cache/tool" && $0.flags & NamespaceView.readOnly == 0 })
            #expect(p.confinement.view?.operations == view.operations)
        }
    }

    @Test("The trust-anchor variables pass, and what they name is granted read; a home directory is not")
    func trustAnchors() throws {
        let dir = try directory()
        defer { _ = system("rm -rf '\(dir)'") }
        let home = dir + "/home"
        #expect(mkdir(home, 0o755) == 0 && FileSystem.write(dir + "/ca.pem", Array("-----BEGIN CERTIFICATE-----\n".utf8)))
        let env = ["SSL_CERT_FILE": dir + "/ca.pem", "SSL_CERT_DIR": home, "CURL_CA_BUNDLE": dir + "/missing.pem", "AWS_SECRET": "x"]
        let p = try plan("version: 1\nextends: default\n", dir: dir, home: home, environment: env)
        #expect(p.environment.contains("SSL_CERT_FILE=\(dir)/ca.pem") && p.environment.contains("SSL_CERT_DIR=\(home)"))
        #expect(!p.environment.contains { $0.hasPrefix("AWS_SECRET=") })
        #expect(p.enforced.contains("trust anchors: \(dir)/ca.pem read (named by SSL_CERT_FILE)"))
        #expect(p.pending.landlockRules?.read.contains(dir + "/ca.pem") == true)
        #expect(p.pending.landlockRules?.read.contains(home) == false)
        #expect(p.notEnforced.contains { $0.hasPrefix("trust anchors: \(home) (named by SSL_CERT_DIR) not granted: it is your home directory") })
        #expect(!p.enforced.contains { $0.contains("missing.pem") } && !p.notEnforced.contains { $0.contains("missing.pem") })
    }
}
