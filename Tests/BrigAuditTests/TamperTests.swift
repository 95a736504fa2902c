import BrigJSONRPC
import BrigProfile
import BrigSystem
import Crypto
import Foundation
import Testing

@testable import BrigAudit

@Suite("Tampering is caught and named")
struct TamperTests {
    /// A log of two complete sessions; returns its path and lines.
    func twoSessions(_ dir: String, anchor: Bool = false) throws -> (String, [String]) {
        var s = AuditSettings()
        if anchor { s.anchor = dir + "/t.anchor" }
        let opts = try options(dir, settings: s)
        _ = try writeSession(opts)
        _ = try writeSession(opts)
        let path = dir + "/t.jsonl"
        return (path, try lines(path))
    }

    func verify(_ path: String, anchor: String? = nil) -> AuditVerification {
        AuditVerifier.verify(files: [path], key: testKey, anchor: anchor)
    }

    @Test("Untouched: intact")
    func intact() throws {
        let dir = try makeTempDir()
        defer { cleanup(dir) }
        let (path, _) = try twoSessions(dir, anchor: true)
        let r = verify(path, anchor: dir + "/t.anchor")
        #expect(r.isIntact)
        #expect(r.warnings.isEmpty)
    }

    @Test("A flipped byte: modified, at that line")
    func flipByte() throws {
        let dir = try makeTempDir()
        defer { cleanup(dir) }
        let (path, ls) = try twoSessions(dir)
        var l = ls
        l[4] = l[4].replacingOccurrences(of: "\"size\":", with: "\"size\":1")
        #expect(l[4] != ls[4])
        try writeLines(l, to: path)
        let r = verify(path)
        #expect(r.problem?.damage == .modified)
        #expect(r.problem?.line == 5)
        #expect(r.problem?.sequence == 5)
        #expect(r.problem?.description.hasPrefix("\(path):5: sequence 5: modified:") == true)
    }

    @Test("The first record modified and the rest intact is tampering, not a wrong key")
    func firstRecordModified() throws {
        let dir = try makeTempDir()
        defer { cleanup(dir) }
        let (path, ls) = try twoSessions(dir)
        var l = ls
        l[0] = l[0].replacingOccurrences(of: "\"version\":\"0.1.0\"", with: "\"version\":\"9.9.9\"")
        #expect(l[0] != ls[0])
        try writeLines(l, to: path)
        let r = verify(path)
        #expect(r.problem?.damage == .modified)
        #expect(r.problem?.line == 1)
        #expect(!r.noRecordVerifies)
    }

    @Test("A flipped bit anywhere in the line (raw bytes) is caught", arguments: [0, 10, 100, 200, -3, -40])
    func flipRawByte(_ offset: Int) throws {
        let dir = try makeTempDir()
        defer { cleanup(dir) }
        let (path, ls) = try twoSessions(dir)
        var bytes = Array(ls[3].utf8)
        let i = offset >= 0 ? offset : bytes.count + offset
        bytes[i] ^= 0x01
        var l = ls
        l[3] = String(decoding: bytes, as: UTF8.self)
        try writeLines(l, to: path)
        let r = verify(path)
        #expect(r.problem?.damage == .modified)
        #expect(r.problem?.line == 4)
    }

    @Test("A deleted record: deleted, naming the missing sequence")
    func deleteRecord() throws {
        let dir = try makeTempDir()
        defer { cleanup(dir) }
        let (path, ls) = try twoSessions(dir)
        var l = ls
        l.remove(at: 3)
        try writeLines(l, to: path)
        let r = verify(path)
        #expect(r.problem?.damage == .deleted)
        #expect(r.problem?.line == 4)
        #expect(r.problem?.message.contains("record 4 is missing") == true)
    }

    @Test("A forged record inserted: inserted")
    func insertForged() throws {
        let dir = try makeTempDir()
        defer { cleanup(dir) }
        let (path, ls) = try twoSessions(dir)
        var l = ls
        // A copy of record 3 made to look like the next one, with a MAC made by a wrong key.
        var forged = ls[2].replacingOccurrences(of: "\"sequence\":3,", with: "\"sequence\":4,")
        let canonical = Chain.split(Array(forged.utf8)[...])!.canonical
        let fake = Chain.mac(key: SymmetricKey(size: .bits256), prev: [UInt8](repeating: 1, count: 32), canonical: canonical)
        forged = String(forged.dropLast(Chain.suffixLength)) + ",\"mac\":\"\(Hex.encode(fake))\"}}"
        l.insert(forged, at: 3)
        try writeLines(l, to: path)
        let r = verify(path)
        #expect(r.problem?.damage == .inserted)
        #expect(r.problem?.line == 4)
    }

    @Test("A replayed copy of an earlier record: inserted")
    func replay() throws {
        let dir = try makeTempDir()
        defer { cleanup(dir) }
        let (path, ls) = try twoSessions(dir)
        var l = ls
        l.insert(ls[1], at: 5)
        try writeLines(l, to: path)
        let r = verify(path)
        #expect(r.problem?.damage == .inserted)
        #expect(r.problem?.line == 6)
    }

    @Test("Two records swapped: reordered")
    func swap() throws {
        let dir = try makeTempDir()
        defer { cleanup(dir) }
        let (path, ls) = try twoSessions(dir)
        var l = ls
        l.swapAt(3, 4)
        try writeLines(l, to: path)
        let r = verify(path)
        #expect(r.problem?.damage == .reordered)
        #expect(r.problem?.line == 4)
    }

    @Test("The tail cut: caught by the anchor (truncated); without it only a warning")
    func cutTail() throws {
        let dir = try makeTempDir()
        defer { cleanup(dir) }
        let (path, ls) = try twoSessions(dir, anchor: true)
        try writeLines(Array(ls.dropLast(3)), to: path)
        let r = verify(path, anchor: dir + "/t.anchor")
        #expect(r.problem?.damage == .truncated)
        #expect(r.problem?.message.contains("anchor records sequence \(ls.count)") == true)
        let loose = verify(path)
        #expect(loose.isIntact)
        #expect(loose.warnings.contains { $0.contains("ended without its end record") && $0.contains("--anchor") })
    }

    @Test("The tail cut and the last record replaced: the anchor's MAC differs")
    func replaceLast() throws {
        let dir = try makeTempDir()
        defer { cleanup(dir) }
        let (path, ls) = try twoSessions(dir, anchor: true)
        var l = ls
        l[l.count - 1] = l[l.count - 1].replacingOccurrences(of: "\"denied\":1", with: "\"denied\":0")
        try writeLines(l, to: path)
        #expect(verify(path, anchor: dir + "/t.anchor").problem?.damage == .modified)
    }

    @Test("An older session's tail cut: caught by the next session's chain (truncated)")
    func cutOlderSession() throws {
        let dir = try makeTempDir()
        defer { cleanup(dir) }
        let (path, ls) = try twoSessions(dir)
        let firstEnd = ls.firstIndex { $0.contains("\"action\":\"session-end\"") }!
        var l = ls
        l.removeSubrange((firstEnd - 2)...firstEnd)
        try writeLines(l, to: path)
        let r = verify(path)
        #expect(r.problem?.damage == .truncated)
        #expect(r.problem?.message.contains("was cut off after sequence \(firstEnd - 2)") == true)
    }

    @Test("A record edited and its mac replaced by an unkeyed SHA-256: still modified (the MAC is keyed)")
    func unkeyedRecompute() throws {
        let dir = try makeTempDir()
        defer { cleanup(dir) }
        let (path, ls) = try twoSessions(dir)
        var l = ls
        let edited = ls[4].replacingOccurrences(of: "\"allowed\":false", with: "\"allowed\":true")
            .replacingOccurrences(of: "\"allowed\":true", with: "\"allowed\":true")
        let (canonical, _) = Chain.split(Array(edited.utf8)[...])!
        let prev = Hex.decode(String(try JSONValue.parse(edited)["brig"]!["prev_mac"]!.stringValue!))!
        let sha = Hex.encode(SHA256.hash(data: prev + canonical))
        l[4] = String(edited.dropLast(Chain.suffixLength)) + ",\"mac\":\"\(sha)\"}}"
        // And the next record's prev_mac too, as a forger would.
        l[5] = l[5].replacingOccurrences(of: try JSONValue.parse(ls[4])["brig"]!["mac"]!.stringValue!, with: sha)
        try writeLines(l, to: path)
        let r = verify(path)
        #expect(r.problem?.damage == .modified)
        #expect(r.problem?.line == 5)
    }

    @Test("A session that ended without its end record (brig killed) is a warning, not damage")
    func killedSession() throws {
        let dir = try makeTempDir()
        defer { cleanup(dir) }
        let opts = try options(dir)
        do {
            // A "killed" session: records written, no close (the writer is flushed, then abandoned).
            let log = try AuditLog.open(opts)
            log.sessionStart(SessionInfo(brigVersion: "0.1.0", command: ["x"], profileName: "p"))
            log.message(request(1))
            log.flush()
            // Cut the session-end that close() would write by removing it afterwards.
            log.close()
            var l = try lines(dir + "/t.jsonl")
            l.removeLast()
            try writeLines(l, to: dir + "/t.jsonl")
        }
        _ = try writeSession(opts)
        let recs = try records(dir + "/t.jsonl")
        #expect(recs[2]["brig"]?["chain"]?["previous_session_ended"] == .bool(false))
        let r = verify(dir + "/t.jsonl")
        #expect(r.isIntact)
        #expect(r.warnings.count == 1)
        #expect(r.warnings.first?.contains("ended without its end record after sequence 2 (brig was killed") == true)
    }

    @Test("A wrong key: every record fails, and the report says no record verifies (not that one was modified)")
    func wrongKey() throws {
        let dir = try makeTempDir()
        defer { cleanup(dir) }
        let (path, _) = try twoSessions(dir)
        let r = AuditVerifier.verify(files: [path], key: [UInt8](repeating: 9, count: 32))
        #expect(r.problem?.damage == .modified)
        #expect(r.problem?.line == 1)
        #expect(r.noRecordVerifies)
        #expect(r.problem?.message.contains("wrong key") == true)
        #expect(!verify(path).noRecordVerifies)
    }

    @Test("A partial last line: a warning without an anchor (a killed brig looks the same)")
    func partialLine() throws {
        let dir = try makeTempDir()
        defer { cleanup(dir) }
        let (path, ls) = try twoSessions(dir)
        let text = ls.joined(separator: "\n") + "\n" + String(ls[1].prefix(40))
        try text.write(toFile: path, atomically: false, encoding: .utf8)
        let cut = verify(path)
        #expect(cut.problem == nil)
        #expect(cut.warnings.contains { $0.contains("the last record is incomplete") })
        // The next session ends that line, notes it, and chains over it: a warning then.
        _ = try writeSession(try options(dir))
        let r = verify(path)
        #expect(r.isIntact, "\(r.problem?.description ?? "")")
        #expect(r.warnings.contains { $0.contains("partial record") })
    }
}
