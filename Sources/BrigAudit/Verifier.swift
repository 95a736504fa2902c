public import BrigJSONRPC
import BrigSystem
import Crypto

#if canImport(Glibc)
import Glibc
#endif

/// The fields of a record that the chain, `verify`, `show` and `tail` read.
public struct RecordFields: Sendable {
    public var value: JSONValue
    public var sequence: UInt64?
    public var mac: [UInt8]?
    public var prevMAC: [UInt8]?
    public var action: String?
    public var sessionID: String?

    /// Parses one line (without its newline); nil when it is not a JSON object.
    public init?(line: ArraySlice<UInt8>) {
        let parsed: JSONValue? = Array(line).withUnsafeBufferPointer { buf in
            do throws(JSONScanner.Failure) { return try JSONValue.parse(buf) } catch { return nil }
        }
        guard let parsed, case .object = parsed else { return nil }
        value = parsed
        let event = parsed["event"], brig = parsed["brig"]
        if case .number(let n)? = event?["sequence"] { sequence = UInt64(n) }
        action = event?["action"]?.stringValue
        sessionID = brig?["session"]?["id"]?.stringValue
        if let m = brig?["mac"]?.stringValue, let b = Hex.decode(m), b.count == 32 { mac = b }
        if let m = brig?["prev_mac"]?.stringValue, let b = Hex.decode(m), b.count == 32 { prevMAC = b }
    }

    /// A value by dotted path (`mcp.decision.rule`).
    public subscript(path: String) -> JSONValue? {
        var v: JSONValue? = value
        for part in path.split(separator: ".") { v = v?[String(part)] }
        return v
    }
}

/// The kinds of damage `verify` names.
public enum AuditDamage: String, Sendable {
    /// A record's content (or MAC) was changed, or a line is not a record.
    case modified
    /// A record that the chain does not contain (forged, or copied from elsewhere).
    case inserted
    /// Records missing from the middle of the chain.
    case deleted
    /// Records in the wrong order.
    case reordered
    /// The end of a session or of the log is missing (caught by the next session's chain or the anchor).
    case truncated
}

/// What `AuditVerifier.verify` found.
public struct AuditVerification: Sendable {
    public struct Problem: Sendable, CustomStringConvertible {
        public var damage: AuditDamage
        public var file: String
        /// 1-based; 0 when the problem is not at a line (a missing tail).
        public var line: Int
        public var sequence: UInt64?
        public var message: String

        public var description: String {
            var s = file
            if line > 0 { s += ":\(line)" }
            if let sequence { s += ": sequence \(sequence)" }
            return s + ": \(damage.rawValue): \(message)"
        }
    }

    public var problem: Problem?
    /// Not damage: sessions that ended without their end record (brig was killed), a chain that
    /// starts after rotated files were removed, a partial write noted by the next session.
    public var warnings: [String] = []
    public var records = 0
    public var sessions = 0
    public var files: [String] = []
    public var firstSequence: UInt64?
    public var lastSequence: UInt64?
    /// True when the files hold records but not one of them verifies with the key given: the
    /// key is wrong (or every record was rewritten), which `problem` alone would call `modified`.
    public var noRecordVerifies = false
    public var isIntact: Bool { problem == nil }
}

public enum AuditVerifier {
    /// Each line of the logs that is not empty, in order: its file, its number (from 1), its
    /// bytes, and whether it is the file's last with no newline after it (perhaps partial).
    static func forEachLine(
        of logs: [(file: String, bytes: [UInt8])], _ body: (String, Int, ArraySlice<UInt8>, Bool) -> Void
    ) {
        for (file, data) in logs {
            var start = 0, lineNo = 0
            while start < data.count {
                lineNo += 1
                let end = data[start...].firstIndex(of: 0x0A) ?? data.count
                let slice = data[start..<end]
                if !slice.isEmpty { body(file, lineNo, slice, end == data.count) }
                start = end + 1
            }
        }
    }

    /// The files of a rotated log, oldest first: `PATH.N` ... `PATH.1`, `PATH` (those that exist).
    /// A path that already ends in `.N` is returned alone.
    public static func rotatedSet(_ path: String) -> [String] {
        if let dot = path.lastIndex(of: "."), !path[path.index(after: dot)...].isEmpty,
            path[path.index(after: dot)...].allSatisfy({ $0.isASCII && $0.isNumber })
        {
            return [path]
        }
        // Every PATH.N in the directory (gaps included: a missing file is then caught as deleted records).
        let dir = FileSystem.parent(of: path)
        // The file's own name: all of `path` when it has no slash (typed from the log's directory).
        let base = String(path[(path.lastIndex(of: "/").map { path.index(after: $0) } ?? path.startIndex)...])
        var numbers: [Int] = []
        if let d = opendir(dir) {
            while let entry = readdir(d) {
                let name = withUnsafeBytes(of: entry.pointee.d_name) { raw in
                    String(decoding: raw.prefix { $0 != 0 }, as: UTF8.self)
                }
                guard name.hasPrefix(base + "."), let n = Int(name.dropFirst(base.count + 1)), n > 0,
                    name.dropFirst(base.count + 1).allSatisfy({ $0.isASCII && $0.isNumber })
                else { continue }
                numbers.append(n)
            }
            closedir(d)
        }
        let rotated = numbers.sorted(by: >).map { path + ".\($0)" }
        return rotated + (access(path, F_OK) == 0 || rotated.isEmpty ? [path] : [])
    }

    struct Entry {
        var file: String
        var line: Int
        var bytes: ArraySlice<UInt8>
        var fields: RecordFields?
        var partial: Bool
    }

    /// Verifies `files` (in order, as one chain) with `key`; with `anchor`, also that nothing was
    /// cut after the anchored record.
    public static func verify(files: [String], key keyBytes: [UInt8], anchor: String? = nil) -> AuditVerification {
        var logs: [(file: String, bytes: [UInt8])] = []
        for file in files {
            guard let data = FileSystem.read(file, limit: .max) else {
                var report = AuditVerification()
                report.files = files
                report.problem = .init(
                    damage: .deleted, file: file, line: 0, sequence: nil,
                    message: "cannot read: \(SystemError.text())")
                return report
            }
            logs.append((file, data))
        }
        return verify(logs: logs, key: keyBytes, anchor: anchor)
    }

    /// Verifies logs already read (each named by its file, in order, as one chain): the checks of
    /// `verify(files:key:anchor:)` without the reading, so a fuzzer can feed bytes directly.
    public static func verify(
        logs: [(file: String, bytes: [UInt8])], key keyBytes: [UInt8],
        anchor: String? = nil
    ) -> AuditVerification {
        var report = AuditVerification()
        report.files = logs.map(\.file)
        let key = SymmetricKey(data: keyBytes)
        var entries: [Entry] = []
        forEachLine(of: logs) { file, lineNo, slice, isLast in
            entries.append(Entry(file: file, line: lineNo, bytes: slice, fields: RecordFields(line: slice), partial: isLast))
        }
        func problem(_ e: Entry, _ damage: AuditDamage, _ message: String) -> AuditVerification {
            var r = report
            r.problem = .init(damage: damage, file: e.file, line: e.line, sequence: e.fields?.sequence, message: message)
            return r
        }
        func macOK(_ f: RecordFields, _ bytes: ArraySlice<UInt8>) -> Bool {
            guard let (canonical, carried) = Chain.split(bytes), let prev = f.prevMAC, carried == f.mac else { return false }
            return Chain.mac(key: key, prev: prev, canonical: canonical) == carried
        }
        var last: (seq: UInt64, mac: [UInt8], session: String?, ended: Bool)?
        var lastEntry: Entry?
        var seenMACs = Set<[UInt8]>()
        var i = 0
        while i < entries.count {
            let e = entries[i]
            let next = entries[(i + 1)...].first { $0.fields?.sequence != nil }
            guard let f = e.fields, let seq = f.sequence, let mac = f.mac, let prev = f.prevMAC else {
                // A partial write that the next session noted and chained over.
                if let n = next?.fields, n.action == AuditAction.sessionStart.rawValue,
                    n["brig.chain.previous_tail"]?.stringValue == "partial-line",
                    let last, n.prevMAC == last.mac, let nseq = n.sequence, nseq == last.seq + 1
                {
                    report.warnings.append("\(e.file):\(e.line): a partial record (a write was cut short; noted by the next session)")
                    i += 1
                    continue
                }
                if e.partial && i == entries.count - 1 {
                    // What a crash in the middle of a write leaves, and what cutting the file leaves:
                    // without an anchor the two look alike (as a cut tail of whole records does);
                    // with one, the anchor check below decides.
                    guard anchor != nil else {
                        report.warnings.append("\(e.file):\(e.line): the last record is incomplete (brig was killed while writing it, or the tail was cut; --anchor tells which)")
                        i += 1
                        continue
                    }
                    return problem(e, .truncated, "the last line is an incomplete record")
                }
                return problem(e, .modified, "not a valid audit record")
            }
            if !macOK(f, e.bytes) {
                // Nothing verified so far: when nothing later does either, the key is the suspect.
                if last == nil, !entries[(i + 1)...].contains(where: { n in n.fields.map { macOK($0, n.bytes) } ?? false }) {
                    var r = problem(e, .modified, "no record verifies with this key (wrong key?)")
                    r.noRecordVerifies = true
                    return r
                }
                if let last, let n = next?.fields, n.prevMAC == last.mac, n.sequence == last.seq + 1 {
                    return problem(e, .inserted, "the MAC does not match and the chain skips this record")
                }
                if last == nil, let n = next?.fields, n.prevMAC == Chain.zeroMAC, n.sequence == 1 {
                    return problem(e, .inserted, "the MAC does not match and the chain skips this record")
                }
                return problem(e, .modified, "the MAC does not match the record's content")
            }
            if let l = last {
                if !(prev == l.mac && seq == l.seq + 1) {
                    if seenMACs.contains(mac) {
                        return problem(e, .inserted, "a copy of an earlier record")
                    }
                    if seq <= l.seq {
                        return problem(e, .reordered, "sequence \(seq) after \(l.seq)")
                    }
                    if seq > l.seq + 1 {
                        let later = entries[(i + 1)...].contains {
                            guard let s = $0.fields?.sequence else { return false }
                            return s > l.seq && s < seq
                        }
                        if later {
                            return problem(e, .reordered, "sequence \(seq) follows \(l.seq); the records between come later")
                        }
                        let missing = seq - l.seq - 1
                        let range = missing == 1 ? "record \(l.seq + 1) is" : "records \(l.seq + 1)-\(seq - 1) are"
                        if f.action == AuditAction.sessionStart.rawValue, !l.ended {
                            return problem(
                                e, .truncated,
                                "session \(l.session ?? "?") was cut off after sequence \(l.seq): \(range) missing (this session's chain names \(Hex.encode(prev).prefix(16))...)")
                        }
                        return problem(e, .deleted, "\(range) missing")
                    }
                    return problem(e, .inserted, "the chain link does not match the record before (sequence \(l.seq))")
                }
            } else {
                if seq != 1 || prev != Chain.zeroMAC {
                    report.warnings.append("\(e.file):\(e.line): the chain starts at sequence \(seq), not 1 (older rotated files were removed, or the start of the log is missing)")
                }
                report.firstSequence = seq
            }
            seenMACs.insert(mac)
            if f.action == AuditAction.sessionStart.rawValue {
                if let l = last, !l.ended {
                    report.warnings.append("session \(l.session ?? "?") ended without its end record after sequence \(l.seq) (brig was killed or crashed)")
                }
                report.sessions += 1
                last = (seq, mac, f.sessionID, false)
            } else {
                last = (seq, mac, f.sessionID ?? last?.session, f.action == AuditAction.sessionEnd.rawValue ? true : (last?.ended ?? false))
            }
            lastEntry = e
            report.records += 1
            report.lastSequence = seq
            i += 1
        }
        if let anchor {
            guard let data = FileSystem.read(anchor, limit: .max), let a = RecordFields(line: data[...].prefix { $0 != 0x0A }),
                case .number(let n)? = a.value["sequence"], let aseq = UInt64(n),
                let amacHex = a.value["mac"]?.stringValue, let amac = Hex.decode(amacHex)
            else {
                report.problem = .init(
                    damage: .truncated, file: anchor, line: 0, sequence: nil,
                    message: "cannot read the anchor")
                return report
            }
            let endFile = lastEntry?.file ?? report.files.last ?? ""
            guard let l = last, l.seq >= aseq else {
                report.problem = .init(
                    damage: .truncated, file: endFile, line: 0, sequence: last?.seq,
                    message: "the log ends at sequence \(last?.seq ?? 0) but the anchor records sequence \(aseq): the tail was cut")
                return report
            }
            if l.seq == aseq, l.mac != amac {
                report.problem = .init(
                    damage: .modified, file: endFile, line: lastEntry?.line ?? 0, sequence: l.seq,
                    message: "the last record's MAC differs from the anchor's")
                return report
            }
            if l.seq > aseq, let e = entries.first(where: { $0.fields?.sequence == aseq }), e.fields?.mac != amac {
                return problem(e, .modified, "the anchored record's MAC differs from the anchor's")
            }
        }
        if let l = last, !l.ended {
            report.warnings.append(
                "session \(l.session ?? "?") ended without its end record after sequence \(l.seq) (brig was killed, still running, or the tail was cut\(anchor == nil ? "; --anchor tells which" : " after the last anchor"))"
            )
        }
        return report
    }
}

/// Reads records for `brig audit show` and `tail`.
public enum AuditReader {
    /// Every record of `files` in order (lines that are not records are skipped).
    public static func records(files: [String]) -> [RecordFields] {
        var out: [RecordFields] = []
        for file in files {
            guard let data = FileSystem.read(file, limit: .max) else { continue }
            for line in data.split(separator: 0x0A, omittingEmptySubsequences: true) {
                if let r = RecordFields(line: line) { out.append(r) }
            }
        }
        return out
    }

    /// The default log of a profile (or command) name: `$XDG_STATE_HOME/brig/audit/NAME.jsonl`.
    public static func defaultPath(name: String, environment: [String: String]) -> String {
        StateDirectory.brig(environment: environment) + "/audit/\(name).jsonl"
    }
}

/// Where a log's reader stands: the file (device and inode, which rotation keeps) and the byte
/// offset after the last complete line read.
public struct LogPosition: Sendable, Equatable {
    public var device: UInt64
    public var inode: UInt64
    public var offset: Int64

    public init(device: UInt64, inode: UInt64, offset: Int64) {
        self.device = device
        self.inode = inode
        self.offset = offset
    }
}

/// A complete line and the position just after it (its newline).
public struct FollowedLine: Sendable {
    public var bytes: [UInt8]
    public var end: LogPosition
}

/// Follows a log as it grows, across rotation (`PATH` renamed to `PATH.1` and a new `PATH` created):
/// each `poll()` returns the complete lines appended since the last. `brig audit tail -f` and
/// `brig audit forward` read the trail through it.
public final class AuditFollower {
    public let path: String
    private var fd: Int32 = -1
    private var device: UInt64 = 0
    private var inode: UInt64 = 0
    /// The file offset of `pending`'s first byte.
    private var pendingStart: Int64 = 0
    private var pending: [UInt8] = []
    /// Notes for the reader: rotated files that went away before they were read.
    public private(set) var notes: [String] = []

    /// Starts at the end of the file (`fromStart: false`) or at its beginning.
    public init(path: String, fromStart: Bool = false) {
        self.path = path
        reopen(seekToEnd: !fromStart)
    }

    /// Starts at the beginning of the oldest file of the rotated set (`PATH.N` ... `PATH`).
    public init(oldestOf path: String) {
        self.path = path
        let set = AuditVerifier.rotatedSet(path)
        open(file: set.first ?? path, offset: 0)
    }

    /// Resumes at `position` in whichever file of the rotated set has that identity; nil when no
    /// file has it any more (rotated away) or it is shorter than the offset.
    public init?(path: String, resume position: LogPosition) {
        self.path = path
        guard let file = AuditFollower.file(of: position, in: path) else { return nil }
        open(file: file, offset: position.offset)
        guard fd >= 0 else { return nil }
    }

    /// The file of the rotated set of `path` with `position`'s identity, at least as long as its offset.
    public static func file(of position: LogPosition, in path: String) -> String? {
        for file in AuditVerifier.rotatedSet(path) {
            var st = stat()
            if stat(file, &st) == 0, UInt64(st.st_dev) == position.device, UInt64(st.st_ino) == position.inode,
                Int64(st.st_size) >= position.offset
            {
                return file
            }
        }
        return nil
    }

    deinit { if fd >= 0 { close(fd) } }

    private func open(file: String, offset: Int64) {
        if fd >= 0 { close(fd) }
        fd = Glibc.open(file, O_RDONLY | O_CLOEXEC)
        pending = []
        pendingStart = 0
        guard fd >= 0 else { return }
        var st = stat()
        fstat(fd, &st)
        inode = UInt64(st.st_ino)
        device = UInt64(st.st_dev)
        pendingStart = Int64(lseek(fd, off_t(offset), SEEK_SET))
    }

    private func reopen(seekToEnd: Bool) {
        open(file: path, offset: 0)
        if fd >= 0, seekToEnd { pendingStart = Int64(lseek(fd, 0, SEEK_END)) }
    }

    /// The lines (without newline) appended since the last call.
    public func poll() -> [[UInt8]] { pollLines().map(\.bytes) }

    /// The lines appended since the last call, each with the position after it.
    public func pollLines(limit: Int = Int.max) -> [FollowedLine] {
        var lines: [FollowedLine] = []
        if fd < 0 {
            // The log did not exist yet: it may have been created and rotated since, so the
            // oldest file of the set comes first.
            open(file: AuditVerifier.rotatedSet(path).first ?? path, offset: 0)
            if fd < 0 { return [] }
        }
        drain(into: &lines, limit: limit)
        if lines.count >= limit { return lines }
        // Rotated (a new file at PATH) or truncated: finish the old one, then read the new from its start.
        var st = stat()
        if stat(path, &st) == 0 {
            let cur = lseek(fd, 0, SEEK_CUR)
            if UInt64(st.st_ino) != inode || UInt64(st.st_dev) != device {
                drain(into: &lines, limit: Int.max)
                switchToCurrent(into: &lines)
            } else if Int64(st.st_size) < Int64(cur) {
                reopen(seekToEnd: false)
                drain(into: &lines, limit: Int.max)
            }
        }
        return lines
    }

    /// The file being read was rotated: opens the file now at `PATH`, and first reads the rotated
    /// files written between the two (`PATH.1` ... while the writer rotated several times between
    /// two polls), oldest first. Files are told apart by identity, not name: a file renamed while
    /// this runs is found again, and the new `PATH` rotating meanwhile is not read twice.
    /// When the file that was being read is no longer among the rotated files (rotated away while
    /// it was read), every rotated file is newer: all are read, and a note says records may be
    /// missing between.
    private func switchToCurrent(into lines: inout [FollowedLine]) {
        for _ in 0..<20 {
            let newFD = Glibc.open(path, O_RDONLY | O_CLOEXEC)
            guard newFD >= 0 else { return }
            var ns = stat()
            fstat(newFD, &ns)
            // A rotation in progress renames the files one after another (a name missing or a
            // file under two names for a moment): the listing counts once it is the same twice
            // in a row and has the file that was being read (or stays without it).
            var entries = rotatedFiles()
            for _ in 0..<100 {
                let again = rotatedFiles()
                let stable = again.map(\.inode) == entries.map(\.inode)
                entries = again
                if stable && entries.contains(where: { $0.inode == inode && $0.device == device }) { break }
                usleep(1000)
            }
            let oldIndex = entries.firstIndex { $0.inode == inode && $0.device == device }
            let newIndex = entries.firstIndex { $0.inode == UInt64(ns.st_ino) && $0.device == UInt64(ns.st_dev) }
            let from = newIndex.map { $0 + 1 } ?? 0
            let to = oldIndex ?? entries.count
            var read: [FollowedLine] = []
            var moved = false
            if from < to {
                for e in entries[from..<to].reversed() {
                    let rfd = Glibc.open(e.file, O_RDONLY | O_CLOEXEC)
                    var rs = stat()
                    guard rfd >= 0, fstat(rfd, &rs) == 0, UInt64(rs.st_ino) == e.inode, UInt64(rs.st_dev) == e.device else {
                        if rfd >= 0 { Glibc.close(rfd) }
                        moved = true
                        break
                    }
                    AuditFollower.lines(of: rfd, device: e.device, inode: e.inode, into: &read)
                    Glibc.close(rfd)
                }
            }
            if moved {
                Glibc.close(newFD)
                continue
            }
            if oldIndex == nil && from < to {
                notes.append("\(path): the file being read was rotated away; reading \(to - from) newer rotated file\(to - from == 1 ? "" : "s") (records between may be gone)")
            }
            lines += read
            if fd >= 0 { Glibc.close(fd) }
            fd = newFD
            inode = UInt64(ns.st_ino)
            device = UInt64(ns.st_dev)
            pending = []
            pendingStart = 0
            drain(into: &lines, limit: Int.max)
            return
        }
    }

    /// `PATH.1`, `PATH.2`, ... (newest first) with their identities, as they are now.
    private func rotatedFiles() -> [(file: String, device: UInt64, inode: UInt64)] {
        var out: [(file: String, device: UInt64, inode: UInt64)] = []
        for file in AuditVerifier.rotatedSet(path).reversed() where file != path {
            var rs = stat()
            guard stat(file, &rs) == 0 else { continue }
            out.append((file, UInt64(rs.st_dev), UInt64(rs.st_ino)))
        }
        return out
    }

    /// Every complete line of an open file, from its start.
    private static func lines(of fd: Int32, device: UInt64, inode: UInt64, into lines: inout [FollowedLine]) {
        let data = (try? FileSystem.contents(of: fd, limit: .max)) ?? []
        var start = 0
        while let nl = data[start...].firstIndex(of: 0x0A) {
            if nl > start {
                lines.append(
                    FollowedLine(
                        bytes: Array(data[start..<nl]),
                        end: LogPosition(device: device, inode: inode, offset: Int64(nl + 1))))
            }
            start = nl + 1
        }
    }

    private func drain(into lines: inout [FollowedLine], limit: Int) {
        var buf = [UInt8](repeating: 0, count: 1 << 16)
        while lines.count < limit {
            let n = retryingInterrupted { buf.withUnsafeMutableBytes { read(fd, $0.baseAddress, $0.count) } }
            if n <= 0 { break }
            pending.append(contentsOf: buf[0..<n])
            var start = 0
            pending.withUnsafeBufferPointer { p in
                while start < p.count, let hit = memchr(p.baseAddress! + start, 0x0A, p.count - start) {
                    let nl = p.baseAddress!.distance(to: hit.assumingMemoryBound(to: UInt8.self))
                    if nl > start {
                        lines.append(
                            FollowedLine(
                                bytes: Array(UnsafeBufferPointer(rebasing: p[start..<nl])),
                                end: LogPosition(device: device, inode: inode, offset: pendingStart + Int64(nl + 1))))
                    }
                    start = nl + 1
                }
            }
            if start > 0 {
                pending.removeSubrange(..<start)
                pendingStart += Int64(start)
            }
        }
    }
}
