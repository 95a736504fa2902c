import BrigSystem
import Testing

@testable import BrigSandbox

#if canImport(Glibc)
@preconcurrency import Glibc
#endif

/// A scratch directory tree for tests that look at real files (realpath, stat).
struct Scratch {
    let root: String

    init() {
        var template = Array("/tmp/brig-sandbox-test-XXXXXX".utf8CString)
        root = template.withUnsafeMutableBufferPointer { String(cString: mkdtemp($0.baseAddress!)!) }
    }

    @discardableResult
    func dir(_ relative: String) -> String {
        let path = relative.isEmpty ? root : root + "/" + relative
        var sofar = ""
        for part in path.split(separator: "/") {
            sofar += "/" + part
            mkdir(sofar, 0o755)
        }
        return path
    }

    @discardableResult
    func file(_ relative: String) -> String {
        let path = root + "/" + relative
        dir(relative.split(separator: "/").dropLast().joined(separator: "/"))
        _ = FileSystem.write(path, Array("x".utf8))
        return path
    }

    func remove() { _ = system("rm -rf '\(root)'") }
}

@Suite struct GrantSafetyTests {
    let safety = GrantSafety(home: "/home/u", stateDirectories: ["/home/u/.local/state/brig"])

    @Test func refusesTheWholeMachineHomeAndAbove() {
        #expect(safety.refusal(for: "/") == .root)
        #expect(safety.refusal(for: "/home/u") == .home)
        #expect(safety.refusal(for: "/home") == .aboveHome)
        #expect(safety.refusal(for: "/home/u/project") == nil)
        #expect(safety.refusal(for: "/home/u/.local/state") == .holdsBrigState("/home/u/.local/state/brig"))
        #expect(safety.refusal(for: "/home/u/.local/state/brig/audit") == .insideBrigState("/home/u/.local/state/brig"))
    }

    @Test func refusesSystemDirectoriesThemselvesButNotBelowThem() {
        for dir in ["/usr", "/etc", "/var", "/opt", "/tmp", "/var/tmp", "/run", "/boot"] {
            #expect(safety.refusal(for: dir) == .systemDirectory, "\(dir)")
        }
        #expect(safety.refusal(for: "/proc/self") == .kernelInterface)
        #expect(safety.refusal(for: "/sys/fs") == .kernelInterface)
        #expect(safety.refusal(for: "/srv/app") == nil)
        #expect(safety.refusal(for: "/tmp/project") == nil)
    }

    @Test func anExplicitBroadWorkdirNeedsTheFlag() throws {
        #expect(throws: SandboxError.self) {
            _ = try WorkingDirectoryDecision.decide(path: "/", explicit: true, allowBroad: false, safety: safety)
        }
        let allowed = try WorkingDirectoryDecision.decide(path: "/home/u", explicit: true, allowBroad: true, safety: safety)
        #expect(allowed.granted)
        let implicit = try WorkingDirectoryDecision.decide(path: "/", explicit: false, allowBroad: true, safety: safety)
        #expect(!implicit.granted && implicit.refusal == .root)
        #expect(implicit.summary.contains("--workdir"))
        let project = try WorkingDirectoryDecision.decide(path: "/srv/app", explicit: false, allowBroad: false, safety: safety)
        #expect(project.granted)
    }
}

@Suite struct ArgumentGrantsTests {
    let nobody = GrantSafety(home: "", stateDirectories: [])

    @Test func grantsExistingPathsTheCommandNames() {
        let s = Scratch()
        defer { s.remove() }
        let repo = s.dir("repo")
        let config = s.file("conf/server.toml")
        let found = ArgumentGrants(
            arguments: ["--repository", repo, "--config=" + config, "time", "./missing", "/"],
            workingDirectory: s.root, home: "", safety: nobody)
        #expect(found.grants.contains(ArgumentGrants.Grant(path: repo, write: true, argument: repo)))
        #expect(found.grants.contains(ArgumentGrants.Grant(path: config, write: false, argument: "--config=" + config)))
        #expect(found.grants.count == 2, "bare words and missing paths grant nothing: \(found.grants)")
        #expect(found.skipped.map(\.refusal) == [.root])
    }

    @Test func readOnlyModeGrantsNoWrite() {
        let s = Scratch()
        defer { s.remove() }
        let repo = s.dir("repo")
        let found = ArgumentGrants(arguments: [repo], workingDirectory: "/", home: "", safety: nobody, allowWrite: false)
        #expect(found.grants == [ArgumentGrants.Grant(path: repo, write: false, argument: repo)])
    }

    @Test func relativePathsAreTakenAgainstTheWorkingDirectory() {
        let s = Scratch()
        defer { s.remove() }
        let data = s.dir("data")
        let found = ArgumentGrants(arguments: ["./data", "data"], workingDirectory: s.root, home: "", safety: nobody)
        #expect(found.grants.map(\.path) == [data])
    }

    @Test func secretsAndSystemStateAreNeverGrantedByNamingThem() {
        let s = Scratch()
        defer { s.remove() }
        let key = s.file("home/.ssh/id_rsa")
        let found = ArgumentGrants(
            arguments: ["/etc/passwd", key, "/proc/self/environ", "/usr/share/doc"],
            workingDirectory: "/", home: "", safety: nobody)
        #expect(found.grants == [ArgumentGrants.Grant(path: "/usr/share/doc", write: false, argument: "/usr/share/doc")])
        #expect(Set(found.skipped.map(\.refusal)) == [.systemSecrets, .secrets, .kernelInterface])
    }
}

@Suite struct NamespaceViewTests {
    @Test func bindsGrantsReadOnlyUnlessWritableAndSkipsWhatAParentShows() {
        let s = Scratch()
        defer { s.remove() }
        let work = s.dir("work")
        let inner = s.dir("work/inner")
        let etcFile = s.file("etc/passwd")
        let view = NamespaceView(
            grants: [
                .init(path: work, write: true), .init(path: inner, write: true),
                .init(path: etcFile, write: false), .init(path: "/proc/cpuinfo", write: false),
            ],
            workingDirectory: work, userNamespace: true)
        let binds = view.operations.filter { $0.kind == .bind }
        #expect(binds.map(\.path) == [etcFile, work], "\(binds)")
        #expect(binds.first { $0.path == work }?.flags == 0)
        #expect(binds.first { $0.path == etcFile }?.flags == NamespaceView.readOnly | NamespaceView.file)
        #expect(binds.allSatisfy { $0.source == "/oldroot" + $0.path && $0.target == "/newroot" + $0.path })
        #expect(!view.operations.contains { $0.kind == .directory }, "a granted working directory needs no stand-in")
        #expect(view.cloneFlags & NamespaceView.newUser != 0)
        // Mounts come before what is bound inside them.
        let order = view.operations.map(\.path)
        #expect(order.firstIndex(of: "/dev")! < order.firstIndex(of: "/dev/fd")!)
    }

    @Test func aReadOnlyGrantInsideAWritableOneIsBoundReadOnly() {
        let s = Scratch()
        defer { s.remove() }
        let work = s.dir("work")
        let docs = s.dir("work/docs")
        let view = NamespaceView(
            grants: [.init(path: work, write: true), .init(path: docs, write: false)],
            workingDirectory: nil, userNamespace: false)
        #expect(view.operations.filter { $0.kind == .bind }.map(\.path) == [work, docs])
    }

    @Test func symlinksOnTheWayAreRecreatedAndTheirTargetsBound() {
        let s = Scratch()
        defer { s.remove() }
        let real = s.dir("real/lib")
        symlink("real/lib", s.root + "/lib")
        let view = NamespaceView(grants: [.init(path: s.root + "/lib", write: false)], workingDirectory: nil, userNamespace: false)
        #expect(view.operations.contains { $0.kind == .bind && $0.path == real })
        #expect(view.operations.contains { $0.kind == .symlink && $0.path == s.root + "/lib" && $0.source == "real/lib" })
        #expect(view.cloneFlags & NamespaceView.newUser == 0)
    }

    @Test func anUngrantedWorkingDirectoryGetsAnEmptyStandIn() {
        let view = NamespaceView(grants: [], workingDirectory: "/home/someone", userNamespace: false)
        #expect(view.operations.contains { $0.kind == .directory && $0.path == "/home/someone" })
        let atRoot = NamespaceView(grants: [], workingDirectory: "/", userNamespace: false)
        #expect(!atRoot.operations.contains { $0.kind == .directory })
    }

    @Test func missingGrantsAreLeftOut() {
        let view = NamespaceView(grants: [.init(path: "/nonexistent/brig/path", write: true)], workingDirectory: nil, userNamespace: false)
        #expect(!view.operations.contains { $0.kind == .bind })
    }
}

@Suite struct StrictIsAtLeastDefaultTests {
    @Test func nothingDefaultDeniesIsInStrictsAllowList() throws {
        let denied = Set(try SyscallGroups.expand(["@default-deny"]))
        let allowed = Set(try SyscallGroups.expand(["@strict-allow"]))
        #expect(denied.intersection(allowed).isEmpty, "\(denied.intersection(allowed).sorted())")
    }
}
