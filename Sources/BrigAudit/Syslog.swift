#if canImport(Glibc)
import Glibc
#endif

/// RFC 5424 messages to the local syslog socket (`/dev/log`, AF_UNIX datagram).
enum Syslog {
    /// authpriv (10) * 8 + warning (4).
    static let priority = 84

    /// `<84>1 2026-11-25T19:40:41.123456Z HOST brig PID denial - MESSAGE`
    static func format(message: String, time: Int64) -> [UInt8] {
        var host = [CChar](repeating: 0, count: 256)
        var hostname = "-"
        if gethostname(&host, host.count - 1) == 0 {
            let h = String(decoding: host.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
            if !h.isEmpty { hostname = String(h.prefix(255)) }
        }
        let text =
            "<\(priority)>1 \(formatTimestamp(time)) \(hostname) brig \(getpid()) denial - "
            + String(message.map { $0 == "\n" || $0 == "\r" ? " " : $0 })
        return Array(text.utf8)
    }

    static func connect(_ fd: Int32, to path: String) -> Bool {
        var addr = sockaddr_un()
        addr.sun_family = sa_family_t(AF_UNIX)
        let bytes = Array(path.utf8)
        guard bytes.count < MemoryLayout.size(ofValue: addr.sun_path) else { errno = ENAMETOOLONG; return false }
        withUnsafeMutableBytes(of: &addr.sun_path) { buf in
            for (i, b) in bytes.enumerated() { buf[i] = b }
            buf[bytes.count] = 0
        }
        let rc = withUnsafePointer(to: &addr) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                Glibc.connect(fd, $0, socklen_t(MemoryLayout<sockaddr_un>.size))
            }
        }
        return rc == 0
    }
}
