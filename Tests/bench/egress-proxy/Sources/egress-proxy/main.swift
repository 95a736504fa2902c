import BrigEgress
import BrigProfile
import BrigSystem

#if canImport(Glibc)
import Glibc
#endif

// egress-proxy RULE...: listens on 127.0.0.1 (a port the kernel picks, printed on the first line
// of stdout), allows RULE... (HostRule spellings), and runs until stdin closes; then stops and
// prints one line per connection it relayed (kind, status, bytes up and down, microseconds).

func fail(_ text: String) -> Never {
    FileSystem.writeAll(2, Array("egress-proxy: \(text)\n".utf8))
    exit(2)
}

var rules = EgressRules()
for text in CommandLine.arguments.dropFirst() {
    do { rules.allow.append(try HostRule.parse(text)) } catch { fail(error.message) }
}
let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
let loopback = IPAddress(v4: 0x7f00_0001)
guard fd >= 0, loopback.withSocketAddress(port: 0, { bind(fd, $0, $1) }) == 0, listen(fd, 512) == 0 else { fail(SystemError("listen").description) }
var address = sockaddr_storage()
var length = socklen_t(MemoryLayout<sockaddr_storage>.size)
_ = withUnsafeMutablePointer(to: &address) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(fd, $0, &length) } }
guard let (_, port) = withUnsafeBytes(of: &address, { IPAddress.from(socketAddress: $0.baseAddress!) }) else { fail("getsockname") }

final class Lines: Sendable {
    func add(_ c: EgressConnection) {
        let line = "\(c.kind?.rawValue ?? "-") \(c.status.map(String.init) ?? "-") up=\(c.bytesUp) down=\(c.bytesDown) us=\(c.durationMicros) \(c.reason ?? "")\n"
        FileSystem.writeAll(2, Array(line.utf8))
    }
}
let lines = Lines()
let proxy = EgressProxy(listener: fd, rules: rules, cause: { nil }, finished: { lines.add($0) })
do { try proxy.start() } catch { fail(error.description) }
FileSystem.writeAll(1, Array("\(port)\n".utf8))
var byte: UInt8 = 0
while read(0, &byte, 1) > 0 {}
proxy.stop()
