import BrigSandbox
import BrigSystem

#if canImport(Glibc)
@preconcurrency import Glibc
#endif

/// The egress proxy's socket in brig's own network namespace: 127.0.0.1 on a port the kernel
/// picks. The port is then used in the server's namespace too, so the environment and the gate
/// name one address whichever socket the session ends up using.
enum EgressListener {
    static func open() throws(SandboxError) -> (fd: Int32, port: UInt16) {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
        guard fd >= 0 else { throw SandboxError("egress proxy: socket: \(SystemError.text())") }
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_port = 0
        address.sin_addr.s_addr = UInt32(0x7F00_0001).bigEndian
        var length = socklen_t(MemoryLayout<sockaddr_in>.size)
        let bound = withUnsafeMutablePointer(to: &address) { p in
            p.withMemoryRebound(to: sockaddr.self, capacity: 1) { a in
                bind(fd, a, length) == 0 && listen(fd, 256) == 0 && getsockname(fd, a, &length) == 0
            }
        }
        guard bound else {
            let text = SystemError.text()
            close(fd)
            throw SandboxError("egress proxy: listening on 127.0.0.1: \(text)")
        }
        return (fd, UInt16(bigEndian: address.sin_port))
    }
}
