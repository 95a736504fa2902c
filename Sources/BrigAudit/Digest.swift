#if canImport(Glibc)
@preconcurrency import Glibc
#endif

/// SHA-256 digests other modules record (the executable, the profile text).
public enum Digest {
    /// The file's SHA-256 in hex, streamed; nil when it cannot be read.
    public static func sha256(file path: String) -> String? { sha256File(path) }

    /// The bytes' SHA-256 in hex.
    public static func sha256(_ bytes: some Sequence<UInt8>) -> String { sha256Hex(bytes) }

    /// The file's SHA-256, remembered in `directory` under the file's identity (device, inode,
    /// size, modification and change times to the nanosecond), so that an unchanged executable is
    /// not read again at every start: hashing a 7 MB Python took 6.5 ms, longer than planning
    /// the whole sandbox, and uvx or node are larger. Any write to the file changes its ctime,
    /// which no one can set back; the identity is read before and after hashing and an entry is
    /// kept only when both agree. `directory` is brig's own state (no grant reaches it); a cache
    /// that cannot be read or written is simply not used.
    public static func sha256(file path: String, cachedIn directory: String) -> String? {
        guard let before = identity(of: path) else { return nil }
        let entry = directory + "/" + sha256Hex(Array(path.utf8))
        if let text = readSmall(entry) {
            let parts = text.split(separator: " ")
            if parts.count == 2, parts[0] == before, parts[1].count == 64 { return String(parts[1]) }
        }
        guard let hash = sha256File(path), identity(of: path) == before else { return sha256File(path) }
        if mkdir(directory, 0o700) == 0 || errno == EEXIST {
            let temporary = entry + ".\(getpid()).tmp"
            let fd = open(temporary, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0o600)
            if fd >= 0 {
                let line = Array("\(before) \(hash)".utf8)
                let ok = line.withUnsafeBytes { write(fd, $0.baseAddress, $0.count) == line.count }
                close(fd)
                if !ok || rename(temporary, entry) != 0 { unlink(temporary) }
            }
        }
        return hash
    }

    /// "dev-ino-size-mtime-ctime" of the file a path names now.
    static func identity(of path: String) -> String? {
        var st = stat()
        guard stat(path, &st) == 0 else { return nil }
        return "\(st.st_dev)-\(st.st_ino)-\(st.st_size)-\(st.st_mtim.tv_sec).\(st.st_mtim.tv_nsec)-\(st.st_ctim.tv_sec).\(st.st_ctim.tv_nsec)"
    }

    static func readSmall(_ path: String) -> String? {
        let fd = open(path, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else { return nil }
        defer { close(fd) }
        var buf = [UInt8](repeating: 0, count: 256)
        let n = buf.withUnsafeMutableBytes { read(fd, $0.baseAddress, $0.count) }
        guard n > 0 else { return nil }
        return String(decoding: buf[0..<n], as: UTF8.self)
    }
}
