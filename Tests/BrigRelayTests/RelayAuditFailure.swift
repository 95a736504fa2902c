import BrigAudit
import BrigJSONRPC
import BrigProfile
import BrigSystem
import Foundation
import Synchronization

@testable import BrigRelay

#if canImport(Glibc)
@preconcurrency import Glibc
#endif

/// An audit log that cannot write, made with RLIMIT_FSIZE set to the log's size in a child
/// process (exit tests): every later write fails with EFBIG (SIGXFSZ ignored), as it would with
/// ENOSPC on a full disk, and the limit touches no other test. Each scenario exits 0 when every
/// check held, else prints what failed and exits 1.
enum AuditFailure {
    private static let failures = Mutex<[String]>([])

    /// Notes a failed check; the scenario goes on, and exits 1 at its end.
    static func check(_ condition: Bool, _ what: @autoclosure () -> String) {
        guard !condition else { return }
        let text = what()
        failures.withLock { $0.append(text) }
    }

    /// Runs `body` with a temporary directory and removes it. Exits 0 when the scenario ran to
    /// its end, after one stderr line per failed check (`failures(in:)` reads them back).
    static func scenario(_ body: (TempDir) throws -> Void) -> Never {
        do {
            let dir = try TempDir()
            defer { dir.remove() }
            try body(dir)
        } catch {
            check(false, "error: \(error)")
        }
        var report = ""
        for f in failures.withLock({ $0 }) { report += prefix + f + "\n" }
        FileHandle.standardError.write(Data((report + endMarker + "\n").utf8))
        exit(0)
    }

    static let prefix = "audit-failure scenario: "
    static let endMarker = "audit-failure scenario ran to its end"

    /// The failed checks a scenario's stderr reports, or why it did not run to its end.
    static func failures(in stderr: [UInt8]) -> [String] {
        let lines = String(decoding: stderr, as: UTF8.self).split(separator: "\n").map(String.init)
        guard lines.contains(endMarker) else { return ["the scenario did not run to its end: " + lines.joined(separator: "\n")] }
        return lines.filter { $0.hasPrefix(prefix) }
    }

    /// Lets no further write through to `log`'s file (nor any other file of this process).
    static func fill(_ log: AuditLog) {
        signal(SIGXFSZ, SIG_IGN)
        var st = stat()
        check(stat(log.path, &st) == 0 && st.st_size > 0, "nothing was written before the disk filled")
        var limit = rlimit()
        getrlimit(__rlimit_resource_t(RLIMIT_FSIZE.rawValue), &limit)
        limit.rlim_cur = rlim_t(st.st_size)
        check(setrlimit(__rlimit_resource_t(RLIMIT_FSIZE.rawValue), &limit) == 0, "setrlimit: \(SystemError.text())")
    }

    /// The reason of brig's -32603 when the trail cannot be written.
    static func isAuditRefusal(_ m: JSONValue) -> Bool {
        m.errorCode == String(MessageError.internalError)
            && m["error"]?["data"]?["reason"]?.stringValue?.contains("audit trail") == true
    }

    /// `on_failure: block` (the default) and `fsync: interval`: once a write has failed, the relay
    /// forwards nothing either way; the host's requests and the server's responses become -32603.
    static func unhealthyBeforeTheMessages() -> Never {
        scenario { dir in
            var settings = AuditSettings()
            settings.onFailure = .block
            let log = try AuditLog.open(try dir.auditOptions(settings))
            let h = RelayHarness(policy: try Fixtures.policy(), audit: log)

            // Before the disk fills: a call goes through and is awaited.
            let pending = RelayHandleTests.call("5", "read_file")
            check(h.fromHost(pending + "\n").server == pending + "\n", "a call before the failure was not forwarded")
            log.flush()
            check(log.isHealthy, "the log is unhealthy before its disk is full")

            // The disk fills: the next write fails, and the log turns unhealthy.
            fill(log)
            log.event(action: .connection, outcome: .success, detail: [])
            log.flush()
            check(!log.isHealthy, "the log is still healthy after a failed write")

            // From the host: an allowed call, a call the policy denies, a notification, a batch.
            let up = h.fromHost(
                [
                    RelayHandleTests.call("1", "read_file"), RelayHandleTests.call("2", "delete_repo"),
                    #"{"jsonrpc":"2.0","method":"notifications/initialized"}"#,
                    "[" + RelayHandleTests.call("3", "read_file") + "," + #"{"jsonrpc":"2.0","method":"n"}"# + "]",
                ].joined(separator: "\n") + "\n")
            check(up.server.isEmpty, "forwarded to the server with an unhealthy log: \(up.server)")
            let answers = up.hostMessages
            check(answers.map { $0["id"] } == [.number("1"), .number("2"), .number("3")], "the host's answers: \(up.host)")
            check(answers.allSatisfy(isAuditRefusal), "not all audit refusals: \(up.host)")
            for id in ["1", "2", "3"] { check(h.relay.hostRequests.lookup(id: id) == nil, "request \(id) still awaited") }

            // From the server: the response to the call awaited since before the failure, and a request.
            let down = h.fromServer(
                RelayHandleTests.textResult("5", "the result") + "\n"
                    + #"{"jsonrpc":"2.0","id":"s1","method":"sampling/createMessage","params":{}}"# + "\n")
            check(down.server.isEmpty, "brig answered the server: \(down.server)")
            check(!down.host.contains("the result"), "the server's response reached the host unrecorded")
            let downAnswers = down.hostMessages
            check(downAnswers.map { $0["id"] } == [.number("5")], "the host got: \(down.host)")
            check(downAnswers.allSatisfy(isAuditRefusal), "not the audit refusal: \(down.host)")
            log.close()
            // The failed writes were cut back: the file is still whole, verifiable records.
            let verification = AuditVerifier.verify(files: [log.path], key: Fixtures.auditKey)
            check(verification.isIntact, "verify: \(verification.problem?.description ?? "")")
        }
    }

    /// `fsync: always`: a message passes only once its own record is on disk. The log is healthy
    /// when the message comes, and that message's own record is the write that fails: it is
    /// refused, and the host gets exactly one answer, also to a call the policy answered itself.
    static func recordLostWhileHealthy(denied: Bool) -> Never {
        scenario { dir in
            var settings = AuditSettings()
            settings.onFailure = .block
            settings.fsync = .always
            let log = try AuditLog.open(try dir.auditOptions(settings))
            log.sessionStart(SessionInfo(brigVersion: "0", command: ["server"], profileName: "relay"))
            log.flush()
            let h = RelayHarness(policy: try Fixtures.policy(), audit: log)
            fill(log)
            check(log.isHealthy && log.waitsForDurableRecords, "the log should be healthy and durable")
            let out = h.fromHost(RelayHandleTests.call("1", denied ? "delete_repo" : "read_file") + "\n")
            check(!log.isHealthy, "the log is healthy after its record was lost")
            check(out.server.isEmpty, "forwarded although its record was lost: \(out.server)")
            let answers = out.hostMessages
            check(answers.map { $0["id"] } == [.number("1")], "not one answer to one request (\(answers.count)): \(out.host.debugDescription)")
            if denied {
                // The policy's own answer went out first: it stays the only one.
                check(answers.first?.errorCode == String(MessageError.invalidParams), "not the policy's denial: \(out.host)")
            } else {
                check(answers.allSatisfy(isAuditRefusal), "not the audit refusal: \(out.host)")
            }
            check(h.relay.hostRequests.lookup(id: "1") == nil, "request 1 still awaited")
            log.close()
        }
    }
}
