import BrigJSONRPC
import BrigSandbox
import BrigSystem

#if canImport(Glibc)
@preconcurrency import Glibc
#endif

/// Turns what a session used into the tightest profile that still runs it.
///
/// Files are collapsed to sensible directories (a package cache, a virtual environment, a
/// `node_modules` tree, a system prefix such as `/usr`), never wider than a home directory or
/// `/`; single files under `/etc` and in the home directory stay single files. The written
/// profile `extends` the base but does not inherit its filesystem grants
/// (`filesystem.inherit: false`), so it is narrower than the base; network is `none` unless
/// a TCP/UDP connection or bind was seen. Each grant carries a comment saying why.
public struct ProfileWriter: Sendable {
    public struct Context: Sendable {
        public var base: String
        public var home: String
        public var workdir: String
        public var tmpdir: String
        /// Syscalls the base profile denies (to explain what the server tried).
        public var baseDenyList: Bool
        public init(base: String, home: String, workdir: String, tmpdir: String, baseDenyList: Bool) {
            self.base = base
            self.home = home
            self.workdir = workdir
            self.tmpdir = tmpdir
            self.baseDenyList = baseDenyList
        }
    }

    public struct Grant: Sendable, Equatable {
        public var path: String  // with $WORKDIR/$TMPDIR/$HOME variables where they apply
        public var why: String
    }

    public struct Result: Sendable {
        public var read: [Grant] = []
        public var write: [Grant] = []
        public var exec: [Grant] = []
        public var connect: [UInt16] = []
        public var bind: [UInt16] = []
        public var network: String = "none"
        /// Hosts reached through the egress proxy, as allow rules (`host` for 443 and 80, else `host:port`).
        public var hosts: [String] = []
        /// The same, each host and port as the server named it.
        public var hostUses: [Observations.HostUse] = []
        public var syscalls: [(String, Int)] = []
        public var tools: [(name: String, count: Int, args: [(String, [String])])] = []
        public var yaml: String = ""
    }

    public let context: Context

    public init(context: Context) {
        self.context = context
    }

    /// Allow rules for the hosts seen: a name (or address) alone covers ports 443 and 80 when
    /// only those were used; other ports are spelled out.
    public static func allowRules(_ uses: some Sequence<Observations.HostUse>) -> [String] {
        var ports: [String: Set<UInt16>] = [:]
        for u in uses { ports[u.host.lowercased(), default: []].insert(u.port) }
        var out: [String] = []
        for (host, set) in ports.sorted(by: { $0.key < $1.key }) {
            let shown = host.contains(":") ? "[\(host)]" : host
            if set.isSubset(of: [443, 80]) {
                out.append(shown)
            } else {
                for p in set.sorted() { out.append(p == 443 || p == 80 ? shown : "\(shown):\(p)") }
            }
        }
        var seen = Set<String>()
        return out.filter { seen.insert($0).inserted }
    }

    public func write(_ o: Observations, name: String) -> Result {
        var r = Result()
        var read: [String: (Int, String)] = [:], write: [String: (Int, String)] = [:], exec: [String: (Int, String)] = [:]
        for (path, use) in o.files {
            guard let anchor = anchor(path) else { continue }
            let why = "\(use.firstSyscall) \(path)"
            func add(_ d: inout [String: (Int, String)]) {
                let prev = d[anchor]
                d[anchor] = ((prev?.0 ?? 0) + use.count, prev?.1 ?? why)
            }
            if use.exec { add(&exec) } else if use.read || !use.write { add(&read) }
            if use.write { add(&write) }
            // The kernel runs an ELF program's loader itself: it needs exec too.
            if use.exec, let loader = ELF.interpreter(of: path), let loaderAnchor = self.anchor(loader) {
                let prev = exec[loaderAnchor]
                exec[loaderAnchor] = ((prev?.0 ?? 0) + use.count, prev?.1 ?? "the program interpreter of \(path)")
            }
        }
        r.read = grants(collapse(read))
        r.write = grants(collapse(write))
        r.exec = grants(collapse(exec))
        // Reads already covered by an exec grant (exec includes read) are dropped.
        r.read.removeAll { g in r.exec.contains { covers($0.path, g.path) } || r.write.contains { covers($0.path, g.path) } }

        for (use, _) in o.networkUses where use.family == "inet" || use.family == "inet6" {
            if use.kind == "connect" { if !r.connect.contains(use.port) { r.connect.append(use.port) } } else if !r.bind.contains(use.port) { r.bind.append(use.port) }
        }
        r.connect.sort()
        r.bind.sort()
        let inetSockets = o.socketFamilies.keys.contains(2) || o.socketFamilies.keys.contains(10)
        r.network = (r.connect.isEmpty && r.bind.isEmpty && !inetSockets) ? "none" : "ports"
        if !o.hosts.isEmpty {
            r.hosts = ProfileWriter.allowRules(o.hosts.keys)
            r.hostUses = o.hosts.keys.sorted { ($0.host, $0.port) < ($1.host, $1.port) }
            r.network = "hosts"
        }
        r.syscalls = o.syscalls.sorted { $0.key < $1.key }.map { ($0.key, $0.value) }
        for (tool, use) in o.tools.sorted(by: { $0.key < $1.key }) {
            var args: [(String, [String])] = []
            for (arg, values) in use.arguments.sorted(by: { $0.key < $1.key }) {
                let strings = values.compactMap(\.stringValue)
                guard strings.count == values.count, !strings.isEmpty, strings.allSatisfy({ $0.hasPrefix("/") }) else { continue }
                // A path argument: constrain it to the learned directories that hold every value seen.
                let dirs = (r.write + r.read + r.exec).map(\.path).filter { d in
                    strings.contains { covers(expand(d), FileSystem.normalize($0)) }
                }
                if !dirs.isEmpty && strings.allSatisfy({ s in dirs.contains { covers(expand($0), FileSystem.normalize(s)) } }) {
                    args.append((arg, Array(Set(dirs)).sorted()))
                }
            }
            r.tools.append((tool, use.count, args))
        }
        r.yaml = yaml(r, name: name, o: o)
        return r
    }

    // MARK: Collapsing

    /// The grant a path belongs to, or nil when brig grants it itself (its own /proc/PID).
    func anchor(_ path: String) -> String? {
        let home = context.home
        if covers(context.tmpdir, path) { return "$TMPDIR" }
        if covers(context.workdir, path) { return "$WORKDIR" }
        if path == "/proc/self" || path.hasPrefix("/proc/self/") || path.hasPrefix("/proc/thread-self") { return nil }
        if path.hasPrefix("/proc/") {
            let first = path.dropFirst(6).split(separator: "/").first.map(String.init) ?? ""
            return Int(first) != nil ? nil : path  // another process's entries: never granted
        }
        for top in ["/usr", "/lib", "/lib64", "/lib32", "/bin", "/sbin"] where covers(top, path) { return top }
        if path.hasPrefix("/etc/") {
            let parts = path.split(separator: "/")
            return parts.count >= 3 && FileSystem.isDirectory("/etc/\(parts[1])") ? "/etc/\(parts[1])" : path
        }
        if path.hasPrefix("/dev/") { return path }
        if path.hasPrefix("/sys/devices/system/cpu") { return "/sys/devices/system/cpu" }
        if path.hasPrefix("/opt/") { return "/opt/" + (path.split(separator: "/").dropFirst().first.map(String.init) ?? "") }
        // A virtual environment (pyvenv.cfg at its root) or a node_modules tree.
        var dir = FileSystem.parent(of: path)
        while dir.count > 1 && dir != home {
            if FileSystem.exists(dir + "/pyvenv.cfg") { return dir }
            dir = FileSystem.parent(of: dir)
        }
        let parts = path.split(separator: "/", omittingEmptySubsequences: true)
        if let i = parts.firstIndex(of: "node_modules") { return "/" + parts[...i].joined(separator: "/") }
        if covers(home, path) && path != home {
            let rel = Array(path.dropFirst(home.count + 1).split(separator: "/"))
            let keep: Int
            switch rel.first {
            case ".cache", ".config": keep = 2  // ~/.cache/uv
            case ".local": keep = rel.count > 1 && (rel[1] == "share" || rel[1] == "lib") ? 3 : 2  // ~/.local/share/uv
            case ".pyenv": keep = rel.count > 1 && rel[1] == "versions" ? 3 : 2  // ~/.pyenv/versions/3.11.7
            case ".nvm": keep = 4  // ~/.nvm/versions/node/v20
            case ".npm", ".cargo", ".rustup", ".deno", ".bun": keep = 1
            default: keep = rel.count  // a single file or directory in the home directory
            }
            return home + "/" + rel.prefix(max(1, min(keep, rel.count))).joined(separator: "/")
        }
        // Elsewhere: the directory of a file (a directory stays itself).
        return FileSystem.isDirectory(path) ? path : FileSystem.parent(of: path)
    }

    /// Siblings collapse into their parent when three or more of them are used, unless the
    /// parent is too wide to grant.
    func collapse(_ grants: [String: (Int, String)]) -> [String: (Int, String)] {
        var current = grants
        var changed = true
        while changed {
            changed = false
            var byParent: [String: [String]] = [:]
            for path in current.keys where path.hasPrefix("/") { byParent[FileSystem.parent(of: path), default: []].append(path) }
            for (parent, children) in byParent where children.count >= 3 && !tooWide(parent) {
                var total = 0
                var why = ""
                for c in children {
                    total += current[c]?.0 ?? 0
                    if why.isEmpty { why = current[c]?.1 ?? "" }
                    current.removeValue(forKey: c)
                }
                let prev = current[parent]
                current[parent] = ((prev?.0 ?? 0) + total, prev?.1 ?? why)
                changed = true
            }
        }
        // Drop what another grant already covers.
        let keys = current.keys.sorted()
        for k in keys where keys.contains(where: { $0 != k && covers(expand($0), expand(k)) }) {
            current.removeValue(forKey: k)
        }
        return current
    }

    func tooWide(_ dir: String) -> Bool {
        let depth = dir.split(separator: "/").count
        return depth < 2 || dir == context.home || ["/home", "/root", "/etc", "/tmp", "/var", "/proc", "/sys", "/dev", "/run"].contains(dir)
            || FileSystem.parent(of: dir) == "/home"
    }

    func grants(_ d: [String: (Int, String)]) -> [Grant] {
        d.sorted { $0.key < $1.key }.map { Grant(path: $0.key, why: "\($0.value.0) use\($0.value.0 == 1 ? "" : "s"), first: \($0.value.1)") }
    }

    func expand(_ p: String) -> String {
        if p == "$WORKDIR" { return context.workdir }
        if p == "$TMPDIR" { return context.tmpdir }
        return p
    }

    // MARK: YAML

    func quote(_ s: String) -> String { JSONWriter.quoted(s) }

    func yaml(_ r: Result, name: String, o: Observations) -> String {
        var y = "# Learned by `brig learn` from one session: what the server used, and nothing more.\n"
        y += "# Review it, then run with: brig --profile THIS_FILE -- COMMAND\n"
        y += "version: 1\nname: \(name)\nextends: \(context.base)\n"
        y += "description: \(quote("learned from a session of \(name)"))\nsandbox:\n"
        y += "  filesystem:\n    # Only what the session used, not the filesystem grants of \(context.base).\n    inherit: false\n"
        for (label, list) in [("read", r.read), ("write", r.write), ("exec", r.exec)] {
            if list.isEmpty {
                y += "    \(label): []\n"
                continue
            }
            y += "    \(label):\n"
            for g in list { y += "      - \(quote(g.path))  # \(g.why.replacingNewlines)\n" }
        }
        // inherit: false drops the base's socket grants too; the private tmp's own sockets stay reachable.
        y += "    unix: [\"$TMPDIR\"]  # named sockets: only those the server makes in its private tmp\n"
        if r.network == "hosts" {
            y += "  network:  # the hosts the server reached through brig's egress proxy\n"
            y += "    allow:\n"
            for h in r.hosts { y += "      - \(quote(h))\n" }
        } else if r.network == "none" {
            y += "  network: none  # no internet socket was opened\n"
        } else {
            let seen = o.networkUses.keys.filter { $0.family != "unix" }.map { "\($0.kind) \($0.address):\($0.port)" }.sorted()
            y += "  network:  # seen: \(seen.prefix(6).joined(separator: ", "))\n"
            y += "    connect: [\(r.connect.map(String.init).joined(separator: ", "))]\n"
            y += "    bind: [\(r.bind.map(String.init).joined(separator: ", "))]\n"
        }
        if !r.syscalls.isEmpty {
            if context.baseDenyList {
                y += "  # The server called these, which \(context.base) denies (they fail with EPERM under `brig run`);\n"
                y += "  # if it needs them, choose a base profile that does not deny them:\n"
                for (n, c) in r.syscalls { y += "  #   \(n): \(c) call\(c == 1 ? "" : "s")\n" }
            } else {
                y += "  syscalls:\n    allow:  # beyond \(context.base)'s allow-list\n"
                for (n, c) in r.syscalls { y += "      - \(n)  # \(c) call\(c == 1 ? "" : "s")\n" }
            }
        }
        y += "mcp:\n  tools:\n    default: deny  # tools the session did not call are hidden and refused\n"
        y += r.tools.isEmpty ? "    rules: []  # the session called no tool\n" : "    rules:\n"
        do {
            for t in r.tools {
                y += "      - name: \(quote(t.name))  # called \(t.count) time\(t.count == 1 ? "" : "s")\n        allow: true\n"
                if !t.args.isEmpty {
                    y += "        args:\n"
                    for (arg, dirs) in t.args {
                        y += "          \(quote(arg)): {under: [\(dirs.map(quote).joined(separator: ", "))]}  # every value seen was a path there\n"
                    }
                }
            }
        }
        return y
    }
}

func covers(_ dir: String, _ path: String) -> Bool {
    dir == "/" || path == dir || path.hasPrefix(dir + "/")
}

extension String {
    var replacingNewlines: String { String(map { $0 == "\n" ? " " : $0 }) }
}
