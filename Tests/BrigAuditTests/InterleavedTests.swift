import Foundation
import Testing

@testable import BrigAudit

/// A collector's file: the records of two logs (two machines) interleaved as they arrived.
@Suite("Interleaved chains (a collector's file)")
struct InterleavedTests {
    /// Two logs of two sessions each, one per directory ("machine"), and their lines.
    func twoMachines() throws -> (dirs: [String], a: [String], b: [String]) {
        var dirs: [String] = [], logs: [[String]] = []
        for name in ["a", "b"] {
            let dir = try makeTempDir()
            let opts = try options(dir, name: name)
            _ = try writeSession(opts, messages: 4)
            _ = try writeSession(opts, messages: 2)
            dirs.append(dir)
            logs.append(try String(contentsOfFile: dir + "/\(name).jsonl", encoding: .utf8).split(separator: "\n").map(String.init))
        }
        return (dirs, logs[0], logs[1])
    }

    /// a0 b0 a1 b1 ... then the rest of the longer one.
    func interleave(_ a: [String], _ b: [String]) -> [String] {
        var out: [String] = []
        for i in 0..<max(a.count, b.count) {
            if i < a.count { out.append(a[i]) }
            if i < b.count { out.append(b[i]) }
        }
        return out
    }

    func verify(_ lines: [String]) -> InterleavedVerification {
        AuditVerifier.verifyInterleaved(logs: [("collector.log", Array((lines.joined(separator: "\n") + "\n").utf8))], key: testKey)
    }

    @Test("Two machines' chains interleaved: intact, two chains, four sessions")
    func intact() throws {
        let (dirs, a, b) = try twoMachines()
        defer { dirs.forEach(cleanup) }
        let r = verify(interleave(a, b))
        #expect(r.isIntact, "\(r.problems)")
        #expect(r.records == a.count + b.count)
        #expect(r.chains == 2 && r.sessions == 4 && r.duplicates.isEmpty)
        // The local verifier reads the same file as one chain: damaged.
        let local = AuditVerifier.verify(logs: [("collector.log", Array((interleave(a, b).joined(separator: "\n") + "\n").utf8))], key: testKey)
        #expect(!local.isIntact)
    }

    @Test("A resend (a run of records again after a reconnect): duplicates, not damage")
    func resend() throws {
        let (dirs, a, b) = try twoMachines()
        defer { dirs.forEach(cleanup) }
        var lines = interleave(Array(a[..<8]), b)
        lines += a[5..<8] + a[8...]
        let r = verify(lines)
        #expect(r.isIntact, "\(r.problems)")
        #expect(r.duplicates.count == 3)
        #expect(r.duplicates.map(\.sequence) == (6...8).map(UInt64.init))
        #expect(r.duplicates.allSatisfy { $0.description.contains(": duplicate of collector.log:") })
        #expect(r.records == a.count + b.count)
    }

    @Test("A collector killed mid-write: the torn start of a record, then the next on the same line; the record whole later: a warning, not damage")
    func tornWrite() throws {
        let (dirs, a, _) = try twoMachines()
        defer { dirs.forEach(cleanup) }
        // Records 1-4 arrive, the collector dies 60 bytes into record 5 and, restarted, appends
        // record 5 again (the forwarder's resend) right after the torn bytes, then the rest.
        var lines = Array(a[..<4])
        lines.append(String(a[4].prefix(60)) + a[4])
        lines += a[5...]
        let r = verify(lines)
        #expect(r.isIntact, "\(r.problems)")
        #expect(r.records == a.count && r.duplicates.isEmpty)
        #expect(
            r.warnings.contains { $0.hasPrefix("collector.log:5: a torn write (the collector stopped in the middle of sequence 5, which is whole at collector.log:5)") },
            "\(r.warnings)")
        // Torn before a record that is not its own (the resend began at an earlier record).
        lines = Array(a[..<4]) + [String(a[4].prefix(60)) + a[3]] + a[4...]
        let resent = verify(lines)
        #expect(resent.isIntact, "\(resent.problems)")
        #expect(resent.duplicates.map(\.sequence) == [4])
        #expect(resent.warnings.contains { $0.contains("the middle of sequence 5, which is whole at collector.log:6") }, "\(resent.warnings)")
    }

    @Test("Bytes before a record on its line that start no record in the files: modified, at that line")
    func tornHeadOfNothing() throws {
        let (dirs, a, _) = try twoMachines()
        defer { dirs.forEach(cleanup) }
        let forged = String(a[4].prefix(60)).replacingOccurrences(of: "\"event\"", with: "\"evenT\"")
        var lines = Array(a[..<4])
        lines.append(forged + a[4])
        lines += a[5...]
        let r = verify(lines)
        #expect(r.problems.count == 1, "\(r.problems)")
        #expect(r.problems.first?.damage == .modified && r.problems.first?.line == 5)
        #expect(r.problems.first?.message.hasPrefix("a partial record that is no record's start") == true)
        // A line that is no record and holds none: as before.
        lines[4] = "{\"@timestamp\":\"garbage"
        #expect(verify(lines).problems.contains { $0.line == 5 && $0.message == "not a valid audit record" })
    }

    @Test("A record dropped on the way: deleted, naming the sequence")
    func dropped() throws {
        let (dirs, a, b) = try twoMachines()
        defer { dirs.forEach(cleanup) }
        var aa = a
        aa.remove(at: 4)
        let r = verify(interleave(aa, b))
        #expect(r.problems.count == 1, "\(r.problems)")
        #expect(r.problems.first?.damage == .deleted)
        #expect(r.problems.first?.message.hasPrefix("record 5 is missing") == true)
    }

    @Test("A record edited: modified, at its line, nothing else")
    func edited() throws {
        let (dirs, a, b) = try twoMachines()
        defer { dirs.forEach(cleanup) }
        var bb = b
        bb[3] = bb[3].replacingOccurrences(of: "\"kind\":\"", with: "\"kind\":\"X")
        let lines = interleave(a, bb)
        let r = verify(lines)
        #expect(r.problems.count == 1, "\(r.problems)")
        #expect(r.problems.first?.damage == .modified)
        #expect(r.problems.first?.line == lines.firstIndex(of: bb[3])! + 1)
    }

    @Test("Two records swapped: reordered")
    func swapped() throws {
        let (dirs, a, b) = try twoMachines()
        defer { dirs.forEach(cleanup) }
        var aa = a
        aa.swapAt(3, 4)
        let r = verify(interleave(aa, b))
        #expect(r.problems.map(\.damage) == [.reordered], "\(r.problems)")
        #expect(r.problems.first?.sequence == 4)
    }

    @Test("A wrong key: said so")
    func wrongKey() throws {
        let (dirs, a, b) = try twoMachines()
        defer { dirs.forEach(cleanup) }
        let r = AuditVerifier.verifyInterleaved(
            logs: [("c", Array(interleave(a, b).joined(separator: "\n").utf8))],
            key: [UInt8](repeating: 1, count: 32))
        #expect(r.noRecordVerifies)
    }
}
