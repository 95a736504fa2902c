import BrigPlan
import BrigRelay
import BrigSystem
import Foundation
import Testing

#if canImport(Glibc)
@preconcurrency import Glibc
#endif

/// A fresh directory of the test's own (mkdtemp), removed by `remove()`.
struct Scratch {
    let path: String

    init() throws {
        var template = Array("/tmp/brigcli-test-XXXXXX".utf8CString)
        let made = template.withUnsafeMutableBufferPointer { mkdtemp($0.baseAddress!) }
        path = try #require(made.map { String(cString: $0) })
    }

    /// This scratch directory's unique part (the six characters mkdtemp chose).
    var unique: String { String(path.suffix(6)) }

    /// Writes `text` to `name` in the directory; returns its path.
    @discardableResult
    func write(_ name: String, _ text: String, mode: UInt32 = 0o644) throws -> String {
        let file = path + "/" + name
        try #require(FileSystem.write(file, Array(text.utf8), mode: mode))
        return file
    }

    func remove() {
        try? FileManager.default.removeItem(atPath: path)
    }
}

/// The private directories (`PRIVATE-PREFIX*`) a run made in the directory brig makes them in
/// ($TMPDIR when writable, else /tmp), found by the prefix the test gives the run.
struct PrivateDirectories {
    let prefix: String
    let base: String

    init(_ scratch: Scratch) throws {
        prefix = "brigcli-private-\(scratch.unique)-"
        // Where brig's own code puts them: a probe made the same way, removed at once.
        let probe = try PrivateDirectory(prefix: prefix + "probe-")
        base = FileSystem.parent(of: probe.path)
        probe.remove()
    }

    /// The names in `base` that start with the prefix.
    func present() -> [String] {
        guard let dir = opendir(base) else { return [] }
        defer { closedir(dir) }
        var names: [String] = []
        while let entry = readdir(dir) {
            let name = withUnsafeBytes(of: entry.pointee.d_name) { raw in
                String(decoding: raw.prefix { $0 != 0 }, as: UTF8.self)
            }
            if name.hasPrefix(prefix) { names.append(name) }
        }
        return names.sorted()
    }
}
