#if canImport(Glibc)
@preconcurrency import Glibc
#endif

/// The few file operations brig's own code needs outside the child (profiles' secrets, cgroup
/// files, learn mode's output, path facts), without Foundation. One place, so that every caller
/// reads and writes the same way (O_CLOEXEC, EINTR-safe loops, a size bound).
public enum FileSystem {
    /// The whole file, or nil when it cannot be opened; at most `limit` bytes (nil past it).
    public static func read(_ path: String, limit: Int = 64 << 20) -> [UInt8]? {
        let fd = open(path, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else { return nil }
        defer { close(fd) }
        var bytes: [UInt8] = []
        var buf = [UInt8](repeating: 0, count: 65536)
        while true {
            let n = Glibc.read(fd, &buf, buf.count)
            if n < 0 && errno == EINTR { continue }
            if n <= 0 { break }
            bytes += buf[0..<n]
            if bytes.count > limit { return nil }
        }
        return bytes
    }

    /// Writes `bytes` (creating the file with `mode`, truncating it, or, for files such as
    /// cgroup controls, writing into what exists when `create` is false).
    @discardableResult
    public static func write(_ path: String, _ bytes: [UInt8], create: Bool = true, mode: UInt32 = 0o644) -> Bool {
        let flags = create ? O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC : O_WRONLY | O_CLOEXEC
        let fd = open(path, flags, mode)
        guard fd >= 0 else { return false }
        defer { close(fd) }
        var written = 0
        while written < bytes.count {
            let n = bytes.withUnsafeBytes { Glibc.write(fd, $0.baseAddress! + written, bytes.count - written) }
            if n < 0 && errno == EINTR { continue }
            if n <= 0 { return false }
            written += n
        }
        return true
    }

    public static func exists(_ path: String) -> Bool {
        var st = stat()
        return lstat(path, &st) == 0
    }

    public static func isDirectory(_ path: String) -> Bool {
        var st = stat()
        return stat(path, &st) == 0 && (st.st_mode & S_IFMT) == S_IFDIR
    }

    public static func isRegularFile(_ path: String) -> Bool {
        var st = stat()
        return stat(path, &st) == 0 && (st.st_mode & S_IFMT) == S_IFREG
    }

    /// The directory part of an absolute path (`/` for `/x`).
    public static func parent(of path: String) -> String {
        guard let slash = path.lastIndex(of: "/") else { return "." }
        return slash == path.startIndex ? "/" : String(path[..<slash])
    }

    /// The path with symlinks resolved, or the path itself when it does not resolve.
    public static func realpath(_ path: String) -> String {
        guard let p = Glibc.realpath(path, nil) else { return path }
        defer { free(p) }
        return String(cString: p)
    }

    /// The text of the symlink at `path`, or nil when it is not one.
    public static func readLink(_ path: String) -> String? {
        var buf = [CChar](repeating: 0, count: 4097)
        let n = Glibc.readlink(path, &buf, 4096)
        guard n > 0 else { return nil }
        return String(decoding: buf[0..<n].map { UInt8(bitPattern: $0) }, as: UTF8.self)
    }

    /// Lexical normalization: `.`, `..` (never above `/`), duplicate slashes; no symlinks resolved.
    public static func normalize(_ path: String) -> String {
        var parts: [Substring] = []
        for p in path.split(separator: "/", omittingEmptySubsequences: true) {
            if p == "." { continue }
            if p == ".." {
                if !parts.isEmpty { parts.removeLast() }
                continue
            }
            parts.append(p)
        }
        return "/" + parts.joined(separator: "/")
    }
}
