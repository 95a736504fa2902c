import BrigSystem

#if canImport(Glibc)
@preconcurrency import Glibc
#endif

/// The decisions of the socket gate that need no child: where a UNIX socket path leads, and
/// whether that place is granted (`sandbox.filesystem.unix`).
///
/// Landlock ABI < 9 has no LANDLOCK_ACCESS_FS_RESOLVE_UNIX: a confined process can connect to
/// any named socket it can reach by path (an ssh agent, docker.sock). So brig resolves the path
/// itself, in the child's root, and connects only to sockets under a grant.
public enum UnixSocketGate {
    /// Symlinks followed in one resolution before ELOOP (the kernel's own bound).
    public static let maxSymlinks = 40
    /// O_PATH (Glibc's Swift module hides it behind _GNU_SOURCE).
    public static let openPath: Int32 = 0o10000000

    /// A resolved socket: an O_PATH descriptor of the socket inode (the caller closes it) and the
    /// canonical path that reached it, built component by component while walking.
    public struct Resolved: Sendable {
        public var fd: Int32
        public var canonical: String
    }

    /// Whether `canonical` is a granted path or lies below one.
    public static func isGranted(_ canonical: String, grants: [String]) -> Bool {
        grants.contains { grant in
            grant == "/" || canonical == grant || canonical.hasPrefix(grant.hasSuffix("/") ? grant : grant + "/")
        }
    }

    /// The pathname in a `sockaddr_un` (the bytes of `sun_path` before the first NUL), or nil for
    /// an abstract (`sun_path[0] == 0`) or unnamed address.
    public static func pathname(inSockaddr addr: [UInt8]) -> [UInt8]? {
        guard addr.count > 2, addr[2] != 0 else { return nil }
        let path = addr[2...]
        return Array(path.prefix { $0 != 0 })
    }

    /// Resolves `path` the way the kernel would for the child, but without ever letting the
    /// kernel follow a symlink: every component is opened with `openat(O_PATH|O_NOFOLLOW)`
    /// relative to the previous one, starting at `root` (the child's `/proc/TID/root`); symlinks
    /// are read and their targets walked in turn (an absolute target restarts at `root`); `..`
    /// drops the last component of the path being built and so never climbs above `root`. A
    /// relative `path` is first joined to `cwd`, the child's working directory. The final
    /// component must be a socket.
    ///
    /// The result is race-free in what matters: the canonical path that is checked against the
    /// grants names the very inode whose descriptor is returned, and the caller connects through
    /// `/proc/self/fd/N` of that descriptor, so a rename or symlink swap after the walk cannot
    /// redirect the connection.
    ///
    /// Fails with an errno: ENOENT, ENOTDIR, ELOOP, EACCES (a directory the walking thread may not
    /// search), ECONNREFUSED (not a socket: what connect(2) answers for a non-socket file).
    public static func resolve(_ path: [UInt8], root: Int32, cwd: [UInt8]) -> Result<Resolved, SocketGateErrno> {
        var pending: [[UInt8]] = []  // components still to walk, last one first
        func push(_ p: [UInt8]) {
            for c in p.split(separator: UInt8(ascii: "/"), omittingEmptySubsequences: true).reversed() { pending.append(Array(c)) }
        }
        push(path)
        if path.first != UInt8(ascii: "/") {
            guard cwd.first == UInt8(ascii: "/") else { return .failure(SocketGateErrno(EACCES)) }
            push(cwd)
        }
        var stack: [(fd: Int32, name: [UInt8])] = []
        defer { for e in stack { close(e.fd) } }
        var links = 0
        while let component = pending.popLast() {
            if component == [UInt8(ascii: ".")] { continue }
            if component == [UInt8(ascii: "."), UInt8(ascii: ".")] {
                if let e = stack.popLast() { close(e.fd) }
                continue
            }
            let parent = stack.last?.fd ?? root
            let fd = component.withUnsafeBufferPointer { buf -> Int32 in
                var name = Array(buf) + [0]
                return name.withUnsafeMutableBufferPointer {
                    openat(parent, UnsafeRawPointer($0.baseAddress!).assumingMemoryBound(to: CChar.self), openPath | O_NOFOLLOW | O_CLOEXEC)
                }
            }
            guard fd >= 0 else { return .failure(SocketGateErrno(errno)) }
            var st = stat()
            guard fstat(fd, &st) == 0 else {
                let e = errno
                close(fd)
                return .failure(SocketGateErrno(e))
            }
            if (st.st_mode & S_IFMT) == S_IFLNK {
                links += 1
                var target = [UInt8](repeating: 0, count: Int(PATH_MAX))
                let n = target.withUnsafeMutableBufferPointer { readlinkat(fd, "", UnsafeMutableRawPointer($0.baseAddress!).assumingMemoryBound(to: CChar.self), $0.count) }
                close(fd)
                guard links <= maxSymlinks else { return .failure(SocketGateErrno(ELOOP)) }
                guard n > 0 else { return .failure(SocketGateErrno(n < 0 ? errno : ENOENT)) }
                let link = Array(target[0..<n])
                if link.first == UInt8(ascii: "/") {
                    for e in stack { close(e.fd) }
                    stack.removeAll()
                }
                push(link)
                continue
            }
            stack.append((fd, component))
        }
        guard let last = stack.last else { return .failure(SocketGateErrno(ECONNREFUSED)) }
        var st = stat()
        guard fstat(last.fd, &st) == 0, (st.st_mode & S_IFMT) == S_IFSOCK else { return .failure(SocketGateErrno(ECONNREFUSED)) }
        let canonical = "/" + stack.map { String(decoding: $0.name, as: UTF8.self) }.joined(separator: "/")
        // Lossy decoding must not make two names one: a name that is not UTF-8 is never granted.
        guard stack.allSatisfy({ String(validating: $0.name, as: UTF8.self) != nil }) else { return .failure(SocketGateErrno(EACCES)) }
        stack.removeLast()  // handed to the caller
        return .success(Resolved(fd: last.fd, canonical: canonical))
    }

    /// Lexically normalized absolute form of `path` (for reporting a path that did not resolve).
    public static func lexical(_ path: [UInt8], cwd: [UInt8]) -> String {
        let text = String(decoding: path, as: UTF8.self)
        return FileSystem.normalize(path.first == UInt8(ascii: "/") ? text : String(decoding: cwd, as: UTF8.self) + "/" + text)
    }
}

/// An errno as an Error (the gate answers the child with it).
public struct SocketGateErrno: Error, Sendable, Equatable {
    public var code: Int32
    public init(_ code: Int32) { self.code = code }
}

/// `memfd_create` flags as brig rewrites them: a memfd whose contents can never be executed.
public enum MemfdFlags {
    public static let cloexec: UInt32 = 0x0001
    public static let allowSealing: UInt32 = 0x0002
    public static let noexecSeal: UInt32 = 0x0008
    public static let exec: UInt32 = 0x0010

    /// The flags brig creates the child's memfd with, or nil when the child asked for MFD_EXEC
    /// (refused: an executable memfd is what fileless exec needs). MFD_NOEXEC_SEAL (Linux 6.3)
    /// clears the execute bits and seals them (F_SEAL_EXEC), so neither execveat(AT_EMPTY_PATH)
    /// nor execve("/proc/self/fd/N") can run it; it implies MFD_ALLOW_SEALING. brig's own copy
    /// is always close-on-exec; whether the child's is follows the child's MFD_CLOEXEC.
    public static func rewrite(_ flags: UInt32) -> UInt32? {
        guard flags & exec == 0 else { return nil }
        return flags | noexecSeal | cloexec
    }
}
