import BrigRelay
import BrigSandbox
import BrigSystem
import Synchronization

#if canImport(Glibc)
@preconcurrency import Glibc
#endif

/// Learn mode's supervisor: receives the seccomp notifications of the watched system calls,
/// reads their arguments from the child's memory (paths, socket addresses), records them, and
/// lets every call continue (SECCOMP_USER_NOTIF_FLAG_CONTINUE): nothing is refused while
/// learning. Only observation is at stake, so the check-then-continue race that makes
/// CONTINUE unfit for enforcement does not matter here.
public final class SyscallWatcher: Sendable {
    let listener: Int32
    let observations: Observations
    /// Calls recorded as "the base profile would deny this" (besides the path and socket calls).
    let baseDenied: Set<String>

    /// The calls that reveal needs: files, programs, sockets.
    public static let revealing = [
        "open", "openat", "openat2", "creat", "mkdir", "mkdirat", "unlink", "unlinkat", "rmdir",
        "rename", "renameat", "renameat2", "execve", "execveat", "connect", "bind", "socket",
        "symlink", "symlinkat", "link", "linkat", "truncate",
    ]

    public init(listener: Int32, observations: Observations, baseDenied: Set<String>) {
        self.listener = listener
        self.observations = observations
        self.baseDenied = baseDenied
    }

    public func start() {
        OSThread.start { [self] in
            while true {
                var note = brig_notification_swift()
                let rc = Seccomp.receive(listener, &note)
                if rc == -ENOENT || rc == -EINTR { continue }
                if rc != 0 { return }
                let name = SeccompProgram.name(of: note.nr)
                record(name, pid: Int32(bitPattern: note.pid), args: note.args)
                _ = Seccomp.continueCall(listener, id: note.id)
            }
        }
    }

    private func record(_ name: String, pid: Int32, args: [UInt64]) {
        if baseDenied.contains(name) { observations.syscall(name) }
        let atCWD: UInt64 = UInt64(bitPattern: -100)
        func path(_ dirArg: UInt64?, _ pathArg: UInt64) -> String? {
            guard let raw = readString(pid: pid, address: pathArg), !raw.isEmpty else { return nil }
            if raw.hasPrefix("/") { return FileSystem.normalize(raw) }
            let base: String?
            if let dirArg, Int32(truncatingIfNeeded: dirArg) != -100, dirArg != atCWD {
                base = readLink("/proc/\(pid)/fd/\(Int32(truncatingIfNeeded: dirArg))")
            } else {
                base = readLink("/proc/\(pid)/cwd")
            }
            guard let base else { return nil }
            return FileSystem.normalize(base + "/" + raw)
        }
        func access(_ p: String?, flags: UInt64) {
            guard let p else { return }
            let mode = flags & 3
            let create = flags & 0o100 != 0  // O_CREAT
            if mode == 0 && !create {
                if FileSystem.exists(p) { observations.file(p, read: true, syscall: name) }
            } else if FileSystem.exists(p) {
                observations.file(p, read: mode == 2, write: true, syscall: name)
            } else {
                observations.file(FileSystem.parent(of: p), write: true, syscall: name)
            }
        }
        switch name {
        case "open": access(path(nil, args[0]), flags: args[1])
        case "openat": access(path(args[0], args[1]), flags: args[2])
        case "openat2":
            var how = [UInt8](repeating: 0, count: 8)
            let n = how.withUnsafeMutableBytes { Memory.read(pid: pid, address: args[2], into: $0) }
            let flags = n == 8 ? how.withUnsafeBytes { $0.loadUnaligned(as: UInt64.self) } : 0
            access(path(args[0], args[1]), flags: flags)
        case "creat": access(path(nil, args[0]), flags: 0o101)
        case "truncate": access(path(nil, args[0]), flags: 1)
        case "mkdir", "rmdir", "unlink", "symlink", "link":
            if let p = path(nil, name == "symlink" || name == "link" ? args[1] : args[0]) {
                observations.file(FileSystem.parent(of: p), write: true, syscall: name)
            }
        case "mkdirat", "unlinkat":
            if let p = path(args[0], args[1]) { observations.file(FileSystem.parent(of: p), write: true, syscall: name) }
        case "symlinkat":
            if let p = path(args[1], args[2]) { observations.file(FileSystem.parent(of: p), write: true, syscall: name) }
        case "linkat":
            if let p = path(args[2], args[3]) { observations.file(FileSystem.parent(of: p), write: true, syscall: name) }
        case "rename":
            for a in [args[0], args[1]] { if let p = path(nil, a) { observations.file(FileSystem.parent(of: p), write: true, syscall: name) } }
        case "renameat", "renameat2":
            for (d, a) in [(args[0], args[1]), (args[2], args[3])] {
                if let p = path(d, a) { observations.file(FileSystem.parent(of: p), write: true, syscall: name) }
            }
        case "execve":
            if let p = path(nil, args[0]), FileSystem.exists(p) { observations.file(p, read: true, exec: true, syscall: name) }
        case "execveat":
            if let p = path(args[0], args[1]), FileSystem.exists(p) { observations.file(p, read: true, exec: true, syscall: name) }
        case "socket":
            observations.socket(family: Int(Int32(truncatingIfNeeded: args[0])))
        case "connect", "bind":
            recordAddress(pid: pid, address: args[1], length: Int(min(args[2], 128)), kind: name)
        default:
            break
        }
    }

    private func recordAddress(pid: Int32, address: UInt64, length: Int, kind: String) {
        guard length >= 2 else { return }
        var buf = [UInt8](repeating: 0, count: length)
        let n = buf.withUnsafeMutableBytes { Memory.read(pid: pid, address: address, into: $0) }
        guard n >= 2 else { return }
        let family = Int(buf[0]) | Int(buf[1]) << 8
        switch family {
        case Int(AF_INET) where n >= 8:
            let port = UInt16(buf[2]) << 8 | UInt16(buf[3])
            let addr = "\(buf[4]).\(buf[5]).\(buf[6]).\(buf[7])"
            observations.network(.init(family: "inet", kind: kind, port: port, address: addr))
        case Int(AF_INET6) where n >= 24:
            let port = UInt16(buf[2]) << 8 | UInt16(buf[3])
            let groups = stride(from: 8, to: 24, by: 2).map { String(UInt16(buf[$0]) << 8 | UInt16(buf[$0 + 1]), radix: 16) }
            observations.network(.init(family: "inet6", kind: kind, port: port, address: groups.joined(separator: ":")))
        case Int(AF_UNIX):
            let pathBytes = buf[2..<n].prefix { $0 != 0 }
            let abstract = n > 2 && buf[2] == 0
            let text =
                abstract
                ? "@" + String(decoding: buf[3..<n].prefix { $0 != 0 }, as: UTF8.self)
                : String(decoding: pathBytes, as: UTF8.self)
            observations.network(.init(family: "unix", kind: kind, port: 0, address: text))
            if !abstract && !text.isEmpty && text.hasPrefix("/") {
                observations.file(kind == "bind" ? FileSystem.parent(of: text) : text, write: true, syscall: kind)
            }
        default:
            break
        }
    }

    /// A NUL-terminated string from the child's memory (at most 4096 bytes, page by page).
    private func readString(pid: Int32, address: UInt64) -> String? {
        guard address != 0 else { return nil }
        var out: [UInt8] = []
        var at = address
        while out.count < 4096 {
            let pageLeft = Int(4096 - (at % 4096))
            var chunk = [UInt8](repeating: 0, count: pageLeft)
            let n = chunk.withUnsafeMutableBytes { Memory.read(pid: pid, address: at, into: $0) }
            guard n > 0 else { break }
            if let nul = chunk[0..<n].firstIndex(of: 0) {
                out += chunk[0..<nul]
                return String(decoding: out, as: UTF8.self)
            }
            out += chunk[0..<n]
            at += UInt64(n)
        }
        return out.isEmpty ? nil : String(decoding: out, as: UTF8.self)
    }
}

func readLink(_ path: String) -> String? {
    var buf = [CChar](repeating: 0, count: 4096)
    let n = readlink(path, &buf, buf.count - 1)
    guard n > 0 else { return nil }
    return String(decoding: buf[0..<n].map { UInt8(bitPattern: $0) }, as: UTF8.self)
}
