import BrigSystem
internal import CBrigShim

#if canImport(Glibc)
@preconcurrency import Glibc
#endif

/// Landlock: which files the child may read, write and execute, which TCP ports it may use,
/// and (ABI 6+) that it can neither signal processes outside its domain (brig) nor reach
/// abstract unix sockets outside it. The ruleset is built in the parent; the child only enforces
/// it. Rights the running kernel does not know are left out (best effort by ABI), and `brig
/// check` prints the ABI in force.
public enum Landlock {
    public struct Rules: Sendable, Equatable {
        public var read: [String] = []
        public var write: [String] = []
        public var exec: [String] = []
        /// nil: TCP is not restricted; else only these ports (ABI 4+).
        public var tcp: (connect: [UInt16], bind: [UInt16])?
        public var scope = true
        public init() {}

        public static func == (a: Rules, b: Rules) -> Bool {
            a.read == b.read && a.write == b.write && a.exec == b.exec && a.scope == b.scope
                && a.tcp?.connect == b.tcp?.connect && a.tcp?.bind == b.tcp?.bind
        }
    }

    /// What a built ruleset grants (for reports), and the paths skipped because they do not exist.
    public struct Ruleset: Sendable {
        public var fd: Int32
        public var abi: Int32
        public var granted: [(path: String, access: String)]
        public var missing: [String]
        public var handlesNetwork: Bool
        public var scoped: Bool
    }

    static let execute: UInt64 = 1 << 0, writeFile: UInt64 = 1 << 1, readFile: UInt64 = 1 << 2, readDir: UInt64 = 1 << 3
    static let removeDir: UInt64 = 1 << 4, removeFile: UInt64 = 1 << 5, makeChar: UInt64 = 1 << 6, makeDir: UInt64 = 1 << 7
    static let makeReg: UInt64 = 1 << 8, makeSock: UInt64 = 1 << 9, makeFifo: UInt64 = 1 << 10, makeBlock: UInt64 = 1 << 11
    static let makeSym: UInt64 = 1 << 12, refer: UInt64 = 1 << 13, truncate: UInt64 = 1 << 14, ioctlDev: UInt64 = 1 << 15
    /// What the child grants itself on its own /proc/PID: read files and directories.
    public static let procSelfRights: UInt64 = (1 << 2) | (1 << 3)
    static let fileOnly: UInt64 = execute | writeFile | readFile | truncate | ioctlDev

    /// The Landlock ABI of this kernel (0: unavailable).
    public static let abi: Int32 = brig_landlock_abi()

    /// Every filesystem right this kernel's ABI knows.
    static func handledFilesystem(abi: Int32) -> UInt64 {
        var all: UInt64 = (1 << 13) - 1
        if abi >= 2 { all |= refer }
        if abi >= 3 { all |= truncate }
        if abi >= 5 { all |= ioctlDev }
        return all
    }

    public static func build(_ rules: Rules) throws(SandboxError) -> Ruleset {
        guard abi > 0 else { throw SandboxError("Landlock is not available on this kernel") }
        let handled = handledFilesystem(abi: abi)
        let handlesNet = rules.tcp != nil && abi >= 4
        let scoped = rules.scope && abi >= 6
        let fd = brig_landlock_create_ruleset(handled, handlesNet ? 3 : 0, scoped ? 3 : 0)
        guard fd >= 0 else { throw SandboxError("landlock_create_ruleset failed: \(SystemError.text(-fd))") }

        let readRights = readFile | readDir
        let writeRights =
            (writeFile | removeDir | removeFile | makeDir | makeReg | makeSock | makeFifo | makeSym | refer | truncate
                | readFile | readDir) & handled
        let execRights = execute | readFile | readDir
        var access: [String: UInt64] = [:]
        var order: [String] = []
        func grant(_ paths: [String], _ rights: UInt64) {
            for p in paths {
                if access[p] == nil { order.append(p) }
                access[p, default: 0] |= rights
            }
        }
        grant(rules.read, readRights)
        grant(rules.write, writeRights)
        grant(rules.exec, execRights)

        var granted: [(String, String)] = []
        var missing: [String] = []
        for path in order {
            let rights = access[path] ?? 0
            let pathFD = open(path, 0o10000000 /* O_PATH */ | O_CLOEXEC)
            guard pathFD >= 0 else {
                missing.append(path)
                continue
            }
            defer { close(pathFD) }
            var st = stat()
            fstat(pathFD, &st)
            let isDir = (st.st_mode & S_IFMT) == S_IFDIR
            let effective = (isDir ? rights : rights & fileOnly) & handled
            let rc = brig_landlock_add_path(fd, pathFD, effective)
            guard rc == 0 else {
                close(fd)
                throw SandboxError("Landlock rule for \(path) failed: \(SystemError.text(-rc))")
            }
            granted.append((path, describe(effective)))
        }
        if handlesNet, let tcp = rules.tcp {
            for port in tcp.connect { _ = brig_landlock_add_port(fd, UInt64(port), 2) }
            for port in tcp.bind { _ = brig_landlock_add_port(fd, UInt64(port), 1) }
        }
        return Ruleset(fd: fd, abi: abi, granted: granted, missing: missing, handlesNetwork: handlesNet, scoped: scoped)
    }

    static func describe(_ rights: UInt64) -> String {
        var parts: [String] = []
        if rights & (readFile | readDir) != 0 { parts.append("read") }
        if rights & (writeFile | makeReg) != 0 { parts.append("write") }
        if rights & execute != 0 { parts.append("exec") }
        return parts.joined(separator: "+")
    }
}

/// What this kernel and process can enforce, for `brig check` and `require:`.
public struct KernelFeatures: Sendable {
    public var seccomp: Bool
    public var seccompNotify: Bool
    public var landlockABI: Int32
    public var noNewPrivs: Bool
    public var isRoot: Bool
    public var canDropBoundingSet: Bool
    /// Whether an unprivileged process may make user namespaces here (`user.max_user_namespaces`,
    /// Debian's `kernel.unprivileged_userns_clone`, Ubuntu's AppArmor restriction). The clone
    /// itself has the last word: a refusal there falls back to Landlock alone.
    public var userNamespaces: Bool = false

    /// Whether brig can show the server a namespace view (root, or user namespaces).
    public var namespaceView: Bool { isRoot || userNamespaces }

    public static func probe() -> KernelFeatures {
        let seccomp = access("/proc/sys/kernel/seccomp/actions_avail", R_OK) == 0 || brig_seccomp_notify_supported() != 0
        var features = KernelFeatures(
            seccomp: seccomp, seccompNotify: brig_seccomp_notify_supported() != 0,
            landlockABI: Landlock.abi, noNewPrivs: true, isRoot: geteuid() == 0,
            canDropBoundingSet: Capabilities.inBoundingSet(8 /* CAP_SETPCAP */)
                && (Capabilities.current().effective & (1 << 8)) != 0)
        features.userNamespaces = userNamespacesAllowed()
        return features
    }

    static func userNamespacesAllowed() -> Bool {
        func number(_ path: String) -> Int? {
            guard let bytes = FileSystem.read(path, limit: 64) else { return nil }
            return Int(String(decoding: bytes, as: UTF8.self).trimmingWhitespace)
        }
        if let max = number("/proc/sys/user/max_user_namespaces"), max <= 0 { return false }
        if let clone = number("/proc/sys/kernel/unprivileged_userns_clone"), clone == 0 { return false }
        // Ubuntu 24.04: only programs whose AppArmor profile says `userns,` may make them.
        if let restricted = number("/proc/sys/kernel/apparmor_restrict_unprivileged_userns"), restricted != 0 {
            let label = String(decoding: FileSystem.read("/proc/self/attr/current", limit: 256) ?? [], as: UTF8.self)
            return label.hasPrefix("brig")
        }
        return true
    }

    /// Whether `feature` (a `require:` word) is available.
}
