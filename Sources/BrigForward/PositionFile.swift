public import BrigAudit
import BrigJSONRPC
import BrigSystem

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
        let data: [UInt8]
        do {
            data = try FileSystem.contents(of: path, limit: 1 << 20)
        } catch {
            if error.code == ENOENT { return nil }
            throw Failure(description: "\(path): cannot read: \(SystemError.text(error.code))")
        }
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
        do { try FileSystem.replace(path, with: Array(jsonText.utf8), mode: 0o600) } catch {
            throw Failure(description: error.description)
        }
    }
}
