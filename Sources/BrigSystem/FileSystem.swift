#if canImport(Glibc)
@preconcurrency public import Glibc
#endif

/// The file operations brig's own code needs outside the child (profiles, keys, pins, positions,
/// host configs, cgroup files, learn mode's output, path facts), without Foundation. One place,
/// so that every caller reads and writes the same way (O_CLOEXEC, EINTR-safe loops, a size
/// bound, replace by rename).
public enum FileSystem {
    /// The whole file, or nil (errno set) when it cannot be read; nil past `limit` bytes.
    public static func read(_ path: String, limit: Int = 64 << 20) -> [UInt8]? {
        try? contents(of: path, limit: limit)
    }

    /// The whole file; the error names the path and errno (EFBIG past `limit` bytes).
    public static func contents(of path: String, limit: Int = 64 << 20) throws(SystemError) -> [UInt8] {
        let fd = retryingInterrupted { open(path, O_RDONLY | O_CLOEXEC) }
        guard fd >= 0 else { throw SystemError(path) }
        defer { close(fd) }
        return try contents(of: fd, limit: limit, named: path)
    }

    /// What is left to read on `fd`, to its end.
    public static func contents(of fd: Int32, limit: Int = 64 << 20, named: String = "") throws(SystemError) -> [UInt8] {
        var bytes: [UInt8] = []
        var st = stat()
        if fstat(fd, &st) == 0, (st.st_mode & S_IFMT) == S_IFREG { bytes.reserveCapacity(min(Int(st.st_size), limit) + 1) }
        var buf = [UInt8](repeating: 0, count: 65536)
        while true {
            let n = retryingInterrupted { Glibc.read(fd, &buf, buf.count) }
            if n < 0 { throw SystemError(named) }
            if n == 0 { return bytes }
            bytes += buf[0..<n]
            if bytes.count > limit { throw SystemError(named, code: EFBIG) }
        }
    }

    /// Writes all of `bytes`; false with errno set on failure (EIO for a write of zero bytes).
    @discardableResult
    public static func writeAll(_ fd: Int32, _ bytes: UnsafeRawBufferPointer) -> Bool {
        guard let base = bytes.baseAddress else { return true }
        var off = 0
        while off < bytes.count {
            let n = Glibc.write(fd, base + off, bytes.count - off)
            if n < 0 {
                if errno == EINTR { continue }
                return false
            }
            if n == 0 {
                errno = EIO
                return false
            }
            off += n
        }
        return true
    }

    @discardableResult
    public static func writeAll(_ fd: Int32, _ bytes: some Collection<UInt8>) -> Bool {
        if let done = bytes.withContiguousStorageIfAvailable({ writeAll(fd, UnsafeRawBufferPointer($0)) }) { return done }
        return Array(bytes).withUnsafeBytes { writeAll(fd, $0) }
    }

    /// Writes `bytes` (creating the file with `mode`, truncating it, or, for files such as
    /// cgroup controls, writing into what exists when `create` is false).
    @discardableResult
    public static func write(_ path: String, _ bytes: [UInt8], create: Bool = true, mode: UInt32 = 0o644) -> Bool {
        let flags = create ? O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC : O_WRONLY | O_CLOEXEC
        let fd = open(path, flags, mode)
        guard fd >= 0 else { return false }
        defer { close(fd) }
        return writeAll(fd, bytes)
    }

    /// Replaces the file at `path` with `bytes` so that a reader, a crash or a second writer
    /// sees the old file or the new one, never a part: the bytes go to a hidden private name in
    /// the same directory (`.NAME.brig-…`, O_EXCL, O_NOFOLLOW), are fsync'd, renamed over `path`,
    /// and the directory is fsync'd. `mode` (and `owner`, when given) are the new file's.
    /// `stillCurrent`, when given, runs once the new bytes are durable and just before the rename:
    /// false leaves `path` as it is (ECANCELED), for a caller that must not overwrite a file
    /// someone else changed meanwhile.
    public static func replace(
        _ path: String, with bytes: [UInt8], mode: UInt32 = 0o600,
        owner: (uid: uid_t, gid: gid_t)? = nil,
        stillCurrent: (() -> Bool)? = nil
    ) throws(SystemError) {
        var rng = SystemRandomNumberGenerator()
        let name = path.split(separator: "/").last.map(String.init) ?? path
        let temporary = parent(of: path) + "/." + name + ".brig-\(getpid())-\(UInt32.random(in: 0...UInt32.max, using: &rng))"
        let fd = retryingInterrupted { open(temporary, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, mode_t(mode)) }
        guard fd >= 0 else { throw SystemError("\(path): cannot create a temporary file beside it") }
        var failure: SystemError?
        if !writeAll(fd, bytes) { failure = SystemError("\(temporary): cannot write") }
        if failure == nil, fchmod(fd, mode_t(mode)) != 0 { failure = SystemError("\(temporary): cannot chmod") }
        if failure == nil, let owner, fchown(fd, owner.uid, owner.gid) != 0 { failure = SystemError("\(temporary): cannot chown") }
        if failure == nil, fsync(fd) != 0 { failure = SystemError("\(temporary): fsync") }
        close(fd)
        if failure == nil, let stillCurrent, !stillCurrent() { failure = SystemError("\(path): changed meanwhile", code: ECANCELED) }
        if failure == nil, rename(temporary, path) != 0 { failure = SystemError("\(path): cannot rename \(temporary) to it") }
        if let failure {
            unlink(temporary)
            throw failure
        }
        syncDirectory(of: path)
    }

    /// fsync of the directory holding `path` (a rename in it lasts across a crash).
    public static func syncDirectory(of path: String) {
        let dfd = open(parent(of: path), O_RDONLY | O_DIRECTORY | O_CLOEXEC)
        guard dfd >= 0 else { return }
        fsync(dfd)
        close(dfd)
    }

    /// `mkdir -p`: the missing directories of `path`, each made with `mode`; an error when a
    /// component exists and is not a directory.
    public static func makeDirectories(_ path: String, mode: UInt32 = 0o700) throws(SystemError) {
        if path.isEmpty || path == "/" || path == "." { return }
        var st = stat()
        if stat(path, &st) == 0 {
            guard (st.st_mode & S_IFMT) == S_IFDIR else { throw SystemError("\(path): cannot create directory", code: ENOTDIR) }
            return
        }
        try makeDirectories(parent(of: path), mode: mode)
        if mkdir(path, mode_t(mode)) != 0 && errno != EEXIST { throw SystemError("\(path): cannot create directory") }
    }

    /// The working directory (any length), or `/` when it cannot be named (removed, unreadable).
    public static func currentDirectory() -> String {
        guard let p = getcwd(nil, 0) else { return "/" }
        defer { free(p) }
        return String(cString: p)
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
