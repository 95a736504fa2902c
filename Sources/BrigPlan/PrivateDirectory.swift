import BrigSystem

#if canImport(Glibc)
@preconcurrency import Glibc
#endif

/// The child's private `$TMPDIR`: made 0700 before the child starts, removed with everything in
/// it after the child exits.
public final class PrivateDirectory: Sendable {
    public let path: String

    public init(prefix: String = "brig-") throws(SandboxPlanError) {
        let base = PrivateDirectory.systemTemp()
        var template = Array((base + "/" + prefix + "XXXXXX").utf8CString)
        let made = template.withUnsafeMutableBufferPointer { mkdtemp($0.baseAddress!) }
        guard made != nil else {
            throw SandboxPlanError("cannot create a private temporary directory in \(base): \(SystemError.text())")
        }
        path = String(decoding: template.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
    }

    /// Hands the directory to the child's user (when brig switches user as root).
    public func chown(uid: UInt32, gid: UInt32) { _ = Glibc.chown(path, uid, gid) }

    public func remove() { PrivateDirectory.removeTree(path) }

    static func systemTemp() -> String {
        if let t = getenv("TMPDIR"), t.pointee != 0 {
            let s = String(cString: t)
            if access(s, W_OK) == 0 { return s }
        }
        return "/tmp"
    }

    /// rm -rf without following symlinks.
    static func removeTree(_ path: String) {
        let fd = open(path, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC)
        if fd >= 0 {
            removeContents(fd, depth: 0)
            close(fd)
        }
        if rmdir(path) != 0 { unlink(path) }
    }

    private static func removeContents(_ dirFD: Int32, depth: Int) {
        guard depth < 64, let dir = fdopendir(dup(dirFD)) else { return }
        defer { closedir(dir) }
        var names: [String] = []
        while let entry = readdir(dir) {
            let name = withUnsafeBytes(of: entry.pointee.d_name) { raw in
                String(cString: raw.bindMemory(to: CChar.self).baseAddress!)
            }
            if name != "." && name != ".." { names.append(name) }
        }
        for name in names {
            if unlinkat(dirFD, name, 0) == 0 { continue }
            let sub = openat(dirFD, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC)
            if sub >= 0 {
                removeContents(sub, depth: depth + 1)
                close(sub)
            }
            unlinkat(dirFD, name, AT_REMOVEDIR)
        }
    }
}

public struct SandboxPlanError: Error, Sendable, CustomStringConvertible {
    public var description: String
    public init(_ description: String) { self.description = description }
}
