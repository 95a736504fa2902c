import BrigSystem
internal import CBrigShim
internal import CSeccomp

#if canImport(Glibc)
@preconcurrency import Glibc
#endif

/// A seccomp filter compiled by libseccomp in the parent, as BPF bytes the child loads.
///
/// Native architecture only: any other (i386 through `int 0x80`, x32) kills the process.
/// The conditional rules that a syscall list cannot say are always added: `clone` with namespace
/// flags, socket families other than AF_UNIX/AF_INET/AF_INET6 (and AF_INET/AF_INET6 too under
/// `network: none`), `ioctl` TIOCSTI/TIOCLINUX (low 32 bits), `personality` other than the
/// default. `clone3` answers ENOSYS so that libc falls back to `clone`, whose flags can be seen.
public struct SeccompProgram: Sendable {
    public enum Mode: Sendable, Equatable {
        /// Everything is allowed but `deny`, less the exceptions `allow` names (the `default` profile).
        case denyList
        /// Nothing is allowed but `allow` (the `strict` profile).
        case allowList
    }

    public struct Settings: Sendable {
        public var mode: Mode = .denyList
        public var deny: [String] = []
        public var allow: [String] = []
        /// Kill the process on a denied call instead of failing it with EPERM.
        public var killOnDeny = false
        /// Route denied calls to brig's listener, which reports and answers EPERM.
        public var report = true
        /// Also refuse AF_INET and AF_INET6 sockets (`network: none`).
        public var denyInternet = false
        /// Send the gated calls to brig's listener (`SyscallGate`): connect, sendto with an
        /// address (arg 4 non-NULL), sendmsg, sendmmsg, memfd_create. Needs seccomp user notification.
        public var gate = false
        /// Refuse execveat with AT_EMPTY_PATH (exec of a descriptor: the fileless-exec entry).
        public var refuseDescriptorExec = false
        /// Without the gate: refuse memfd_create with MFD_EXEC in the filter instead.
        public var refuseExecutableMemfd = false
        public init() {}
    }

    /// The main program (loaded last, may carry the listener).
    public var main: [UInt8]
    /// A second, default-allow program with the conditional denials, used in allow-list mode
    /// (libseccomp cannot mix an unconditional allow and a conditional deny on one syscall).
    public var hardening: [UInt8]
    /// The syscall names the program refuses or allows, resolved (for `brig check`).
    public var names: [String]
    /// The calls sent to the listener for `SyscallGate` (not the denied ones it reports).
    public var gated: [String] = []

    static let cloneNamespaceFlags: [UInt64] = [
        0x0002_0000, 0x0200_0000, 0x0400_0000, 0x0800_0000, 0x1000_0000,
        0x2000_0000, 0x4000_0000, 0x0000_0080,
    ]  // NEWNS UTS IPC USER PID NET CGROUP TIME
    static let tiocsti: UInt64 = 0x5412
    static let tioclinux: UInt64 = 0x541C

    public static func compile(_ s: Settings) throws(SandboxError) -> SeccompProgram {
        let denied: UInt32 = s.killOnDeny ? brig_scmp_act_kill_process() : (s.report ? brig_scmp_act_notify() : brig_scmp_act_errno(UInt16(EPERM)))
        let allowAct = brig_scmp_act_allow()
        let conditional: Set<String> = ["socket", "clone", "ioctl", "personality", "clone3"]
        switch s.mode {
        case .denyList:
            // `allow` names the exceptions: a profile that extends `default` (whose deny list it
            // cannot shorten, lists append) allows `ptrace` with `allow: [ptrace]`.
            let exempt = Set(try SyscallGroups.expand(s.allow))
            let names = try SyscallGroups.expand(s.deny).filter { !exempt.contains($0) }
            let ctx = try Context(defaultAction: allowAct)
            // A conditional call the list names outright (`deny: [socket]`) is refused for every
            // argument; only clone3 keeps its ENOSYS (libc falls back to clone on it alone).
            for name in names where name != "clone3" { try ctx.add(denied, name) }
            try addConditionalDenials(ctx, denied: denied, denyInternet: s.denyInternet)
            let gated = s.gate ? try addGate(ctx, skipping: Set(names), plainSendto: nil) : []
            try addExecHardening(ctx, s, skipping: Set(names))
            return SeccompProgram(main: try ctx.export(), hardening: [], names: names, gated: gated)
        case .allowList:
            let names = try SyscallGroups.expand(s.allow)
            let ctx = try Context(defaultAction: denied)
            let gated: Set<String> = s.gate ? Set(SyscallGate.gatedNames) : []
            for name in names where !conditional.contains(name) && !gated.contains(name) { try ctx.add(allowAct, name) }
            let gatedNames = s.gate ? try addGate(ctx, skipping: Set(SyscallGate.gatedNames).subtracting(names), plainSendto: allowAct) : []
            try ctx.add(brig_scmp_act_errno(UInt16(ENOSYS)), "clone3")
            if names.contains("socket") {
                for family: UInt64 in s.denyInternet ? [1] : [1, 2, 10] {
                    try ctx.add(allowAct, "socket", [brig_scmp_arg(0, SCMP_CMP_EQ, family, 0)])
                }
            }
            if names.contains("clone") {
                let mask = cloneNamespaceFlags.reduce(0, |)
                try ctx.add(allowAct, "clone", [brig_scmp_arg(0, SCMP_CMP_MASKED_EQ, mask, 0)])
            }
            if names.contains("personality") {
                try ctx.add(allowAct, "personality", [brig_scmp_arg(0, SCMP_CMP_EQ, 0, 0)])
                try ctx.add(allowAct, "personality", [brig_scmp_arg(0, SCMP_CMP_EQ, 0xFFFF_FFFF, 0)])
            }
            if names.contains("ioctl") { try ctx.add(allowAct, "ioctl") }
            // ioctl's dangerous requests go to the second program.
            let hard = try Context(defaultAction: allowAct)
            for request in [tiocsti, tioclinux] {
                try hard.add(brig_scmp_act_errno(UInt16(EPERM)), "ioctl", [brig_scmp_arg(1, SCMP_CMP_MASKED_EQ, 0xFFFF_FFFF, request)])
            }
            try addExecHardening(hard, s, skipping: [])
            return SeccompProgram(main: try ctx.export(), hardening: try hard.export(), names: names, gated: gatedNames)
        }
    }

    /// Watch mode (learning): everything runs; the calls in `names` are sent to brig's listener,
    /// which records them and lets them continue. Other architectures are still killed.
    public static func watch(_ names: [String]) throws(SandboxError) -> SeccompProgram {
        let expanded = try SyscallGroups.expand(names)
        let ctx = try Context(defaultAction: brig_scmp_act_allow())
        for name in expanded where number(of: name).map({ $0 >= 0 }) ?? false { try ctx.add(brig_scmp_act_notify(), name) }
        return SeccompProgram(main: try ctx.export(), hardening: [], names: expanded)
    }

    static let atEmptyPath: UInt64 = 0x1000

    /// The gate's notifications. Only these calls pay for a trip to brig; `sendto` only with an
    /// address (a plain send on a connected socket stays in the kernel). `plainSendto` is the
    /// action for sendto without an address where the default action is not allow.
    private static func addGate(_ ctx: Context, skipping: Set<String>, plainSendto: UInt32?) throws(SandboxError) -> [String] {
        let notify = brig_scmp_act_notify()
        let gated = SyscallGate.gatedNames.filter { !skipping.contains($0) }
        for name in gated where name != "sendto" { try ctx.add(notify, name) }
        guard gated.contains("sendto") else { return gated }
        try ctx.add(notify, "sendto", [brig_scmp_arg(4, SCMP_CMP_NE, 0, 0)])
        if let plainSendto { try ctx.add(plainSendto, "sendto", [brig_scmp_arg(4, SCMP_CMP_EQ, 0, 0)]) }
        return gated
    }

    /// execveat(fd, "", AT_EMPTY_PATH) refused; memfd_create(MFD_EXEC) too when there is no gate
    /// to rewrite memfds. Added to a default-allow program (`skipping`: calls it already denies).
    private static func addExecHardening(_ ctx: Context, _ s: Settings, skipping: Set<String>) throws(SandboxError) {
        let eperm = brig_scmp_act_errno(UInt16(EPERM))
        if s.refuseDescriptorExec, !skipping.contains("execveat") {
            try ctx.add(eperm, "execveat", [brig_scmp_arg(4, SCMP_CMP_MASKED_EQ, atEmptyPath, atEmptyPath)])
        }
        if s.refuseExecutableMemfd, !s.gate, !skipping.contains("memfd_create") {
            try ctx.add(eperm, "memfd_create", [brig_scmp_arg(1, SCMP_CMP_MASKED_EQ, UInt64(MemfdFlags.exec), UInt64(MemfdFlags.exec))])
        }
    }

    private static func addConditionalDenials(_ ctx: Context, denied: UInt32, denyInternet: Bool) throws(SandboxError) {
        try ctx.add(brig_scmp_act_errno(UInt16(ENOSYS)), "clone3")
        for flag in cloneNamespaceFlags {
            try ctx.add(denied, "clone", [brig_scmp_arg(0, SCMP_CMP_MASKED_EQ, flag, flag)])
        }
        // Families: AF_UNSPEC(0), 3...9, and everything above AF_INET6(10); AF_INET/AF_INET6 when offline.
        var families: [UInt64] = [0, 3, 4, 5, 6, 7, 8, 9]
        if denyInternet { families += [2, 10] }
        for family in families {
            try ctx.add(denied, "socket", [brig_scmp_arg(0, SCMP_CMP_EQ, family, 0)])
        }
        try ctx.add(denied, "socket", [brig_scmp_arg(0, SCMP_CMP_GT, 10, 0)])
        for request in [tiocsti, tioclinux] {
            try ctx.add(denied, "ioctl", [brig_scmp_arg(1, SCMP_CMP_MASKED_EQ, 0xFFFF_FFFF, request)])
        }
        try ctx.add(denied, "personality", [brig_scmp_arg(0, SCMP_CMP_NE, 0, 0)])
    }

    /// The name of syscall `number` on the native architecture.
    public static func name(of number: Int32) -> String {
        guard let p = seccomp_syscall_resolve_num_arch(UInt32(SCMP_ARCH_NATIVE), number) else { return "syscall#\(number)" }
        defer { free(p) }
        return String(cString: p)
    }

    /// The number of syscall `name` on the native architecture, or nil.
    public static func number(of name: String) -> Int32? {
        let n = seccomp_syscall_resolve_name(name)
        return n == __NR_SCMP_ERROR ? nil : n
    }

    /// Owns a libseccomp context.
    private final class Context {
        let ctx: scmp_filter_ctx
        let defaultAction: UInt32

        init(defaultAction: UInt32) throws(SandboxError) {
            guard let c = seccomp_init(defaultAction) else { throw SandboxError("seccomp_init failed") }
            ctx = c
            self.defaultAction = defaultAction
            // Anything that is not the native architecture (i386 int 0x80, x32) is killed.
            _ = seccomp_attr_set(ctx, SCMP_FLTATR_ACT_BADARCH, brig_scmp_act_kill_process())
            // A binary search over syscall numbers instead of a linear chain: every allowed call
            // pays for the filter, so its depth is what a syscall-heavy server feels.
            _ = seccomp_attr_set(ctx, SCMP_FLTATR_CTL_OPTIMIZE, 2)
        }

        deinit { seccomp_release(ctx) }

        func add(_ action: UInt32, _ name: String, _ args: [scmp_arg_cmp] = []) throws(SandboxError) {
            let nr = seccomp_syscall_resolve_name(name)
            guard nr != __NR_SCMP_ERROR else { throw SandboxError("unknown system call '\(name)'") }
            // A rule with the default action says nothing (and libseccomp refuses it): e.g. the
            // gate's notify when denied calls are notified too.
            guard action != defaultAction else { return }
            let rc = args.withUnsafeBufferPointer { seccomp_rule_add_array(ctx, action, nr, UInt32($0.count), $0.baseAddress) }
            // -EEXIST: the same rule twice; -EACCES/-EINVAL for a pseudo-syscall this arch lacks.
            if rc != 0 && rc != -EEXIST && nr >= 0 {
                throw SandboxError("seccomp rule for '\(name)' failed: \(SystemError.text(-rc))")
            }
        }

        func export() throws(SandboxError) -> [UInt8] {
            let fd = brig_memfd()
            guard fd >= 0 else { throw SandboxError("memfd_create failed: \(SystemError.text())") }
            defer { close(fd) }
            let rc = seccomp_export_bpf(ctx, fd)
            guard rc == 0 else { throw SandboxError("seccomp_export_bpf failed: \(SystemError.text(-rc))") }
            let size = Int(lseek(fd, 0, SEEK_END))
            var bytes = [UInt8](repeating: 0, count: size)
            let n = bytes.withUnsafeMutableBytes { pread(fd, $0.baseAddress, size, 0) }
            guard n == size else { throw SandboxError("reading the compiled seccomp program failed") }
            return bytes
        }
    }
}
