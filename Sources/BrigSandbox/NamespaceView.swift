import BrigSystem

#if canImport(Glibc)
@preconcurrency import Glibc
#endif

/// The filesystem a confined server sees where the kernel lets brig make namespaces: a new
/// mount namespace whose root is an empty read-only tmpfs holding only the granted paths
/// (bound read-only unless write is granted), a private `/proc` of a new pid namespace, an empty
/// `/tmp` holding only the server's private `$TMPDIR`, and a `/dev` holding only the granted
/// device nodes. What is not granted does not exist: `/etc/shadow`, `~/.ssh`, `/run/docker.sock`
/// and the ssh-agent's socket are not there to be opened or connected to.
///
/// This is a plan: every path and every step is computed here, in the parent, and the C shim
/// only runs the steps between fork and exec. Landlock still applies on top (its rules name
/// the host's inodes, which the bind mounts show unchanged).
public struct NamespaceView: Sendable, Equatable {
    public enum Kind: Int32, Sendable {
        case bind = 1, symlink = 2, tmpfs = 3, proc = 4, directory = 5
    }

    /// One step; `source` and `target` are the paths the shim uses (under `/oldroot` and
    /// `/newroot` while the view is being built).
    public struct Operation: Sendable, Equatable {
        public var kind: Kind
        public var flags: Int32
        public var source: String
        public var target: String
        /// The path as the server sees it (for reports).
        public var path: String
    }

    /// A grant the view must show.
    public struct Grant: Sendable, Equatable {
        public var path: String
        public var write: Bool
        public init(path: String, write: Bool) {
            self.path = path
            self.write = write
        }
    }

    static let readOnly: Int32 = 1, file: Int32 = 2, devices: Int32 = 4
    /// CLONE_NEWNS, NEWPID, NEWIPC, NEWUTS, NEWUSER.
    public static let newMount: UInt = 0x0002_0000, newPID: UInt = 0x2000_0000, newIPC: UInt = 0x0800_0000
    public static let newUTS: UInt = 0x0400_0000, newUser: UInt = 0x1000_0000, newNet: UInt = 0x4000_0000

    public private(set) var operations: [Operation] = []
    /// The working directory inside the view (the same path as outside; an empty directory
    /// stands in for it when it is not granted, so relative paths mean what they meant).
    public var workingDirectory: String?
    /// An unprivileged brig makes a user namespace to own the others.
    public var userNamespace: Bool
    /// The pid namespace's `kernel.pid_max`: at most `pidMax - 1` tasks (processes and threads)
    /// exist in the view at once. The kernel's minimum is 301.
    public var pidMax: UInt64?

    /// Whether this kernel namespaces `kernel.pid_max` (Linux 6.14+).
    public static let pidMaxIsNamespaced: Bool = {
        var name = utsname()
        guard uname(&name) == 0 else { return false }
        let release = withUnsafeBytes(of: &name.release) { String(decoding: $0.prefix { $0 != 0 }, as: UTF8.self) }
        let parts = release.split(whereSeparator: { !$0.isNumber }).prefix(2).compactMap { Int($0) }
        guard parts.count == 2 else { return false }
        return parts[0] > 6 || (parts[0] == 6 && parts[1] >= 14)
    }()
    /// Namespace flags for clone(2).
    public var cloneFlags: UInt {
        NamespaceView.newMount | NamespaceView.newPID | NamespaceView.newIPC | NamespaceView.newUTS
            | (userNamespace ? NamespaceView.newUser : 0)
    }

    /// Plans the view of `grants` (paths that do not exist are left out), standing in
    /// `workingDirectory` when given.
    public init(grants: [Grant], workingDirectory: String?, userNamespace: Bool) {
        self.userNamespace = userNamespace
        self.workingDirectory = workingDirectory
        var binds: [String: (write: Bool, isDirectory: Bool, devices: Bool)] = [:]
        var links: [String: String] = [:]
        for grant in grants {
            guard grant.path.hasPrefix("/") else { continue }
            // The private /proc replaces the host's; nothing of the host's is bound into it.
            if grant.path == "/proc" || grant.path.hasPrefix("/proc/") { continue }
            guard let real = NamespaceView.resolve(grant.path, links: &links) else { continue }
            var st = stat()
            guard stat(real, &st) == 0 else { continue }
            let isDirectory = (st.st_mode & S_IFMT) == S_IFDIR
            let kind = st.st_mode & S_IFMT
            let isDevice = kind == S_IFCHR || kind == S_IFBLK
            if let existing = binds[real] {
                binds[real] = (existing.write || grant.write, isDirectory, existing.devices || isDevice)
            } else {
                binds[real] = (grant.write, isDirectory, isDevice || real == "/dev" || real.hasPrefix("/dev/"))
            }
        }
        // A bind inside another bind with at least its rights adds nothing.
        let paths = binds.keys.sorted()
        var kept: [String] = []
        for path in paths {
            let entry = binds[path]!
            if let outer = kept.last(where: { GrantSafety.contains($0, path) }), binds[outer]?.write == entry.write,
                binds[outer]?.devices == entry.devices
            {
                continue
            }
            kept.append(path)
        }
        var ops: [Operation] = [
            Operation(kind: .tmpfs, flags: 0, source: "", target: "/newroot/tmp", path: "/tmp"),
            Operation(kind: .tmpfs, flags: 0, source: "", target: "/newroot/dev", path: "/dev"),
            Operation(kind: .proc, flags: 0, source: "", target: "/newroot/proc", path: "/proc"),
        ]
        for path in kept {
            let entry = binds[path]!
            var flags: Int32 = entry.write ? 0 : NamespaceView.readOnly
            if !entry.isDirectory { flags |= NamespaceView.file }
            if entry.devices { flags |= NamespaceView.devices }
            ops.append(Operation(kind: .bind, flags: flags, source: "/oldroot" + path, target: "/newroot" + path, path: path))
        }
        for (location, text) in links where !kept.contains(where: { $0 == location || GrantSafety.contains($0, location) }) {
            ops.append(Operation(kind: .symlink, flags: 0, source: text, target: "/newroot" + location, path: location))
        }
        for (name, text) in [("fd", "/proc/self/fd"), ("stdin", "/proc/self/fd/0"), ("stdout", "/proc/self/fd/1"), ("stderr", "/proc/self/fd/2")]
        where binds["/dev/" + name] == nil {
            ops.append(Operation(kind: .symlink, flags: 0, source: text, target: "/newroot/dev/" + name, path: "/dev/" + name))
        }
        if let wd = workingDirectory, wd != "/", !kept.contains(where: { $0 == wd || GrantSafety.contains($0, wd) }) {
            ops.append(Operation(kind: .directory, flags: 0, source: "", target: "/newroot" + wd, path: wd))
        }
        // Parents before children; at the same path a mount before what goes inside it.
        operations = ops.enumerated().sorted { a, b in
            a.element.path != b.element.path ? a.element.path < b.element.path : a.offset < b.offset
        }.map(\.element)
    }

    /// The real path of `path`, recording each symlink met on the way (its location and text)
    /// so the view can show the same link; nil when it does not exist.
    static func resolve(_ path: String, links: inout [String: String]) -> String? {
        var pending = path.split(separator: "/").map(String.init)
        var current = ""
        var hops = 0
        while !pending.isEmpty {
            let component = pending.removeFirst()
            if component == "." || component.isEmpty { continue }
            if component == ".." {
                if let slash = current.lastIndex(of: "/") { current = String(current[..<slash]) }
                continue
            }
            let candidate = current + "/" + component
            var st = stat()
            guard lstat(candidate, &st) == 0 else { return nil }
            if (st.st_mode & S_IFMT) == S_IFLNK {
                hops += 1
                guard hops <= 40, let text = FileSystem.readLink(candidate) else { return nil }
                links[candidate] = text
                let rest = text.split(separator: "/").map(String.init)
                if text.hasPrefix("/") { current = "" }
                pending = rest + pending
            } else {
                current = candidate
            }
        }
        return current.isEmpty ? "/" : current
    }
}
