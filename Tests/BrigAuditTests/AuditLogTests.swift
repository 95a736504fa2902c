import BrigJSONRPC
import BrigProfile
import Foundation
import Testing

@testable import BrigAudit

@Suite("Audit log: records, chain, payloads, rotation")
struct AuditLogTests {
    @Test("A session writes one record per event, valid against docs/audit.schema.json, and verifies")
    func sessionRecords() throws {
        let dir = try makeTempDir()
        defer { cleanup(dir) }
        let opts = try options(dir)
        let log = try writeSession(opts)
        let recs = try records(log.path)
        #expect(recs.count == 1 + 6 + 1 + 1 + 1 + 1)
        let actions = recs.map { $0["event"]?["action"]?.stringValue ?? "" }
        #expect(actions.first == "session-start")
        #expect(actions.last == "session-end")
        #expect(actions.contains("syscall-blocked") && actions.contains("child-exit") && actions.contains("rate-limited"))
        #expect(recs.map { $0["event"]?["sequence"] } == (1...recs.count).map { JSONValue.number(String($0)) })
        let validator = try SchemaValidator()
        for r in recs { #expect(validator.validate(r) == [], "\(r.jsonText)") }
        // Each record has the session id; brig.mac is the last member of the last member.
        for line in try lines(log.path) {
            #expect(line.hasSuffix("\"}}"))
            #expect(line.contains("\"session\":{\"id\":\"\(log.sessionID)\""))
            #expect(Chain.split(Array(line.utf8)[...]) != nil)
        }
        let start = recs[0]
        #expect(start["brig"]?["profile"]?["sha256"]?.stringValue == sha256Hex(Array("version: 1\n".utf8)))
        #expect(start["process"]?["hash"]?["sha256"]?.stringValue == sha256File("/bin/sh"))
        #expect(start["process"]?["args"]?.arrayValue?.last == .string("[REDACTED:github-token]"))
        #expect(start["brig"]?["chain"]?["previous_tail"] == .string("new log"))
        #expect(start["user"]?["id"]?.stringValue == String(getuid()))
        let denied = recs.first { $0["event"]?["type"]?.arrayValue == [.string("denied")] && $0["mcp"] != nil }
        #expect(denied?["mcp"]?["decision"]?["rule"] == .string("mcp.tools.deny[0]"))
        #expect(denied?["event"]?["outcome"] == .string("failure"))
        #expect(denied?["event"]?["kind"] == .string("alert"))
        let response = recs.first { $0["mcp"]?["kind"] == .string("response") }
        #expect(response?["mcp"]?["duration_us"] == .number("1234"))
        #expect(response?["mcp"]?["payload"]?["result"]?["content"]?.arrayValue?.count == 1)
        let end = recs.last
        #expect(end?["brig"]?["session"]?["messages"] == .number("6"))
        #expect(end?["brig"]?["session"]?["denied"] == .number("1"))
        let report = AuditVerifier.verify(files: [log.path], key: testKey)
        #expect(report.isIntact, "\(report.problem?.description ?? "")")
        #expect(report.warnings.isEmpty)
        #expect(report.records == recs.count)
    }

    @Test("The session-end record carries the blocked-call totals and how many had no record of their own")
    func blockedTotals() throws {
        let dir = try makeTempDir()
        defer { cleanup(dir) }
        let log = try AuditLog.open(try options(dir))
        log.sessionStart(SessionInfo(brigVersion: "0.1.0", command: ["srv"], profileName: "default"))
        log.blockedSyscall(pid: 7, name: "ptrace", args: [0, 0])
        log.close(blocked: BlockedSyscallTotals(bySyscall: ["ptrace": 10_000, "unshare": 2], notRecorded: 9_002))
        let end = try #require(try records(log.path).last)
        #expect(end["event"]?["action"]?.stringValue == "session-end")
        let session = end["brig"]?["session"]
        #expect(session?["blocked_syscalls"] == .object([("ptrace", .number("10000")), ("unshare", .number("2"))]))
        #expect(session?["blocked_syscalls_suppressed"] == .number("9002"))
        #expect(try SchemaValidator().validate(end) == [])
        #expect(AuditVerifier.verify(files: [log.path], key: testKey).isIntact)
    }

    @Test("Files are 0600, directories 0700; the default key is created 0600 on first use")
    func permissions() throws {
        let dir = try makeTempDir()
        defer { cleanup(dir) }
        let opts = AuditOptions(sessionName: "srv", environment: ["XDG_STATE_HOME": dir + "/state", "HOME": dir])
        let log = try AuditLog.open(opts)
        log.sessionStart(SessionInfo(brigVersion: "0", command: ["srv"], profileName: "srv"))
        log.close()
        #expect(log.path == dir + "/state/brig/audit/srv.jsonl")
        func mode(_ p: String) throws -> Int {
            (try FileManager.default.attributesOfItem(atPath: p)[.posixPermissions] as? Int) ?? -1
        }
        #expect(try mode(log.path) == 0o600)
        #expect(try mode(dir + "/state/brig/audit") == 0o700)
        #expect(try mode(dir + "/state/brig/audit.key") == 0o600)
        let key = try AuditKey.load(dir + "/state/brig/audit.key")
        #expect(key.count == 32)
        #expect(AuditVerifier.verify(files: [log.path], key: key).isIntact)
        // A second open reuses the key.
        let again = try AuditLog.open(opts)
        again.sessionStart(SessionInfo(brigVersion: "0", command: ["srv"], profileName: "srv"))
        again.close()
        #expect(try AuditKey.load(dir + "/state/brig/audit.key") == key)
        #expect(AuditVerifier.verify(files: [log.path], key: key).sessions == 2)
    }

    @Test("A missing key_file is an error, not a new key")
    func missingKey() throws {
        let dir = try makeTempDir()
        defer { cleanup(dir) }
        var s = AuditSettings()
        s.keyFile = dir + "/nope.key"
        #expect(throws: AuditError.self) { try AuditLog.open(AuditOptions(path: dir + "/x.jsonl", settings: s, sessionName: "x")) }
    }

    @Test("Sessions chain: the next session's first record links to the last one, sequences continue")
    func chainAcrossSessions() throws {
        let dir = try makeTempDir()
        defer { cleanup(dir) }
        let opts = try options(dir)
        _ = try writeSession(opts)
        let firstCount = try lines(dir + "/t.jsonl").count
        _ = try writeSession(opts)
        let recs = try records(dir + "/t.jsonl")
        let second = recs[firstCount]
        #expect(second["event"]?["sequence"] == .number(String(firstCount + 1)))
        #expect(second["brig"]?["prev_mac"] == recs[firstCount - 1]["brig"]?["mac"])
        #expect(second["brig"]?["chain"]?["previous_tail"] == .string("intact"))
        #expect(second["brig"]?["chain"]?["previous_session_ended"] == .bool(true))
        let report = AuditVerifier.verify(files: [dir + "/t.jsonl"], key: testKey)
        #expect(report.isIntact)
        #expect(report.sessions == 2)
    }

    @Test("payloads: hash, none, full")
    func payloadModes() throws {
        for mode in [AuditPayloads.hash, .none, .full] {
            let dir = try makeTempDir()
            defer { cleanup(dir) }
            var s = AuditSettings()
            s.payloads = mode
            let log = try AuditLog.open(try options(dir, settings: s))
            let m = request(1, args: "{\"password\":\"hunter2\"}")
            log.message(m)
            log.close()
            let rec = try records(log.path)[0]
            let payload = rec["mcp"]?["payload"]
            switch mode {
            case .hash: #expect(payload?["sha256"]?.stringValue == sha256Hex(m.raw ?? []))
            case .none: #expect(payload == nil)
            default: #expect(payload?["params"]?["arguments"]?["password"] == .string("hunter2"))
            }
            #expect(try SchemaValidator().validate(rec) == [])
        }
    }

    @Test("Rotation by size: NAME.jsonl -> NAME.jsonl.1 ...; the chain continues and verify reads the set oldest first")
    func rotation() throws {
        let dir = try makeTempDir()
        defer { cleanup(dir) }
        var s = AuditSettings()
        s.rotateMaxBytes = 4096
        s.rotateKeep = 50
        let opts = try options(dir, settings: s)
        _ = try writeSession(opts, messages: 40)
        _ = try writeSession(opts, messages: 40)
        let set = AuditVerifier.rotatedSet(dir + "/t.jsonl")
        #expect(set.count > 5)
        #expect(set.first == dir + "/t.jsonl.\(set.count - 1)")
        #expect(set.last == dir + "/t.jsonl")
        var total = 0
        for f in set {
            let size = (try FileManager.default.attributesOfItem(atPath: f)[.size] as? Int) ?? 0
            #expect(size <= 4096)
            total += try lines(f).count
        }
        let report = AuditVerifier.verify(files: set, key: testKey)
        #expect(report.isIntact, "\(report.problem?.description ?? "")")
        #expect(report.records == total)
        #expect(report.firstSequence == 1)
        #expect(report.warnings.isEmpty)
        // Deleting a middle file is caught.
        try FileManager.default.removeItem(atPath: set[2])
        let broken = AuditVerifier.verify(files: AuditVerifier.rotatedSet(dir + "/t.jsonl"), key: testKey)
        #expect(!broken.isIntact)
    }

    @Test("Rotation keeps at most `keep` files; verify warns that the chain starts later")
    func rotationKeep() throws {
        let dir = try makeTempDir()
        defer { cleanup(dir) }
        var s = AuditSettings()
        s.rotateMaxBytes = 4096
        s.rotateKeep = 2
        _ = try writeSession(try options(dir, settings: s), messages: 60)
        #expect(FileManager.default.fileExists(atPath: dir + "/t.jsonl.2"))
        #expect(!FileManager.default.fileExists(atPath: dir + "/t.jsonl.3"))
        let report = AuditVerifier.verify(files: AuditVerifier.rotatedSet(dir + "/t.jsonl"), key: testKey)
        #expect(report.isIntact)
        #expect(report.warnings.contains { $0.contains("the chain starts at sequence") })
    }

    @Test("A new session continues the chain from the newest rotated file when the log was just rotated away")
    func tailFromRotated() throws {
        let dir = try makeTempDir()
        defer { cleanup(dir) }
        let opts = try options(dir)
        _ = try writeSession(opts)
        try FileManager.default.moveItem(atPath: dir + "/t.jsonl", toPath: dir + "/t.jsonl.1")
        _ = try writeSession(opts)
        let report = AuditVerifier.verify(files: AuditVerifier.rotatedSet(dir + "/t.jsonl"), key: testKey)
        #expect(report.isIntact)
        #expect(report.sessions == 2)
    }

    @Test("The anchor holds the last sequence and MAC after close")
    func anchor() throws {
        let dir = try makeTempDir()
        defer { cleanup(dir) }
        var s = AuditSettings()
        s.anchor = dir + "/t.anchor"
        let log = try writeSession(try options(dir, settings: s))
        let last = try records(log.path).last
        let a = try JSONValue.parse(String(contentsOfFile: dir + "/t.anchor", encoding: .utf8).trimmingCharacters(in: .newlines))
        #expect(a["sequence"] == last?["event"]?["sequence"])
        #expect(a["mac"] == last?["brig"]?["mac"])
        #expect(AuditVerifier.verify(files: [log.path], key: testKey, anchor: dir + "/t.anchor").isIntact)
    }

    @Test("fsync: always: message() returns once its record is in the file")
    func fsyncAlways() throws {
        let dir = try makeTempDir()
        defer { cleanup(dir) }
        var s = AuditSettings()
        s.fsync = .always
        let log = try AuditLog.open(try options(dir, settings: s))
        #expect(log.message(request(1)))
        #expect(try lines(log.path).count == 1)
        log.close()
    }

    @Test("flush() waits for every queued record")
    func flush() throws {
        let dir = try makeTempDir()
        defer { cleanup(dir) }
        let log = try AuditLog.open(try options(dir))
        for i in 0..<500 { log.message(request(i)) }
        log.flush()
        #expect(try lines(log.path).count == 500)
        log.close()
        log.close()
        #expect(try lines(log.path).count == 501)
    }

    @Test("path \"-\" writes to stderr (and keeps no chain state)")
    func stderrPath() throws {
        let dir = try makeTempDir()
        defer { cleanup(dir) }
        var o = try options(dir)
        o.path = "-"
        let log = try AuditLog.open(o)
        #expect(log.path == "-")
        log.close()
    }

    @Test("Denials and blocked syscalls go to syslog as RFC 5424 when audit.syslog is on")
    func syslog() throws {
        let dir = try makeTempDir()
        defer { cleanup(dir) }
        let sock = dir + "/log.sock"
        let fd = socket(AF_UNIX, Int32(SOCK_DGRAM.rawValue), 0)
        defer { close(fd) }
        var addr = sockaddr_un()
        addr.sun_family = sa_family_t(AF_UNIX)
        withUnsafeMutableBytes(of: &addr.sun_path) { buf in
            for (i, b) in sock.utf8.enumerated() { buf[i] = b }
        }
        let rc = withUnsafePointer(to: &addr) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, socklen_t(MemoryLayout<sockaddr_un>.size)) }
        }
        try #require(rc == 0)
        var s = AuditSettings()
        s.syslog = true
        var o = try options(dir, settings: s)
        o.syslogSocket = sock
        let log = try AuditLog.open(o)
        log.message(request(1, allowed: true))
        log.message(request(2, allowed: false))
        log.blockedSyscall(pid: 7, name: "ptrace", args: [])
        log.close()
        var got: [String] = []
        var buf = [UInt8](repeating: 0, count: 2048)
        while true {
            let n = buf.withUnsafeMutableBytes { recv(fd, $0.baseAddress, $0.count, Int32(MSG_DONTWAIT)) }
            if n <= 0 { break }
            got.append(String(decoding: buf[0..<n], as: UTF8.self))
        }
        #expect(got.count == 2)
        #expect(got.first?.hasPrefix("<84>1 ") == true)
        #expect(got.first?.contains(" brig \(getpid()) denial - denied host-to-server request method=tools/call tool=echo rule=mcp.tools.deny[0]") == true)
        #expect(got.last?.contains("blocked syscall ptrace pid=7") == true)
    }

    @Test("Timestamps: UTC with microseconds, round trip")
    func timestamps() {
        #expect(formatTimestamp(0) == "1970-01-01T00:00:00.000000Z")
        #expect(formatTimestamp(1_795_635_641_123_456) == "2026-11-25T19:40:41.123456Z")
        #expect(parseTimestamp("2026-11-25T19:40:41.123456Z") == 1_795_635_641_123_456)
        #expect(parseTimestamp("2026-11-25") == 1_795_564_800_000_000)
        #expect(formatTimestamp(951_782_400_000_001) == "2000-02-29T00:00:00.000001Z")
    }

    @Test("Writer throughput (records per second, reported; not a timing assertion)")
    func throughput() throws {
        let dir = try makeTempDir()
        defer { cleanup(dir) }
        let log = try AuditLog.open(try options(dir))
        let n = 20_000
        let m = request(1, args: "{\"path\":\"/tmp/x\",\"api_key\":\"AKIAABCDEFGHIJKLMNOP\"}")
        let start = monotonicMicros()
        var callerMicros: UInt64 = 0
        for _ in 0..<n {
            let t = monotonicMicros()
            log.message(m)
            callerMicros += monotonicMicros() - t
        }
        log.close()
        let elapsed = Double(monotonicMicros() - start) / 1e6
        #expect(try lines(log.path).count == n + 1)
        print(
            "audit writer: \(n) redacted records in \(String(format: "%.3f", elapsed)) s = \(Int(Double(n) / elapsed)) records/s; caller \(String(format: "%.2f", Double(callerMicros) / Double(n))) us/record"
        )
    }
}

@Suite struct ExecutableDigestCacheTests {
    @Test func aCachedDigestIsTheFilesAndChangesWithTheFile() throws {
        var template = Array("/tmp/brig-digest-test-XXXXXX".utf8CString)
        let dir = template.withUnsafeMutableBufferPointer { String(cString: mkdtemp($0.baseAddress!)!) }
        defer { _ = system("rm -rf '\(dir)'") }
        let file = dir + "/server"
        func write(_ text: String) {
            let fd = open(file, O_WRONLY | O_CREAT | O_TRUNC, 0o755)
            _ = Array(text.utf8).withUnsafeBytes { Glibc.write(fd, $0.baseAddress, $0.count) }
            close(fd)
        }
        write("first")
        let cache = dir + "/cache"
        let first = Digest.sha256(file: file, cachedIn: cache)
        #expect(first == Digest.sha256(file: file))
        #expect(Digest.sha256(file: file, cachedIn: cache) == first, "served from the cache")
        write("second, same path")
        let second = Digest.sha256(file: file, cachedIn: cache)
        #expect(second == Digest.sha256(file: file) && second != first, "a changed file is hashed again")
    }
}
