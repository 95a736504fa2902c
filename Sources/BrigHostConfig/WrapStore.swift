import BrigJSONRPC
import BrigSystem

#if canImport(Glibc)
@preconcurrency import Glibc
#endif

/// An error of reading or writing a file: one line that names it.
public struct HostConfigError: Error, Sendable, CustomStringConvertible {
    public var message: String
    public init(_ message: String) { self.message = message }
    public var description: String { message }
}

/// What brig remembers of an entry it wrapped: the exact text it replaced and the text it wrote.
public struct WrapRecord: Sendable, Equatable {
    /// The entry's JSON pointer in its file.
    public var pointer: String
    public var original: String
    public var wrapped: String

    public init(pointer: String, original: String, wrapped: String) {
        self.pointer = pointer
        self.original = original
        self.wrapped = wrapped
    }
}

/// brig's records of wrapped entries and its backups, under `$XDG_STATE_HOME/brig/wrap/`.
///
/// `records/NAME-HASH.json` holds, per config file (by its resolved path), the original and the
/// wrapped text of each wrapped entry; `backups/NAME.TIMESTAMP` is the file as it was before each
/// write. Both are written 0600 in directories made 0700.
public struct WrapStore: Sendable {
    public let directory: String

    /// `stateDirectory`: brig's state directory (`$XDG_STATE_HOME/brig`).
    public init(stateDirectory: String) {
        directory = stateDirectory + "/wrap"
    }

    /// The record file of the config at `path` (resolved).
    public func recordsPath(for path: String) -> String {
        directory + "/records/" + safeName(path) + "-" + fnv1a(path) + ".json"
    }

    func safeName(_ path: String) -> String {
        let base = path.split(separator: "/").last.map(String.init) ?? "config"
        return String(base.map { $0.isLetter || $0.isNumber || $0 == "." || $0 == "_" || $0 == "-" ? $0 : "_" }.prefix(80))
    }

    func fnv1a(_ s: String) -> String {
        var h: UInt64 = 0xcbf2_9ce4_8422_2325
        for b in s.utf8 {
            h ^= UInt64(b)
            h = h &* 0x100_0000_01b3
        }
        let hex = String(h, radix: 16)
        return String(repeating: "0", count: 16 - hex.count) + hex
    }

    /// The records of the config at `path`; none when there is no record file.
    public func records(for path: String) throws(HostConfigError) -> [WrapRecord] {
        let file = recordsPath(for: path)
        guard access(file, F_OK) == 0 else { return [] }
        let bytes = try FileIO.read(file)
        let doc: JSONCDocument
        do {
            doc = try JSONCDocument(bytes: bytes)
        } catch {
            throw HostConfigError("\(file):\(error.line): brig's wrap record is damaged: \(error.message)")
        }
        var out: [WrapRecord] = []
        for e in doc.root["entries"]?.elements ?? [] {
            guard let p = e["pointer"]?.string, let o = e["original"]?.string, let w = e["wrapped"]?.string else {
                throw HostConfigError("\(file):\(doc.line(of: e.range.lowerBound)): brig's wrap record is damaged: an entry lacks pointer, original or wrapped")
            }
            out.append(WrapRecord(pointer: p, original: o, wrapped: w))
        }
        return out
    }

    /// Replaces the records of the config at `path` (removes the record file when `records` is empty).
    public func save(_ records: [WrapRecord], for path: String) throws(HostConfigError) {
        let file = recordsPath(for: path)
        if records.isEmpty {
            if unlink(file) != 0 && errno != ENOENT { throw HostConfigError("\(file): \(FileIO.lastError())") }
            return
        }
        try FileIO.makeDirectories(directory + "/records")
        var text = "{\n  \"file\": \(JSONWriter.quoted(path)),\n  \"entries\": [\n"
        for (k, r) in records.enumerated() {
            text +=
                "    {\"pointer\": \(JSONWriter.quoted(r.pointer)), \"original\": \(JSONWriter.quoted(r.original)), "
                + "\"wrapped\": \(JSONWriter.quoted(r.wrapped))}" + (k + 1 < records.count ? "," : "") + "\n"
        }
        text += "  ]\n}\n"
        try FileIO.writeAtomically(file, Array(text.utf8), mode: 0o600, expecting: nil)
    }

    /// Copies `bytes` (the config at `path` before a write) to `backups/`; returns the copy's path.
    public func backup(_ bytes: [UInt8], of path: String) throws(HostConfigError) -> String {
        try FileIO.makeDirectories(directory + "/backups")
        var now = timespec()
        clock_gettime(CLOCK_REALTIME, &now)
        var t = now.tv_sec
        var parts = tm()
        gmtime_r(&t, &parts)
        func two(_ v: Int32) -> String { v < 10 ? "0\(v)" : "\(v)" }
        let stamp = "\(parts.tm_year + 1900)\(two(parts.tm_mon + 1))\(two(parts.tm_mday))T\(two(parts.tm_hour))\(two(parts.tm_min))\(two(parts.tm_sec))Z"
        var target = directory + "/backups/" + safeName(path) + "-" + fnv1a(path).prefix(8) + "." + stamp
        var n = 1
        while access(target, F_OK) == 0 {
            n += 1
            target = directory + "/backups/" + safeName(path) + "-" + fnv1a(path).prefix(8) + "." + stamp + "." + String(n)
        }
        try FileIO.writeAtomically(target, bytes, mode: 0o600, expecting: nil)
        return target
    }
}

/// Reading and atomically replacing files.
public enum FileIO {
    static func lastError() -> String { SystemError.text() }

    /// The whole file.
    public static func read(_ path: String) throws(HostConfigError) -> [UInt8] {
        do { return try FileSystem.contents(of: path) } catch { throw HostConfigError(error.description) }
    }

    /// The path a symbolic link chain ends at (a config kept in a dotfiles repository stays a link).
    public static func resolved(_ path: String) -> String {
        guard let p = realpath(path, nil) else { return path }
        defer { free(p) }
        return String(cString: p)
    }

    public static func makeDirectories(_ path: String) throws(HostConfigError) {
        do { try FileSystem.makeDirectories(path, mode: 0o700) } catch { throw HostConfigError(error.description) }
    }

    /// Replaces `path` with `bytes`: a temporary file beside it, the old file's mode (else `mode`)
    /// and owner, fsync, rename. With `expecting`, refuses when the file no longer holds those
    /// bytes (the host rewrote it meanwhile).
    public static func writeAtomically(_ path: String, _ bytes: [UInt8], mode: UInt32, expecting: [UInt8]?) throws(HostConfigError) {
        var st = stat()
        let exists = stat(path, &st) == 0
        do {
            try FileSystem.replace(
                path, with: bytes, mode: exists ? UInt32(st.st_mode & 0o7777) : mode,
                owner: exists && geteuid() == 0 ? (st.st_uid, st.st_gid) : nil,
                stillCurrent: expecting.map { old in { ((try? read(path)) ?? []) == old } })
        } catch  where error.code == ECANCELED {
            throw HostConfigError("\(path): changed while brig was editing it (the host rewrote it?); nothing written, run again")
        } catch {
            throw HostConfigError(error.description)
        }
    }
}
