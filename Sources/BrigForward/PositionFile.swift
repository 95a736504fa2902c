public import BrigAudit
import BrigJSONRPC

#if canImport(Glibc)
import Glibc
#endif

/// How far `brig audit forward` got: the file (device, inode) and offset after the last record the
/// collector confirmed, that record's sequence and MAC (so a reused inode is not mistaken for the
/// file), and the gaps seen (records rotated away before they were shipped). One JSON object,
/// rewritten atomically (a temporary file, fsync, rename, fsync of the directory).
public struct ForwardPosition: Sendable, Equatable {
    public var log: String
    public var position: LogPosition
    public var sequence: UInt64
    public var mac: String
    public var gaps: [String] = []

    public init(log: String, position: LogPosition, sequence: UInt64, mac: String, gaps: [String] = []) {
        self.log = log
        self.position = position
        self.sequence = sequence
        self.mac = mac
        self.gaps = gaps
    }

    public struct Failure: Error, CustomStringConvertible {
        public var description: String
    }

    /// The position in `path`; nil when the file does not exist (nothing forwarded yet).
    public static func load(_ path: String) throws(Failure) -> ForwardPosition? {
        let fd = open(path, O_RDONLY | O_CLOEXEC)
        if fd < 0 {
            if errno == ENOENT { return nil }
            throw Failure(description: "\(path): cannot read: \(String(cString: strerror(errno)))")
        }
        var data: [UInt8] = []
        var buf = [UInt8](repeating: 0, count: 4096)
        while true {
            let n = read(fd, &buf, buf.count)
            if n <= 0 { break }
            data += buf[0..<n]
        }
        close(fd)
        let value: JSONValue? = data.withUnsafeBufferPointer { b in
            do throws(JSONScanner.Failure) { return try JSONValue.parse(b) } catch { return nil }
        }
        guard let value else { throw Failure(description: "\(path):1: not a JSON object") }
        func number(_ key: String) throws(Failure) -> UInt64 {
            guard case .number(let n)? = value[key], let v = UInt64(n) else {
                throw Failure(description: "\(path):1: \(key): expected a whole number")
            }
            return v
        }
        guard let log = value["log"]?.stringValue else { throw Failure(description: "\(path):1: log: expected a string") }
        guard let mac = value["mac"]?.stringValue, mac.utf8.count == 64 else {
            throw Failure(description: "\(path):1: mac: expected 64 hex digits")
        }
        let position = LogPosition(device: try number("device"), inode: try number("inode"), offset: Int64(try number("offset")))
        let gaps = value["gaps"]?.arrayValue?.compactMap(\.stringValue) ?? []
        return ForwardPosition(log: log, position: position, sequence: try number("sequence"), mac: mac, gaps: gaps)
    }

    public var jsonText: String {
        var members: [(String, JSONValue)] = [
            ("log", .string(log)),
            ("device", .number(String(position.device))),
            ("inode", .number(String(position.inode))),
            ("offset", .number(String(position.offset))),
            ("sequence", .number(String(sequence))),
            ("mac", .string(mac)),
        ]
        if !gaps.isEmpty { members.append(("gaps", .array(gaps.map { .string($0) }))) }
        return JSONValue.object(members).jsonText + "\n"
    }

    /// Writes the position to `path` atomically and durably.
    public func save(_ path: String) throws(Failure) {
        let tmp = path + ".tmp"
        let fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0o600)
        guard fd >= 0 else { throw Failure(description: "\(tmp): cannot write: \(String(cString: strerror(errno)))") }
        let bytes = Array(jsonText.utf8)
        var done = 0
        while done < bytes.count {
            let n = bytes[done...].withUnsafeBytes { write(fd, $0.baseAddress, $0.count) }
            if n < 0 && errno == EINTR { continue }
            if n <= 0 {
                let e = errno
                close(fd)
                throw Failure(description: "\(tmp): cannot write: \(String(cString: strerror(e)))")
            }
            done += n
        }
        if fsync(fd) != 0 {
            let e = errno
            close(fd)
            throw Failure(description: "\(tmp): fsync: \(String(cString: strerror(e)))")
        }
        close(fd)
        guard rename(tmp, path) == 0 else {
            throw Failure(description: "\(path): cannot rename \(tmp) to it: \(String(cString: strerror(errno)))")
        }
        let slash = path.lastIndex(of: "/")
        let dir = slash.map { String(path[..<$0]) } ?? "."
        let dfd = open(dir.isEmpty ? "/" : dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC)
        if dfd >= 0 {
            fsync(dfd)
            close(dfd)
        }
    }
}
