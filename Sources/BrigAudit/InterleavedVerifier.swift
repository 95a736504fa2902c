import BrigJSONRPC
import BrigSystem
import Crypto

/// What `AuditVerifier.verifyInterleaved` found in a collector's file.
public struct InterleavedVerification: Sendable {
    public typealias Finding = AuditVerification.Problem

    /// A record that is an exact copy of one earlier in the files.
    public struct Duplicate: Sendable, CustomStringConvertible {
        public var file: String
        public var line: Int
        public var sequence: UInt64
        /// Where the first copy is (`FILE:LINE`).
        public var original: String

        public var description: String { "\(file):\(line): sequence \(sequence): duplicate of \(original) (sent again)" }
    }

    /// Damage, in file order.
    public var problems: [Finding] = []
    /// Exact copies of records already in the files (a forwarder's resend): not damage.
    public var duplicates: [Duplicate] = []
    public var warnings: [String] = []
    public var records = 0
    public var chains = 0
    public var sessions = 0
    public var noRecordVerifies = false
    public var isIntact: Bool { problems.isEmpty }

    static let gapNotePrefix = Array("{\"brig_forward_gap\":".utf8)
    /// How every record begins (its first member, as the writer spells it).
    static let recordPrefix = Array("{\"@timestamp\":".utf8)

    /// Where a record begins inside a line that is not one: the last record start after the
    /// line's first byte whose rest is a record (of the last 64 starts). Only asked of lines that
    /// do not parse, so a payload that nests an `@timestamp` member cannot split a whole record.
    static func tornCut(_ line: ArraySlice<UInt8>) -> ArraySlice<UInt8>.Index? {
        guard line.starts(with: recordPrefix) else { return nil }
        var k = line.endIndex - recordPrefix.count, tries = 0
        while k > line.startIndex, tries < 64 {  // a bound: a damaged line full of record starts stays cheap
            if line[k] == recordPrefix[0], line[k...].starts(with: recordPrefix) {
                if RecordFields(line: line[k...]) != nil { return k }
                tries += 1
            }
            k -= 1
        }
        return nil
    }
}

extension AuditVerifier {
    /// Verifies files where several chains are interleaved — a collector's file with the records of
    /// several logs and machines, in arrival order, possibly with records sent twice.
    ///
    /// Records are tied into chains by their links (`prev_mac` names the record before): every
    /// record whose MAC verifies is placed after the record it names. Then:
    /// - an exact copy of a record already seen (same bytes) is a duplicate, not damage;
    /// - a record whose MAC does not verify is `modified` (a line that is not a record too);
    /// - a record whose predecessor is missing while its session has earlier records: `deleted`
    ///   (the records between are named);
    /// - a record that comes after a later record of its chain: `reordered`;
    /// - two records naming the same predecessor: `inserted` (the chain forks).
    /// A chain whose first record is not sequence 1 is a warning (forwarding began after rotation
    /// removed the log's oldest files); so is a session without its end record.
    public static func verifyInterleaved(logs: [(file: String, bytes: [UInt8])], key keyBytes: [UInt8]) -> InterleavedVerification {
        var report = InterleavedVerification()
        let key = SymmetricKey(data: keyBytes)
        struct Rec {
            var file: String
            var line: Int
            var fields: RecordFields
            var seq: UInt64
            var mac: [UInt8]
            var prev: [UInt8]
            var session: String
        }
        var recs: [Rec] = []
        var byMAC: [[UInt8]: Int] = [:]
        var bytesByMAC: [[UInt8]: ArraySlice<UInt8>] = [:]
        var sawAny = false
        var verifiedAny = false
        var firstBad: InterleavedVerification.Finding?
        // The MACs that records whose content no longer matches carry: their successors' links
        // name them, and that is the modification, not a deletion.
        var badMACs = Set<[UInt8]>()
        /// The forwarder's notes of records rotated away before it shipped them, by the MAC of the
        /// record after the gap: the MAC before it, where, and the note's line.
        var gapNotes: [[UInt8]: (after: [UInt8], where_: String, line: String)] = [:]
        /// Torn writes: the start of a record that a collector killed mid-write left without its
        /// newline, so that the next record it wrote (after a restart) follows on the same line.
        var tornHeads: [(file: String, line: Int, head: ArraySlice<UInt8>)] = []
        /// One line (or the rest of one after a torn head): a gap note, a record, or damage.
        func take(_ slice: ArraySlice<UInt8>, file: String, lineNo: Int, isLast: Bool) {
            if slice.starts(with: InterleavedVerification.gapNotePrefix), let note = RecordFields(line: slice),
                let g = note.value["brig_forward_gap"], let after = g["after_mac"]?.stringValue.flatMap(Hex.decode),
                let next = g["next_mac"]?.stringValue.flatMap(Hex.decode)
            {
                let where_ = "\(g["host"]?.stringValue ?? "?") (\(g["log"]?.stringValue ?? "?"))"
                gapNotes[next] = (after, where_, "\(file):\(lineNo)")
                return
            }
            guard let f = RecordFields(line: slice), let seq = f.sequence, let mac = f.mac, let prev = f.prevMAC else {
                if let cut = InterleavedVerification.tornCut(slice) {
                    tornHeads.append((file, lineNo, slice[..<cut]))
                    take(slice[cut...], file: file, lineNo: lineNo, isLast: isLast)
                    return
                }
                if isLast {
                    report.warnings.append("\(file):\(lineNo): the last line is an incomplete record")
                    return
                }
                report.problems.append(.init(damage: .modified, file: file, line: lineNo, sequence: nil, message: "not a valid audit record"))
                return
            }
            guard let (canonical, carried) = Chain.split(slice), carried == mac,
                Chain.mac(key: key, prev: prev, canonical: canonical) == mac
            else {
                let finding = InterleavedVerification.Finding(
                    damage: .modified, file: file, line: lineNo, sequence: seq,
                    message: "the MAC does not match the record's content")
                if firstBad == nil { firstBad = finding }
                badMACs.insert(mac)
                report.problems.append(finding)
                return
            }
            verifiedAny = true
            if let i = byMAC[mac] {
                if bytesByMAC[mac] == slice {
                    report.duplicates.append(.init(file: file, line: lineNo, sequence: seq, original: "\(recs[i].file):\(recs[i].line)"))
                } else {
                    report.problems.append(
                        .init(
                            damage: .modified, file: file, line: lineNo, sequence: seq,
                            message: "the same MAC as \(recs[i].file):\(recs[i].line) with other bytes"))
                }
                return
            }
            byMAC[mac] = recs.count
            bytesByMAC[mac] = slice
            recs.append(Rec(file: file, line: lineNo, fields: f, seq: seq, mac: mac, prev: prev, session: f.sessionID ?? "?"))
        }
        forEachLine(of: logs) { file, lineNo, slice, isLast in
            sawAny = true
            take(slice, file: file, lineNo: lineNo, isLast: isLast)
        }
        // A torn head is no damage when it is the start of a record that is in the files whole
        // (the forwarder sent it again after the collector came back); otherwise its bytes are
        // unverifiable and said so.
        for t in tornHeads {
            if let i = recs.firstIndex(where: { bytesByMAC[$0.mac].map { $0.count > t.head.count && $0.starts(with: t.head) } ?? false }) {
                report.warnings.append(
                    "\(t.file):\(t.line): a torn write (the collector stopped in the middle of sequence \(recs[i].seq), which is whole at \(recs[i].file):\(recs[i].line)), then a record on the same line"
                )
            } else {
                report.problems.append(
                    .init(
                        damage: .modified, file: t.file, line: t.line, sequence: nil,
                        message: "a partial record that is no record's start in these files, before a record on the same line"))
            }
        }
        if sawAny && !verifiedAny {
            report.noRecordVerifies = true
            report.problems = firstBad.map { [$0] } ?? report.problems
            return report
        }
        // Chains: union-find over predecessor links.
        var parent = Array(0..<recs.count)
        func find(_ x: Int) -> Int {
            var x = x
            while parent[x] != x { parent[x] = parent[parent[x]]; x = parent[x] }
            return x
        }
        func union(_ a: Int, _ b: Int) { let ra = find(a), rb = find(b); if ra != rb { parent[rb] = ra } }
        /// The records between sequence `earlier` and `r` are gone: `record 5 is missing` or
        /// `records 5-7 are missing`, then `why`.
        func missing(before r: Rec, after earlier: UInt64, _ why: String) {
            let from = earlier + 1, to = r.seq - 1
            let range = from == to ? "record \(from) is" : "records \(from)-\(to) are"
            report.problems.append(
                .init(damage: .deleted, file: r.file, line: r.line, sequence: r.seq, message: "\(range) missing" + why))
        }
        var successor: [Int: Int] = [:]
        var roots: [Int] = []
        for (i, r) in recs.enumerated() {
            if let p = byMAC[r.prev] {
                if recs[p].seq + 1 != r.seq {
                    report.problems.append(
                        .init(
                            damage: .inserted, file: r.file, line: r.line, sequence: r.seq,
                            message: "links to sequence \(recs[p].seq) but does not follow it"))
                }
                if let other = successor[p] {
                    report.problems.append(
                        .init(
                            damage: .inserted, file: r.file, line: r.line, sequence: r.seq,
                            message: "a second record after sequence \(recs[p].seq) (\(recs[other].file):\(recs[other].line) is the first): the chain forks"))
                } else {
                    successor[p] = i
                }
                union(p, i)
            } else {
                roots.append(i)
            }
        }
        // Sessions join the pieces that a deletion split: a root whose session has records in
        // another piece of lower sequence lost the records between.
        var sessionRecords: [String: [Int]] = [:]
        for (i, r) in recs.enumerated() { sessionRecords[r.session, default: []].append(i) }
        for i in roots {
            let r = recs[i]
            if r.prev == Chain.zeroMAC && r.seq == 1 { continue }
            if let note = gapNotes[r.mac], let p = byMAC[note.after] {
                missing(before: r, after: recs[p].seq, ": rotated away on \(note.where_) before they were forwarded (the forwarder's note at \(note.line))")
                union(p, i)
                continue
            }
            let earlier = (sessionRecords[r.session] ?? []).filter { find($0) != find(i) && recs[$0].seq < r.seq }
            if let before = earlier.max(by: { recs[$0].seq < recs[$1].seq }) {
                if !badMACs.contains(r.prev) {
                    missing(before: r, after: recs[before].seq, " (session \(r.session))")
                }
                union(before, i)
            } else {
                report.warnings.append(
                    "\(r.file):\(r.line): a chain starts at sequence \(r.seq) (session \(r.session)): its earlier records are not in these files (forwarding began after rotation removed them, or they were lost on the way)"
                )
            }
        }
        // Order: within a chain, file order must follow the sequence.
        var highest: [Int: (seq: UInt64, index: Int)] = [:]
        for (i, r) in recs.enumerated() {
            let c = find(i)
            if let h = highest[c], h.seq > r.seq {
                report.problems.append(
                    .init(
                        damage: .reordered, file: r.file, line: r.line, sequence: r.seq,
                        message: "comes after sequence \(h.seq) (\(recs[h.index].file):\(recs[h.index].line)) of its chain"))
            } else {
                highest[c] = (r.seq, i)
            }
        }
        report.problems.sort { ($0.file, $0.line) < ($1.file, $1.line) }
        report.records = recs.count
        report.chains = Set(recs.indices.map(find)).count
        report.sessions = sessionRecords.count
        let ended = Set(recs.filter { $0.fields.action == AuditAction.sessionEnd.rawValue }.map(\.session))
        for s in sessionRecords.keys.sorted() where !ended.contains(s) {
            report.warnings.append("session \(s) has no end record (brig was killed, still running, or its tail was not received yet)")
        }
        return report
    }

    public static func verifyInterleaved(files: [String], key: [UInt8]) -> InterleavedVerification {
        var logs: [(file: String, bytes: [UInt8])] = []
        var report = InterleavedVerification()
        for file in files {
            guard let data = FileSystem.read(file, limit: .max) else {
                report.problems.append(.init(damage: .deleted, file: file, line: 0, sequence: nil, message: "cannot read: \(SystemError.text())"))
                return report
            }
            logs.append((file, data))
        }
        return verifyInterleaved(logs: logs, key: key)
    }
}
