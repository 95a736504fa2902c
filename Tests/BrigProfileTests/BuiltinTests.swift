import Foundation
import Testing

@testable import BrigProfile

@Suite("Built-in profiles")
struct BuiltinTests {
    @Test func names() {
        #expect(ProfileLoader.builtinNames == ["default", "node", "offline", "python", "strict"])
        #expect(ProfileLoader.builtinText("nope") == nil)
    }

    @Test(arguments: ["default", "node", "offline", "python", "strict"])
    func loads(_ name: String) throws {
        let p = try ProfileLoader.load(name, context: testContext)
        #expect(p.name == name)
        #expect(p.source == "builtin:\(name)")
        #expect(p.chain.last == "builtin:\(name)")
        #expect(p.description?.isEmpty == false)
        let s = p.sandbox
        #expect(s.capabilities.isEmpty)
        #expect(s.user == .auto)
        #expect(s.require.contains(.seccomp) && s.require.contains(.noNewPrivs))
        #expect(s.readPaths.contains("/usr"))
        #expect(s.execPaths.contains("/usr"))
        #expect(s.envSet["TMPDIR"] == "/tmp/brig-1")
        // Never the whole of /etc, the shadow file, root's or the user's home.
        for forbidden in ["/", "/etc", "/etc/shadow", "/root", "/home/u", "/home"] {
            #expect(!s.readPaths.contains(forbidden), "\(name) reads \(forbidden)")
            #expect(!s.writePaths.contains(forbidden), "\(name) writes \(forbidden)")
        }
        // Everything expanded and absolute.
        for path in s.readPaths + s.writePaths + s.execPaths {
            #expect(path.hasPrefix("/") && !path.contains("$") && path == normalizePath(path))
        }
    }

    @Test func defaultProfile() throws {
        let s = try ProfileLoader.load("default", context: testContext).sandbox
        #expect(s.syscallDefault == .allow)
        #expect(s.denySyscalls == ["@default-deny"])
        #expect(s.network == .all)
        #expect(s.writePaths == ["/work/w", "/tmp/brig-1", "/dev/null"])
        #expect(s.readPaths.contains("/work/w"))
        #expect(s.readPaths.contains("/etc/ssl") && s.readPaths.contains("/etc/resolv.conf"))
        #expect(s.rlimits == [.nofile: 4096, .nproc: 1024, .fsize: 4 << 30, .core: 0])
        #expect(s.envAllow.contains("LC_*") && s.envAllow.contains("PATH"))
        #expect(!s.envAllow.contains { $0.hasPrefix("XDG") })
        #expect(s.require == [.seccomp, .noNewPrivs])
    }

    @Test func offlineIsDefaultWithoutNetwork() throws {
        let d = try ProfileLoader.load("default", context: testContext)
        let o = try ProfileLoader.load("offline", context: testContext)
        #expect(o.chain == ["builtin:default", "builtin:offline"])
        #expect(o.sandbox.network == NetworkPolicy.none)
        var expected = d.sandbox
        expected.network = .none
        #expect(o.sandbox == expected)
    }

    @Test func strictGrantsNoNetworkAndOnlyItsTmp() throws {
        let p = try ProfileLoader.load("strict", context: testContext)
        #expect(p.chain == ["builtin:strict"])  // standalone
        let s = p.sandbox
        #expect(s.network == NetworkPolicy.none)
        #expect(s.writePaths.filter { $0 != "/dev/null" } == ["/tmp/brig-1"])
        #expect(!s.writePaths.contains("/work/w"))
        #expect(s.syscallDefault == .deny)
        #expect(s.allowSyscalls == ["@strict-allow"])
        #expect(s.require == [.seccomp, .landlock, .noNewPrivs])
        #expect(s.capabilities.isEmpty && s.namespaces.isEmpty)
    }

    @Test func pythonAndNode() throws {
        let py = try ProfileLoader.load("python", context: testContext).sandbox
        #expect(py.readPaths.contains("/home/u/.cache/uv") && py.readPaths.contains("/home/u/.pyenv"))
        #expect(py.writePaths == ["/work/w", "/tmp/brig-1", "/dev/null", "/home/u/.cache/uv", "/home/u/.local/share/uv/tools"])
        #expect(py.execPaths.contains("/home/u/.local/bin") && py.execPaths.contains("/usr/local"))
        #expect(py.envSet == ["TMPDIR": "/tmp/brig-1", "PYTHONUNBUFFERED": "1", "PYTHONDONTWRITEBYTECODE": "1"])
        #expect(py.envAllow.contains("UV_*") && py.envAllow.contains("VIRTUAL_ENV"))
        // By name, through the proxy: the package index uvx and pip fetch from at start-up.
        guard case .hosts(let pyHosts) = py.network else {
            Issue.record("python's network is \(py.network.summary), not an allow-list")
            return
        }
        #expect(pyHosts.decide(host: "pypi.org", port: 443).allowed && pyHosts.decide(host: "files.pythonhosted.org", port: 443).allowed)
        #expect(!pyHosts.decide(host: "example.com", port: 443).allowed)

        let node = try ProfileLoader.load("node", context: testContext).sandbox
        #expect(node.readPaths.contains("/home/u/.nvm") && node.readPaths.contains("/home/u/.local/share/pnpm"))
        #expect(node.writePaths.contains("/home/u/.npm"))
        #expect(node.execPaths.contains("/home/u/.nvm"))
        #expect(node.envAllow.contains("NODE_*") && node.envAllow.contains("NPM_CONFIG_*") && node.envAllow.contains("NVM_*"))
        guard case .hosts(let nodeHosts) = node.network else {
            Issue.record("node's network is \(node.network.summary), not an allow-list")
            return
        }
        #expect(nodeHosts.decide(host: "registry.npmjs.org", port: 443).allowed && !nodeHosts.decide(host: "evil.example", port: 443).allowed)
    }

    /// The embedded texts must be exactly profiles/*.yaml: run scripts/gen-profiles after editing.
    @Test func generatedFileIsInSync() throws {
        let dir = repoRoot().appendingPathComponent("profiles")
        let files = try FileManager.default.contentsOfDirectory(atPath: dir.path).filter { $0.hasSuffix(".yaml") }.sorted()
        let names = files.map { String($0.dropLast(".yaml".count)) }
        #expect(names == ProfileLoader.builtinNames, "run scripts/gen-profiles")
        for file in files {
            let text = try String(contentsOf: dir.appendingPathComponent(file), encoding: .utf8)
            let name = String(file.dropLast(".yaml".count))
            #expect(ProfileLoader.builtinText(name) == text, "\(file) changed: run scripts/gen-profiles")
        }
    }

    /// A profile file on disk can be loaded by path, and built-ins can be extended by name.
    @Test func builtinTextsLoadAsFiles() throws {
        let dir = try makeTempDir()
        defer { cleanup(dir) }
        for name in ProfileLoader.builtinNames {
            try write(ProfileLoader.builtinText(name)!, to: "\(dir)/\(name).yaml")
        }
        // offline.yaml says `extends: default`: that is the built-in, not default.yaml next to it.
        let p = try ProfileLoader.load("\(dir)/offline.yaml", context: testContext)
        #expect(p.chain == ["builtin:default", "\(dir)/offline.yaml"])
        #expect(p.sandbox == (try ProfileLoader.load("offline", context: testContext)).sandbox)
    }
}
