import BrigJSONRPC
import BrigProfile
import Foundation
import Testing

@testable import BrigAudit

/// A full disk, made with RLIMIT_FSIZE in a child process (an exit test): writes past the limit
/// fail with EFBIG (SIGXFSZ ignored), as ENOSPC would on a full filesystem.
@Suite("Disk full")
struct DiskFullTests {
    @Test("on_failure: block: the log turns unhealthy, message() returns false, the file stays whole records")
    func block() async {
        let result = await #expect(processExitsWith: .success, observing: [\.standardErrorContent]) {
            DiskFull.run(continueOnFailure: false)
        }
        if let result, result.exitStatus != .exitCode(0) {
            Issue.record("child stderr: \(String(decoding: result.standardErrorContent, as: UTF8.self))")
        }
    }

    @Test("on_failure: continue: keeps accepting, counts lost records, and the chain continues after space returns")
    func continueOnFailure() async {
        let result = await #expect(processExitsWith: .success, observing: [\.standardErrorContent]) {
            DiskFull.run(continueOnFailure: true)
        }
        if let result, result.exitStatus != .exitCode(0) {
            Issue.record("child stderr: \(String(decoding: result.standardErrorContent, as: UTF8.self))")
        }
    }
}

enum DiskFull {
    static func fail(_ why: String) -> Never {
        FileHandle.standardError.write(Data("disk-full scenario failed: \(why)\n".utf8))
        exit(1)
    }

    static func run(continueOnFailure: Bool) -> Never {
        signal(SIGXFSZ, SIG_IGN)
        guard let dir = try? makeTempDir() else { fail("temp dir") }
        defer { cleanup(dir) }
        var s = AuditSettings()
        s.onFailure = continueOnFailure ? .continue : .block
        guard let opts = try? options(dir, settings: s), let log = try? AuditLog.open(opts) else { fail("open") }
        log.sessionStart(SessionInfo(brigVersion: "0", command: ["x"], profileName: "p"))
        log.flush()
        var rl = rlimit()
        getrlimit(__rlimit_resource_t(RLIMIT_FSIZE.rawValue), &rl)
        let saved = rl
        let size = (try? FileManager.default.attributesOfItem(atPath: log.path)[.size] as? Int) ?? 0
        rl.rlim_cur = rlim_t(size + 3000)
        guard setrlimit(__rlimit_resource_t(RLIMIT_FSIZE.rawValue), &rl) == 0 else { fail("setrlimit") }
        var refused = 0
        for i in 0..<200 {
            if !log.message(request(i)) { refused += 1 }
            if i % 10 == 0 { log.flush() }
        }
        log.flush()
        if continueOnFailure {
            guard log.isHealthy, refused == 0 else { fail("continue: unhealthy or refused \(refused)") }
            guard setrlimit(__rlimit_resource_t(RLIMIT_FSIZE.rawValue), [saved]) == 0 else { fail("restore") }
            log.message(request(999))
            log.close()
            guard let recs = try? records(log.path) else { fail("read") }
            // One audit-records-lost record per failure burst; together they count what the session lost.
            var count = 0
            for r in recs where r["event"]?["action"] == .string("audit-records-lost") {
                guard case .number(let n)? = r["brig"]?["detail"]?["count"], let c = Int(n), c > 0 else { fail("bad count") }
                count += c
            }
            guard count > 0 else { fail("no audit-records-lost record") }
            guard recs.last?["brig"]?["session"]?["lost"] == .number(String(count)) else {
                fail("session-end lost \(recs.last?["brig"]?["session"]?["lost"]?.jsonText ?? "-") != \(count)")
            }
            guard recs.contains(where: { $0["mcp"]?["id"] == .string("999") }) else { fail("no record after recovery") }
        } else {
            guard !log.isHealthy, refused > 0 else { fail("block: still healthy (refused \(refused))") }
            guard !log.message(request(1000)) else { fail("message() returned true") }
            _ = setrlimit(__rlimit_resource_t(RLIMIT_FSIZE.rawValue), [saved])
            log.close()
        }
        let report = AuditVerifier.verify(files: [log.path], key: testKey)
        guard report.isIntact else { fail("verify: \(report.problem?.description ?? "")") }
        exit(0)
    }
}
