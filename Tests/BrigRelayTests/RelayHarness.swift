import BrigAudit
import BrigContent
import BrigJSONRPC
import BrigPolicy
import BrigProfile
import BrigSystem
import Foundation

@testable import BrigRelay

#if canImport(Glibc)
@preconcurrency import Glibc
#endif

/// One relay over real pipes, driven one direction at a time: each `fromHost`/`fromServer`
/// writes its lines into a fresh pipe, closes it, runs `Relay.pump` to the end of that input,
/// and returns what came out on the server's side and on the host's side during that pump.
/// Inputs and outputs must fit in a pipe buffer (64 KiB): the pump runs on the calling thread.
final class RelayHarness {
    let relay: Relay
    private let toServerRead: Int32
    private let toHostRead: Int32

    struct Output {
        /// What the server received, as text.
        var server: String
        /// What the host received, as text.
        var host: String
        /// The host's lines, parsed.
        var hostMessages: [JSONValue] {
            host.split(separator: "\n").compactMap { try? JSONValue.parse(String($0)) }
        }
    }

    init(
        policy: PolicyGate? = nil, audit: AuditLog? = nil, content: ContentGuard? = nil,
        configure: (inout RelayConfiguration) -> Void = { _ in }
    ) {
        let toServer = RelayHarness.makePipe(), toHost = RelayHarness.makePipe()
        for fd in [toServer.read, toHost.read] { _ = fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK) }
        toServerRead = toServer.read
        toHostRead = toHost.read
        var configuration = RelayConfiguration()
        configure(&configuration)
        relay = Relay(
            configuration: configuration, toHost: OutputChannel(fd: toHost.write), toServer: OutputChannel(fd: toServer.write),
            diagnostics: Diagnostics(perSecond: 0, burst: 0), policy: policy, audit: audit, content: content)
    }

    deinit {
        relay.toHost.close()
        relay.toServer.close()
        close(toServerRead)
        close(toHostRead)
    }

    func fromHost(_ text: String) -> Output { pump(Array(text.utf8), .hostToServer) }
    func fromServer(_ text: String) -> Output { pump(Array(text.utf8), .serverToHost) }

    private func pump(_ input: [UInt8], _ direction: Direction) -> Output {
        precondition(input.count < 60_000, "the harness writes its input before pumping: keep it under a pipe buffer")
        let pipe = RelayHarness.makePipe()
        _ = FileSystem.writeAll(pipe.write, input)
        close(pipe.write)
        relay.pump(from: pipe.read, direction: direction)
        close(pipe.read)
        return Output(
            server: String(decoding: RelayHarness.drain(toServerRead), as: UTF8.self),
            host: String(decoding: RelayHarness.drain(toHostRead), as: UTF8.self))
    }

    static func makePipe() -> (read: Int32, write: Int32) {
        var fds: [Int32] = [-1, -1]
        precondition(pipe(&fds) == 0)
        return (fds[0], fds[1])
    }

    /// What a non-blocking read end holds now.
    static func drain(_ fd: Int32) -> [UInt8] {
        var out: [UInt8] = []
        var buf = [UInt8](repeating: 0, count: 65536)
        while true {
            let n = read(fd, &buf, buf.count)
            if n <= 0 { break }
            out += buf[0..<n]
        }
        return out
    }
}

// MARK: Policy, content, audit

enum Fixtures {
    static let profileContext = ProfileContext(home: "/home/u", workdir: "/work/w", tmpdir: "/tmp/brig-1", environment: [:])

    /// The message policy of a profile given as YAML (a `version: 1` header is added).
    static func gate(_ yaml: String) throws -> PolicyGate {
        let profile = try ProfileLoader.load(yaml: "version: 1\n" + yaml, source: "/p/relay.yaml", context: profileContext)
        return PolicyGate(engine: try PolicyEngine(policy: profile.mcp, context: PolicyContext()))
    }

    /// Tools: `delete_*` denied by name; `write_file` only with a `path` under /work/w; the rest allowed.
    static let policyYAML = """
        mcp:
          tools:
            default: allow
            rules:
              - name: "delete_*"
                allow: false
              - name: "write_file"
                args:
                  path: {under: ["/work/w"]}
        """

    static func policy() throws -> PolicyGate { try gate(policyYAML) }

    /// Content defenses without pins (no state directory).
    static func content(leaks: LeakMode = .redact, sanitize: Bool = true, secrets: [String: String] = [:]) throws -> ContentGuard {
        try ContentGuard(settings: ContentSettings(pins: .off, sanitize: sanitize, poisoning: .off, leaks: leaks, secretValues: secrets))
    }

    /// A GitHub token as the secret patterns know it: `ghp_` and 36 alphanumerics.
    static let githubToken = "ghp_" + "A1b2C3d4E5f6G7h8I9j0K1l2M3n4O5p6Q7r8"

    static let auditKey: [UInt8] = (0..<32).map { UInt8(($0 * 13 + 5) & 0xFF) }
}

/// A temporary directory for one test's audit log and key; `remove()` it with defer.
struct TempDir {
    let path: String

    init() throws {
        path = FileManager.default.temporaryDirectory.appendingPathComponent("brig-relay-tests-\(UUID().uuidString)").path
        try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
    }

    func remove() { try? FileManager.default.removeItem(atPath: path) }

    var logPath: String { path + "/relay.jsonl" }

    /// Audit options for a log in this directory, keyed with `Fixtures.auditKey`.
    func auditOptions(_ settings: AuditSettings = AuditSettings()) throws -> AuditOptions {
        let keyPath = path + "/audit.key"
        try Data(Fixtures.auditKey).write(to: URL(fileURLWithPath: keyPath))
        return AuditOptions(path: logPath, keyFile: keyPath, settings: settings, sessionName: "relay", environment: ["HOME": path])
    }

    /// The records of the (closed) log.
    func records() throws -> [JSONValue] {
        let text = try String(contentsOfFile: logPath, encoding: .utf8)
        return try text.split(separator: "\n").map { try JSONValue.parse(String($0)) }
    }
}

extension JSONValue {
    /// `event.action` of an audit record.
    var action: String? { self["event"]?["action"]?.stringValue }
    /// `mcp.direction` of a message record.
    var direction: String? { self["mcp"]?["direction"]?.stringValue }
    /// The error code of a JSON-RPC error response.
    var errorCode: String? {
        guard case .number(let n)? = self["error"]?["code"] else { return nil }
        return n
    }
}
