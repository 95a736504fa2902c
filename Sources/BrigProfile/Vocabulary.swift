/// The words a profile is written in, parsed once here into types: everything after the parse
/// (the sandbox plan, the content defenses, `brig check`) works on these, never on the strings.
/// Each raw value is the profile's spelling (and what `brig check` and the audit trail print).

/// A Linux capability a profile may keep (`sandbox.capabilities`), named without `cap_`.
/// Declared in the kernel's order: `number` is the capability's number (linux/capability.h).
public enum Capability: String, CaseIterable, Sendable, Comparable {
    case chown, dacOverride = "dac_override", dacReadSearch = "dac_read_search", fowner, fsetid, kill, setgid, setuid
    case setpcap, linuxImmutable = "linux_immutable", netBindService = "net_bind_service", netBroadcast = "net_broadcast"
    case netAdmin = "net_admin", netRaw = "net_raw", ipcLock = "ipc_lock", ipcOwner = "ipc_owner", sysModule = "sys_module"
    case sysRawio = "sys_rawio", sysChroot = "sys_chroot", sysPtrace = "sys_ptrace", sysPacct = "sys_pacct"
    case sysAdmin = "sys_admin", sysBoot = "sys_boot", sysNice = "sys_nice", sysResource = "sys_resource"
    case sysTime = "sys_time", sysTtyConfig = "sys_tty_config", mknod, lease, auditWrite = "audit_write"
    case auditControl = "audit_control", setfcap, macOverride = "mac_override", macAdmin = "mac_admin", syslog
    case wakeAlarm = "wake_alarm", blockSuspend = "block_suspend", auditRead = "audit_read", perfmon, bpf
    case checkpointRestore = "checkpoint_restore"

    /// The kernel's number (CAP_CHOWN is 0, CAP_CHECKPOINT_RESTORE 40).
    public var number: Int { Capability.numbers[self]! }

    private static let numbers: [Capability: Int] = Dictionary(uniqueKeysWithValues: allCases.enumerated().map { ($1, $0) })

    public static func < (a: Capability, b: Capability) -> Bool { a.number < b.number }

    /// A profile's spelling: any case, with or without `cap_`.
    public init?(profileWord: String) {
        var word = profileWord.lowercased()
        if word.hasPrefix("cap_") { word.removeFirst(4) }
        self.init(rawValue: word)
    }
}

/// A resource limit (`sandbox.rlimits`), by the profile's key.
public enum ResourceLimit: String, CaseIterable, Sendable, Comparable {
    case nofile, nproc, addressSpace = "as", fsize, core, cpu, stack, memlock, data

    public static func < (a: ResourceLimit, b: ResourceLimit) -> Bool { a.rawValue < b.rawValue }
}

/// An extra namespace the server gets (`sandbox.namespaces`).
public enum Namespace: String, CaseIterable, Sendable {
    case pid, ipc, uts, net
}

/// A kernel or process feature a profile requires (`sandbox.require`): missing, brig refuses to
/// start the server (exit 125), never runs it with less.
public enum KernelRequirement: String, CaseIterable, Sendable {
    case seccomp, seccompNotify = "seccomp_notify", landlock, landlockNet = "landlock_net", landlockScope = "landlock_scope"
    case noNewPrivs = "no_new_privs", namespaces
}

/// Who the server runs as (`sandbox.user`), as written: resolved against the password database
/// only when brig runs as root and is about to switch.
public enum UserSpec: Sendable, Equatable, CustomStringConvertible {
    /// brig's default: as root, an unprivileged user when the profile needs one.
    case auto
    /// The user brig runs as.
    case keep
    /// A user name (looked up with getpwnam), with an optional numeric group.
    case name(String, group: UInt32?)
    /// Numeric ids.
    case ids(uid: UInt32, gid: UInt32)

    /// `auto`, `keep`, `NAME`, `NAME:GID`, `UID` (its group the same number) or `UID:GID`.
    public init?(_ text: String) {
        if text == "auto" { self = .auto; return }
        if text == "keep" { self = .keep; return }
        let parts = text.split(separator: ":", omittingEmptySubsequences: false)
        guard parts.count <= 2 else { return nil }
        func number(_ t: Substring) -> UInt32? { t.count <= 10 && t.allSatisfy { $0.isASCII && $0.isNumber } ? UInt32(t) : nil }
        var group: UInt32?
        if parts.count == 2 {
            guard let g = number(parts[1]) else { return nil }
            group = g
        }
        if let uid = number(parts[0]) {
            self = .ids(uid: uid, gid: group ?? uid)
            return
        }
        guard UserSpec.isUserName(parts[0]) else { return nil }
        self = .name(String(parts[0]), group: group)
    }

    /// A POSIX-ish user name: `[a-z_][a-z0-9_-]*[$]?`, at most 32 bytes.
    static func isUserName(_ s: Substring) -> Bool {
        guard let f = s.unicodeScalars.first, ("a"..."z").contains(f) || f == "_" else { return false }
        var body = s
        if body.hasSuffix("$") { body = body.dropLast() }
        return body.count <= 32 && body.unicodeScalars.allSatisfy { ("a"..."z").contains($0) || ("0"..."9").contains($0) || $0 == "_" || $0 == "-" }
    }

    public var description: String {
        switch self {
        case .auto: return "auto"
        case .keep: return "keep"
        case .name(let n, let g): return g.map { "\(n):\($0)" } ?? n
        case .ids(let u, let g): return "\(u):\(g)"
        }
    }
}

/// `mcp.pins`: `block` removes a changed tool, prompt or resource (and changed instructions)
/// until accepted; `warn` reports and forwards.
public enum PinMode: String, Sendable, CaseIterable { case block, warn, off }
/// `mcp.poisoning`: what to do with a definition that reads like instructions to the model.
public enum PoisoningMode: String, Sendable, CaseIterable { case block, warn, off }
/// `mcp.leaks`: what to do with a result that carries a secret.
public enum LeakMode: String, Sendable, CaseIterable { case redact, block, off }
