import Foundation
import Testing

@testable import BrigAudit

/// The follower that `audit tail -f` and `audit forward` read the trail through: positions,
/// rotation (several between two polls), resuming by file identity.
@Suite("AuditFollower")
struct FollowerTests {
    func append(_ path: String, _ lines: [String]) throws {
        let h = FileManager.default.fileExists(atPath: path) ? try FileHandle(forWritingTo: URL(fileURLWithPath: path)) : nil
        let data = Data(lines.map { $0 + "\n" }.joined().utf8)
        if let h {
            h.seekToEndOfFile()
            h.write(data)
            try h.close()
        } else {
            try data.write(to: URL(fileURLWithPath: path))
        }
    }

    func rotate(_ path: String) throws {
        var k = 1
        while FileManager.default.fileExists(atPath: path + ".\(k)") { k += 1 }
        while k > 1 {
            try FileManager.default.moveItem(atPath: path + ".\(k - 1)", toPath: path + ".\(k)")
            k -= 1
        }
        try FileManager.default.moveItem(atPath: path, toPath: path + ".1")
    }

    func text(_ lines: [FollowedLine]) -> [String] { lines.map { String(decoding: $0.bytes, as: UTF8.self) } }

    @Test("Lines with the position after each; a partial line waits for its newline")
    func positions() throws {
        let dir = try makeTempDir()
        defer { cleanup(dir) }
        let path = dir + "/t.jsonl"
        try append(path, ["one", "two"])
        let f = AuditFollower(oldestOf: path)
        let got = f.pollLines()
        #expect(text(got) == ["one", "two"])
        #expect(got.map(\.end.offset) == [4, 8])
        let h = try FileHandle(forWritingTo: URL(fileURLWithPath: path))
        h.seekToEndOfFile()
        h.write(Data("thr".utf8))
        #expect(f.pollLines().isEmpty)
        h.write(Data("ee\n".utf8))
        try h.close()
        let more = f.pollLines()
        #expect(text(more) == ["three"] && more[0].end.offset == 14)
    }

    @Test("Several rotations between two polls: every line once, in order, each with its file's identity")
    func rotations() throws {
        let dir = try makeTempDir()
        defer { cleanup(dir) }
        let path = dir + "/t.jsonl"
        try append(path, ["a1", "a2"])
        let f = AuditFollower(oldestOf: path)
        #expect(text(f.pollLines()) == ["a1", "a2"])
        try append(path, ["a3"])
        try rotate(path)
        try append(path, ["b1"])
        try rotate(path)
        try append(path, ["c1", "c2"])
        try rotate(path)
        try append(path, ["d1"])
        let got = f.pollLines()
        #expect(text(got) == ["a3", "b1", "c1", "c2", "d1"])
        var st = stat()
        stat(path + ".1", &st)
        #expect(got[2].end.inode == UInt64(st.st_ino) && got[2].end.offset == 3)
        #expect(f.notes.isEmpty)
    }

    @Test("Resuming at a position in a rotated file reads the rest of it, then the newer files")
    func resume() throws {
        let dir = try makeTempDir()
        defer { cleanup(dir) }
        let path = dir + "/t.jsonl"
        try append(path, ["a1", "a2", "a3"])
        let first = AuditFollower(oldestOf: path).pollLines()
        let at = first[1].end
        try rotate(path)
        try append(path, ["b1"])
        #expect(AuditFollower.file(of: at, in: path) == path + ".1")
        let f = try #require(AuditFollower(path: path, resume: at))
        #expect(text(f.pollLines()) == ["a3", "b1"])
        // Rotated away: not found.
        try FileManager.default.removeItem(atPath: path + ".1")
        #expect(AuditFollower.file(of: at, in: path) == nil)
        #expect(AuditFollower(path: path, resume: at) == nil)
    }

    @Test("The file being read rotated away meanwhile: the newer files are read and a note says so")
    func rotatedAway() throws {
        let dir = try makeTempDir()
        defer { cleanup(dir) }
        let path = dir + "/t.jsonl"
        try append(path, ["a1"])
        let f = AuditFollower(oldestOf: path)
        #expect(text(f.pollLines()) == ["a1"])
        try rotate(path)
        try append(path, ["b1"])
        try rotate(path)
        try append(path, ["c1"])
        try FileManager.default.removeItem(atPath: path + ".2")  // the file f was reading
        #expect(text(f.pollLines()) == ["b1", "c1"])
        #expect(f.notes.count == 1 && f.notes[0].contains("rotated away"))
    }
}
