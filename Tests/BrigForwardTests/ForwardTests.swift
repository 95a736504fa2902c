import BrigAudit
import Foundation
import Testing

@testable import BrigForward

let sampleRecord =
    #"{"@timestamp":"2026-11-25T19:40:41.123456Z","event":{"kind":"alert","category":["api"],"type":["denied"],"action":"message","outcome":"failure","sequence":42},"brig":{"schema":1,"session":{"id":"3f2a9c0d11b2e4f5"},"prev_mac":"\#(String(repeating: "ab", count: 32))","mac":"\#(String(repeating: "0f", count: 32))"}}"#

@Suite("Forwarding: framing, marks, position file, targets, RELP")
struct ForwardTests {
    @Test("RFC 5424 message with the record unchanged as MSG, octet-counted")
    func framing() {
        let rec = Array(sampleRecord.utf8)
        let msg = SyslogFrame.message(record: rec[...], host: SyslogFrame.hostField("web 1"))
        let text = String(decoding: msg, as: UTF8.self)
        #expect(text == "<84>1 2026-11-25T19:40:41.123456Z web1 brig - audit - " + sampleRecord)
        let notice = sampleRecord.replacingOccurrences(of: "\"kind\":\"alert\"", with: "\"kind\":\"event\"")
        #expect(String(decoding: SyslogFrame.message(record: Array(notice.utf8)[...], host: [0x68]), as: UTF8.self).hasPrefix("<85>1 "))
        var frames: [UInt8] = []
        SyslogFrame.appendOctetCounted(record: rec[...], host: [0x68], to: &frames)
        SyslogFrame.appendOctetCounted(record: Array(notice.utf8)[...], host: [0x68], to: &frames)
        let split = SyslogFrame.splitOctetCounted(frames)
        #expect(split?.count == 2)
        #expect(split.map { String(decoding: $0[0], as: UTF8.self).hasSuffix(sampleRecord) } == true)
        let first = SyslogFrame.message(record: rec[...], host: [0x68])
        #expect(Array(frames.prefix(first.count + 4)) == Array("\(first.count) ".utf8) + first)
        #expect(SyslogFrame.splitOctetCounted(Array(frames.dropLast())) == nil)
        #expect(SyslogFrame.hostField("") == [UInt8(ascii: "-")])
    }

    @Test("The sequence and MAC read off a record line; other lines are not records")
    func marks() {
        let m = RecordMark(line: Array(sampleRecord.utf8)[...])
        #expect(m == RecordMark(sequence: 42, mac: String(repeating: "0f", count: 32)))
        #expect(RecordMark(line: Array(sampleRecord.dropLast().utf8)[...]) == nil)
        #expect(RecordMark(line: Array(#"{"a":1}"#.utf8)[...]) == nil)
    }

    @Test("The position file: saved atomically, loaded back; bad files named")
    func positionFile() throws {
        let dir = NSTemporaryDirectory() + "brig-fwd-\(UUID().uuidString)"
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let path = dir + "/p.position"
        #expect(try ForwardPosition.load(path) == nil)
        let p = ForwardPosition(
            log: "/var/log/x.jsonl", position: LogPosition(device: 2049, inode: 1234, offset: 98765),
            sequence: 77, mac: String(repeating: "1a", count: 32), gaps: ["records 3-4 were not in the log"])
        try p.save(path)
        #expect(try ForwardPosition.load(path) == p)
        #expect(!FileManager.default.fileExists(atPath: path + ".tmp"))
        try Data("{\"log\":\"x\",\"device\":1}".utf8).write(to: URL(fileURLWithPath: path))
        #expect(throws: ForwardPosition.Failure.self) { try ForwardPosition.load(path) }
        do { _ = try ForwardPosition.load(path) } catch { #expect(error.description.contains("p.position:1: mac")) }
    }

    @Test("Targets: tcp, tls, relp, IPv6; bad ones named")
    func targets() throws {
        #expect(try ForwardTarget.parse("tcp://127.0.0.1:514").get() == ForwardTarget(transport: .tcp, host: "127.0.0.1", port: 514))
        #expect(try ForwardTarget.parse("TLS://logs.example:6514/").get() == ForwardTarget(transport: .tls, host: "logs.example", port: 6514))
        #expect(try ForwardTarget.parse("relp://[::1]:2514").get() == ForwardTarget(transport: .relp, host: "::1", port: 2514))
        for bad in ["127.0.0.1:514", "udp://h:1", "tcp://h", "tcp://h:0", "tcp://:5"] {
            #expect(throws: ForwardError.self) { try ForwardTarget.parse(bad).get() }
        }
    }

    @Test("RELP frames: built as librelp wants them; responses parsed, partial ones kept")
    func relp() throws {
        #expect(
            String(decoding: RELPFrame.frame(txnr: 1, command: "open", data: RELPFrame.openData), as: UTF8.self)
                == "1 open 49 relp_version=0\nrelp_software=brig\ncommands=syslog\n")
        #expect(RELPFrame.frame(txnr: 7, command: "close", data: []) == Array("7 close 0\n".utf8))
        var buf = Array("1 rsp 6 200 OK\n2 rsp 6 200 OK\n3 rsp 6 50".utf8)
        let rs = try RELPFrame.parse(&buf)
        #expect(rs.map(\.txnr) == [1, 2] && rs.allSatisfy { $0.code == 200 && $0.command == "rsp" })
        #expect(buf == Array("3 rsp 6 50".utf8))
        buf += Array("0 OK\n0 serverclose 0\n".utf8)
        let more = try RELPFrame.parse(&buf)
        #expect(more.map(\.command) == ["rsp", "serverclose"] && more[0].code == 500 && buf.isEmpty)
        var junk = Array("x rsp".utf8)
        #expect(throws: ForwardError.self) { try RELPFrame.parse(&junk) }
    }
}
