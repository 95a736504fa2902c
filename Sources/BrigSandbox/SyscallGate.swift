import BrigSystem
internal import CBrigShim

#if canImport(Glibc)
@preconcurrency import Glibc
#endif

/// Performs the gated calls (connect, sendto with an address, sendmsg, sendmmsg, memfd_create) on the
/// child's behalf and answers their seccomp notifications with the result.
///
/// A gated call is never let through with SECCOMP_USER_NOTIF_FLAG_CONTINUE: the kernel would
/// re-read the address from the child's memory, which another thread of the child can rewrite
/// after brig checked it. brig instead copies the arguments out once (`process_vm_readv`),
/// decides on its copy, takes the child's socket (`pidfd_getfd`: the same open file description,
/// so O_NONBLOCK and EINPROGRESS carry over), makes the call itself and answers with its result.
public struct SyscallGate: Sendable {
    /// What the gate allows, from the profile.
    public struct Rules: Sendable, Equatable {
        /// Canonical absolute paths: a named UNIX socket is reachable at or below one of them.
        public var unixGrants: [String]
        /// TCP ports the child may connect to (`network: [ports]`), nil when any: the child's
        /// Landlock port rule does not bind brig, so the gate applies it.
        public var tcpConnectPorts: [UInt16]?
        /// With an allow-list of hosts (`network.allow`): the port of brig's egress proxy on
        /// 127.0.0.1, the one internet address the child may reach; every other AF_INET and
        /// AF_INET6 address (TCP or UDP, connect or send) is refused. nil: no such rule.
        public var egressProxyPort: UInt16?
        /// The child's uid and gid when brig (root) runs it as another user: the gate's thread
        /// takes them as its filesystem ids, so path and socket permissions are the child's.
        public var childUID: UInt32?
        public var childGID: UInt32?
        /// The calls the seccomp program sends to the gate (`SeccompProgram.gated`); a gated name
        /// the profile denies is reported and refused as usual.
        public var calls: [String] = SyscallGate.gatedNames

        public init(unixGrants: [String] = [], tcpConnectPorts: [UInt16]? = nil, childUID: UInt32? = nil, childGID: UInt32? = nil) {
            self.unixGrants = unixGrants
            self.tcpConnectPorts = tcpConnectPorts
            self.childUID = childUID
            self.childGID = childGID
        }
    }

    /// A call the gate refused (for the report and the audit trail).
    public struct Refusal: Sendable, Equatable {
        public var syscall: String
        /// What was refused, e.g. `connect to unix socket /run/docker.sock`.
        public var what: String
        /// Why, e.g. `not under sandbox.filesystem.unix`.
        public var reason: String
        public var path: String?
        public var errno: Int32
        /// The TCP port a connect was refused for (under a port list); nil otherwise.
        public var port: UInt16?
        /// Refused because egress goes through brig's proxy (an allow-list of hosts): no profile
        /// line lets a direct connection out.
        public var bypassesProxy: Bool

        public init(syscall: String, what: String, reason: String, path: String?, errno: Int32, port: UInt16? = nil, bypassesProxy: Bool = false) {
            self.syscall = syscall
            self.what = what
            self.reason = reason
            self.path = path
            self.errno = errno
            self.port = port
            self.bypassesProxy = bypassesProxy
        }
    }

    public let rules: Rules
    let numbers: Set<Int32>
    public init(rules: Rules) {
        self.rules = rules
        numbers = Set(rules.calls.compactMap(SeccompProgram.number(of:)))
    }

    /// `1.2.3.4:443` or `[::1]:53` from a sockaddr's bytes (BrigSystem's `IPAddress` reads them).
    static func describe(inetAddress a: [UInt8]) -> String {
        var storage = sockaddr_storage()
        let copied = min(a.count, MemoryLayout<sockaddr_storage>.size)
        withUnsafeMutableBytes(of: &storage) { $0.copyBytes(from: a.prefix(copied)) }
        guard let (address, port) = withUnsafeBytes(of: &storage, { IPAddress.from(socketAddress: $0.baseAddress!) }) else { return "?" }
        return "\(address.bracketed):\(port)"
    }

    /// The calls the gate handles (the seccomp program notifies exactly these).
    public static let gatedNames = ["connect", "sendto", "sendmsg", "sendmmsg", "memfd_create"]
    static let connectNR = SeccompProgram.number(of: "connect") ?? -1
    static let sendtoNR = SeccompProgram.number(of: "sendto") ?? -1
    static let sendmsgNR = SeccompProgram.number(of: "sendmsg") ?? -1
    static let sendmmsgNR = SeccompProgram.number(of: "sendmmsg") ?? -1
    static let memfdNR = SeccompProgram.number(of: "memfd_create") ?? -1

    /// Whether the seccomp program sends call `nr` to the gate.
    public func isGated(_ nr: Int32) -> Bool { numbers.contains(nr) }

    /// Bounds on what brig copies out of the child.
    static let maxData = 4 << 20
    static let maxIovecs = 1024
    static let maxControl = 64 << 10
    static let maxSockaddr = 128

    /// Handles one gated notification, answering it; returns a refusal to report, if any.
    /// Performs or refuses one gated call; `report` sees each refusal before the caller is answered.
    public func handle(listener: Int32, note: brig_notification_swift, report: @escaping (Refusal) -> Void) {
        if let uid = rules.childUID, let gid = rules.childGID, geteuid() == 0 {
            _ = brig_clear_thread_groups()
            _ = brig_set_thread_fsids(uid, gid)
        }
        defer { if rules.childUID != nil, geteuid() == 0 { _ = brig_set_thread_fsids(0, 0) } }
        var call = GatedCall(listener: listener, note: note, rules: rules, report: report)
        defer { call.release() }
        switch call.run() {
        case .answered(let refusal):
            if let refusal { report(refusal) }
        case .failed(let code):
            call.answer(error: code)
        }
    }
}

/// One notification in progress: the descriptors brig holds for it.
struct GatedCall {
    enum Outcome { case answered(SyscallGate.Refusal?), failed(Int32) }

    let listener: Int32
    let note: brig_notification_swift
    let rules: SyscallGate.Rules
    /// Called with a refusal before it is answered.
    let report: (SyscallGate.Refusal) -> Void
    let tid: Int32
    var pidfd: Int32 = -1
    var socket: Int32 = -1
    var extraFDs: [Int32] = []

    init(
        listener: Int32, note: brig_notification_swift, rules: SyscallGate.Rules,
        report: @escaping (SyscallGate.Refusal) -> Void = { _ in }
    ) {
        self.report = report
        self.listener = listener
        self.note = note
        self.rules = rules
        self.tid = Int32(bitPattern: note.pid)
    }

    mutating func release() {
        for fd in [pidfd, socket] + extraFDs where fd >= 0 { close(fd) }
    }

    func answer(value: Int64) { _ = brig_seccomp_respond_value(listener, note.id, value, 0) }
    func answer(error: Int32) { _ = brig_seccomp_respond_value(listener, note.id, 0, error) }

    /// Reports a refusal, then answers: reported first, so that a server which exits as soon as
    /// its call fails cannot end the session (and close the trail) before the record is made.
    func refuse(_ refusal: SyscallGate.Refusal?, _ code: Int32) -> Outcome {
        if let refusal { report(refusal) }
        answer(error: code)
        return .answered(nil)
    }

    var arg: [UInt64] { note.args }

    mutating func run() -> Outcome {
        pidfd = brig_pidfd_open_thread(tid)
        guard pidfd >= 0 else { return .failed(-pidfd) }
        if note.nr == SyscallGate.memfdNR { return memfdCreate() }
        socket = brig_pidfd_getfd(pidfd, Int32(truncatingIfNeeded: arg[0]))
        guard socket >= 0 else { return .failed(-socket) }
        switch note.nr {
        case SyscallGate.connectNR, SyscallGate.sendtoNR: return connectOrSendto()
        case SyscallGate.sendmmsgNR: return sendMessages()
        default:  // sendmsg
            switch sendOne(arg[1], flags: Int32(truncatingIfNeeded: arg[2])) {
            case .sent(let n): answer(value: Int64(n))
            case .failed(let code, let refusal):
                return refuse(refusal, code)
            case .gone: break
            }
            return .answered(nil)
        }
    }

    /// connect(fd, addr, len) and sendto(fd, buf, len, flags, addr, alen).
    mutating func connectOrSendto() -> Outcome {
        let isConnect = note.nr == SyscallGate.connectNR
        var data: [UInt8] = []
        let address: [UInt8]?
        switch isConnect ? readAddress(arg[1], arg[2]) : readAddress(arg[4], arg[5]) {
        case .success(let a): address = a
        case .failure(let e): return .failed(e.code)
        }
        guard let address else { return .failed(EFAULT) }
        // sendto with a zero-length address is a plain send, as in the kernel.
        if !isConnect, address.isEmpty { return sendPlain() }
        guard !address.isEmpty else { return .failed(EINVAL) }
        if !isConnect {
            switch readData([(arg[1], arg[2])]) {
            case .success(let d): data = d
            case .failure(let e): return .failed(e.code)
            }
        }
        // The memory read was the caller's only if the caller is still waiting (pid reuse).
        guard brig_seccomp_notify_id_valid(listener, note.id) == 0 else { return .answered(nil) }
        let target: [UInt8]
        switch self.target(for: address) {
        case .success(let t): target = t
        case .failure(let refused):
            return refuse(refused.refusal, refused.code)
        }
        if isConnect {
            let rc = target.withUnsafeBytes { Glibc.connect(socket, $0.baseAddress!.assumingMemoryBound(to: sockaddr.self), socklen_t(target.count)) }
            if rc < 0 { answer(error: errno) } else { answer(value: 0) }
            return .answered(nil)
        }
        let flags = Int32(truncatingIfNeeded: arg[3])
        let result = data.withUnsafeBytes { d in
            target.withUnsafeBytes { a in
                Glibc.sendto(socket, d.baseAddress, d.count, flags | Int32(MSG_NOSIGNAL), a.baseAddress!.assumingMemoryBound(to: sockaddr.self), socklen_t(a.count))
            }
        }
        return finish(result, errno, flags: flags)
    }

    /// sendto(fd, buf, len, flags, addr, 0): the connected peer, no address to judge.
    mutating func sendPlain() -> Outcome {
        let data: [UInt8]
        switch readData([(arg[1], arg[2])]) {
        case .success(let d): data = d
        case .failure(let e): return .failed(e.code)
        }
        guard brig_seccomp_notify_id_valid(listener, note.id) == 0 else { return .answered(nil) }
        let flags = Int32(truncatingIfNeeded: arg[3])
        let result = data.withUnsafeBytes { Glibc.send(socket, $0.baseAddress, $0.count, flags | Int32(MSG_NOSIGNAL)) }
        return finish(result, errno, flags: flags)
    }

    /// sendmmsg(fd, vec, vlen, flags): each message as a sendmsg, its count written back to the
    /// child's `msg_len`; the number sent, or the first message's error.
    mutating func sendMessages() -> Outcome {
        let vector = arg[1], count = min(arg[2], UInt64(SyscallGate.maxIovecs))
        let flags = Int32(truncatingIfNeeded: arg[3])
        var sent: Int64 = 0
        for i in 0..<count {
            let entry = vector &+ i &* 64  // struct mmsghdr: a msghdr (56 bytes), msg_len, padding
            switch sendOne(entry, flags: flags) {
            case .sent(let n):
                var length = UInt32(truncatingIfNeeded: n).littleEndian
                _ = brig_write_process_memory(tid, entry &+ 56, &length, 4)
                sent += 1
            case .failed(let code, let refusal):
                guard sent == 0 else { break }
                return refuse(refusal, code)
            case .gone:
                return .answered(nil)
            }
            if sent != Int64(i) + 1 { break }
        }
        answer(value: sent)
        return .answered(nil)
    }

    enum Sent { case sent(Int), failed(Int32, SyscallGate.Refusal?), gone }

    /// One `struct msghdr` at `message` sent on brig's copy of it.
    mutating func sendOne(_ message: UInt64, flags: Int32) -> Sent {
        var (address, data, control): ([UInt8]?, [UInt8], [UInt8])
        switch readMessage(message) {
        case .success(let m): (address, data, control) = m
        case .failure(let e): return .failed(e.code, nil)
        }
        guard brig_seccomp_notify_id_valid(listener, note.id) == 0 else { return .gone }
        if let a = address {
            switch target(for: a) {
            case .success(let t): address = t
            case .failure(let refused): return .failed(refused.code, refused.refusal)
            }
        }
        switch translateRights(&control) {
        case .failure(let e): return .failed(e.code, nil)
        case .success(let refusal):
            if let refusal { return .failed(refusal.errno, refusal) }
        }
        let result = sendMessage(address: address, data: data, control: control, flags: flags | Int32(MSG_NOSIGNAL))
        guard result >= 0 else {
            let e = errno
            if e == EPIPE, flags & Int32(MSG_NOSIGNAL) == 0 { _ = brig_pidfd_send_signal(pidfd, SIGPIPE) }
            return .failed(e, nil)
        }
        return .sent(result)
    }

    /// The address brig uses for `address`: itself, or `/proc/self/fd/N` of the granted socket.
    mutating func target(for address: [UInt8]) -> Result<[UInt8], RefusalError> {
        switch decide(address) {
        case .failure(let refused): return .failure(refused)
        case .success(nil): return .success(address)
        case .success(let resolved?):
            extraFDs.append(resolved)
            return .success(UnixSocketGate.procSelfAddress(resolved))
        }
    }

    /// Answers a send: its count, or its errno; EPIPE also raises the SIGPIPE the child's own call
    /// would have (brig always sends with MSG_NOSIGNAL, so that brig is not the one signalled).
    func finish(_ result: Int, _ e: Int32, flags: Int32) -> Outcome {
        if result >= 0 {
            answer(value: Int64(result))
        } else {
            if e == EPIPE, flags & Int32(MSG_NOSIGNAL) == 0 { _ = brig_pidfd_send_signal(pidfd, SIGPIPE) }
            answer(error: e)
        }
        return .answered(nil)
    }

    /// The decision on an address: nil to use it as given, an O_PATH fd of the granted socket
    /// to connect through instead, or a refusal.
    func decide(_ address: [UInt8]) -> Result<Int32?, RefusalError> {
        guard address.count >= 2 else { return .success(nil) }
        let family = Int32(address[0]) | Int32(address[1]) << 8
        let name = SeccompProgram.name(of: note.nr)
        switch family {
        case AF_UNIX:
            if let path = UnixSocketGate.pathname(inSockaddr: address) {
                return unixPath(path, syscall: name)
            }
            if address.count > 2 {
                // An abstract name: Landlock scopes those for the child but not for brig, and
                // brig cannot tell whose the listener is. Refused like Landlock refuses them.
                let abstract = String(decoding: address[3...].prefix { $0 != 0 }, as: UTF8.self)
                return .failure(
                    RefusalError(
                        SyscallGate.Refusal(
                            syscall: name, what: "\(name) to abstract unix socket @\(abstract)",
                            reason: "abstract sockets are scoped to the sandbox", path: nil, errno: EPERM)))
            }
            return .success(nil)
        case AF_INET, AF_INET6:
            if let proxy = rules.egressProxyPort { return egress(address, family: family, proxy: proxy, syscall: name) }
            guard let ports = rules.tcpConnectPorts, isTCP(), address.count >= 4 else { return .success(nil) }
            let port = UInt16(address[2]) << 8 | UInt16(address[3])
            guard ports.contains(port) else {
                return .failure(
                    RefusalError(
                        SyscallGate.Refusal(
                            syscall: name, what: "\(name) to TCP port \(port)",
                            reason: "not in sandbox.network", path: nil, errno: EACCES, port: port)))
            }
            return .success(nil)
        default:
            return .success(nil)
        }
    }

    /// Under an allow-list of hosts, the child's one way out is brig's proxy: a TCP connect to
    /// 127.0.0.1:`proxy`. Anything else (another address or port, UDP such as DNS, IPv6) is
    /// refused with EACCES, and reported like a blocked call.
    func egress(_ address: [UInt8], family: Int32, proxy: UInt16, syscall name: String) -> Result<Int32?, RefusalError> {
        let port = address.count >= 4 ? UInt16(address[2]) << 8 | UInt16(address[3]) : 0
        let tcp = isTCP()
        if family == AF_INET, address.count >= 8, tcp, port == proxy, address[4...7].elementsEqual([127, 0, 0, 1]) {
            return .success(nil)
        }
        let shown = SyscallGate.describe(inetAddress: address)
        return .failure(
            RefusalError(
                SyscallGate.Refusal(
                    syscall: name, what: "\(name) to \(tcp ? "TCP" : "UDP") \(shown)",
                    reason: "egress goes through brig's proxy at 127.0.0.1:\(proxy) (sandbox.network.allow)", path: nil, errno: EACCES,
                    bypassesProxy: true)))
    }

    func unixPath(_ path: [UInt8], syscall name: String) -> Result<Int32?, RefusalError> {
        let root = open("/proc/\(tid)/root", UnixSocketGate.openPath | O_DIRECTORY | O_CLOEXEC)
        guard root >= 0 else { return .failure(RefusalError(errno: errno)) }
        defer { close(root) }
        var cwd: [UInt8] = []
        if path.first != UInt8(ascii: "/") {
            var buf = [UInt8](repeating: 0, count: Int(PATH_MAX))
            let n = buf.withUnsafeMutableBufferPointer { readlink("/proc/\(tid)/cwd", UnsafeMutableRawPointer($0.baseAddress!).assumingMemoryBound(to: CChar.self), $0.count) }
            guard n > 0 else { return .failure(RefusalError(errno: errno)) }
            cwd = Array(buf[0..<n])
        }
        func refused(_ shown: String) -> RefusalError {
            RefusalError(
                SyscallGate.Refusal(
                    syscall: name, what: "\(name) to unix socket \(shown)",
                    reason: "not under sandbox.filesystem.unix", path: shown, errno: EACCES))
        }
        switch UnixSocketGate.resolve(path, root: root, cwd: cwd) {
        case .success(let r):
            guard UnixSocketGate.isGranted(r.canonical, grants: rules.unixGrants) else {
                close(r.fd)
                return .failure(refused(r.canonical))
            }
            return .success(r.fd)
        case .failure(let e):
            let shown = UnixSocketGate.lexical(path, cwd: cwd)
            // Outside the grants, whether the path exists is not the child's business.
            guard UnixSocketGate.isGranted(shown, grants: rules.unixGrants) else { return .failure(refused(shown)) }
            return .failure(RefusalError(errno: e.code))
        }
    }

    func isTCP() -> Bool {
        var value: Int32 = 0
        var len = socklen_t(MemoryLayout<Int32>.size)
        guard getsockopt(socket, SOL_SOCKET, SO_PROTOCOL, &value, &len) == 0 else { return true }
        return value == Int32(IPPROTO_TCP)
    }

    // MARK: reading the child's memory

    func read(_ address: UInt64, _ count: Int) -> Result<[UInt8], SocketGateErrno> {
        guard count > 0 else { return .success([]) }
        var buf = [UInt8](repeating: 0, count: count)
        let n = buf.withUnsafeMutableBytes { Memory.read(pid: tid, address: address, into: $0) }
        if n < 0 { return .failure(SocketGateErrno(Int32(-n))) }
        guard n == count else { return .failure(SocketGateErrno(EFAULT)) }
        return .success(buf)
    }

    func readAddress(_ address: UInt64, _ length: UInt64) -> Result<[UInt8]?, SocketGateErrno> {
        guard address != 0 else { return .success(nil) }
        guard length <= UInt64(SyscallGate.maxSockaddr) else { return .failure(SocketGateErrno(EINVAL)) }
        return read(address, Int(length)).map { $0 }
    }

    /// The bytes of `pieces` (address, length), concatenated; beyond `maxData` a stream socket
    /// sends a prefix (a short count, as a stream send may return), anything else EMSGSIZE.
    func readData(_ pieces: [(UInt64, UInt64)]) -> Result<[UInt8], SocketGateErrno> {
        var out: [UInt8] = []
        var budget = SyscallGate.maxData
        let total = pieces.reduce(UInt64(0)) { $0 &+ $1.1 }
        if total > UInt64(budget) {
            var type: Int32 = 0
            var len = socklen_t(MemoryLayout<Int32>.size)
            guard getsockopt(socket, SOL_SOCKET, SO_TYPE, &type, &len) == 0, type == Int32(SOCK_STREAM.rawValue) else {
                return .failure(SocketGateErrno(EMSGSIZE))
            }
        }
        for (address, length) in pieces where budget > 0 {
            let n = Int(min(length, UInt64(budget)))
            switch read(address, n) {
            case .success(let bytes): out += bytes
            case .failure(let e): return .failure(e)
            }
            budget -= n
        }
        return .success(out)
    }

    /// A `struct msghdr` (x86_64/aarch64 layout): address, data and control.
    func readMessage(_ address: UInt64) -> Result<([UInt8]?, [UInt8], [UInt8]), SocketGateErrno> {
        let header: [UInt8]
        switch read(address, 56) {
        case .success(let h): header = h
        case .failure(let e): return .failure(e)
        }
        func word(_ offset: Int) -> UInt64 { littleEndian(header, offset, 8) }
        let name = word(0), nameLength = word(8) & 0xFFFF_FFFF, iov = word(16), iovCount = word(24)
        let controlAddress = word(32), controlLength = word(40)
        guard iovCount <= UInt64(SyscallGate.maxIovecs) else { return .failure(SocketGateErrno(EMSGSIZE)) }
        guard controlLength <= UInt64(SyscallGate.maxControl) else { return .failure(SocketGateErrno(ENOBUFS)) }
        var pieces: [(UInt64, UInt64)] = []
        if iovCount > 0 {
            switch read(iov, Int(iovCount) * 16) {
            case .success(let v):
                for i in 0..<Int(iovCount) {
                    pieces.append((littleEndian(v, i * 16, 8), littleEndian(v, i * 16 + 8, 8)))
                }
            case .failure(let e): return .failure(e)
            }
        }
        let addressBytes: [UInt8]?
        switch readAddress(name, nameLength) {
        case .success(let a): addressBytes = a
        case .failure(let e): return .failure(e)
        }
        let data: [UInt8]
        switch readData(pieces) {
        case .success(let d): data = d
        case .failure(let e): return .failure(e)
        }
        let control: [UInt8]
        switch controlAddress == 0 ? .success([]) : read(controlAddress, Int(controlLength)) {
        case .success(let c): control = c
        case .failure(let e): return .failure(e)
        }
        return .success((addressBytes, data, control))
    }

    /// Replaces the child's descriptor numbers in SCM_RIGHTS messages by brig's copies of them;
    /// SCM_CREDENTIALS is refused (the kernel would check the claimed ids against brig's
    /// credentials, and a root brig may claim any).
    mutating func translateRights(_ control: inout [UInt8]) -> Result<SyscallGate.Refusal?, SocketGateErrno> {
        var offset = 0
        while offset + 16 <= control.count {
            let length = Int(truncatingIfNeeded: littleEndian(control, offset, 8))
            guard length >= 16, offset + length <= control.count else { return .failure(SocketGateErrno(EINVAL)) }
            let level = Int32(truncatingIfNeeded: littleEndian(control, offset + 8, 4))
            let type = Int32(truncatingIfNeeded: littleEndian(control, offset + 12, 4))
            if level == SOL_SOCKET, type == 2 /* SCM_CREDENTIALS */ {
                return .success(
                    SyscallGate.Refusal(
                        syscall: "sendmsg", what: "sendmsg with SCM_CREDENTIALS",
                        reason: "brig sends on the child's behalf and will not vouch for its ids", path: nil, errno: EPERM))
            }
            if level == SOL_SOCKET, type == 1 /* SCM_RIGHTS */ {
                var at = offset + 16
                while at + 4 <= offset + length {
                    let childFD = Int32(truncatingIfNeeded: littleEndian(control, at, 4))
                    let mine = brig_pidfd_getfd(pidfd, childFD)
                    guard mine >= 0 else { return .failure(SocketGateErrno(-mine)) }
                    extraFDs.append(mine)
                    withUnsafeBytes(of: mine.littleEndian) { for (i, b) in $0.enumerated() { control[at + i] = b } }
                    at += 4
                }
            }
            offset += (length + 7) & ~7
        }
        return .success(nil)
    }

    func sendMessage(address: [UInt8]?, data: [UInt8], control: [UInt8], flags: Int32) -> Int {
        var data = data, control = control, address = address ?? []
        return data.withUnsafeMutableBytes { d in
            control.withUnsafeMutableBytes { c in
                address.withUnsafeMutableBytes { a in
                    var iov = iovec(iov_base: d.baseAddress, iov_len: d.count)
                    return withUnsafeMutablePointer(to: &iov) { iovPointer in
                        var msg = msghdr()
                        msg.msg_name = a.count > 0 ? a.baseAddress : nil
                        msg.msg_namelen = socklen_t(a.count)
                        msg.msg_iov = iovPointer
                        msg.msg_iovlen = 1
                        msg.msg_control = c.count > 0 ? c.baseAddress : nil
                        msg.msg_controllen = c.count
                        return Glibc.sendmsg(socket, &msg, flags)
                    }
                }
            }
        }
    }

    // MARK: memfd_create

    /// Creates the memfd in brig with the rewritten flags and installs it as the call's result.
    mutating func memfdCreate() -> Outcome {
        let flags = UInt32(truncatingIfNeeded: arg[1])
        var name: [UInt8] = []
        // The name is at most 249 bytes and its NUL; read up to page boundaries only.
        var address = arg[0]
        while name.count < 250 {
            let chunk = min(250 - name.count, 4096 - Int(address & 4095))
            switch read(address, chunk) {
            case .success(let bytes):
                if let nul = bytes.firstIndex(of: 0) {
                    name += bytes[..<nul]
                    return memfdCreate(name: name, flags: flags)
                }
                name += bytes
                address += UInt64(chunk)
            case .failure(let e): return .failed(e.code)
            }
        }
        return .failed(EINVAL)
    }

    mutating func memfdCreate(name: [UInt8], flags: UInt32) -> Outcome {
        guard brig_seccomp_notify_id_valid(listener, note.id) == 0 else { return .answered(nil) }
        guard let rewritten = MemfdFlags.rewrite(flags) else {
            return refuse(
                SyscallGate.Refusal(
                    syscall: "memfd_create", what: "memfd_create with MFD_EXEC",
                    reason: "executable memfds allow fileless exec", path: nil, errno: EPERM), EPERM)
        }
        let fd = (name + [0]).withUnsafeBufferPointer { brig_memfd_create(UnsafeRawPointer($0.baseAddress!).assumingMemoryBound(to: CChar.self), rewritten) }
        guard fd >= 0 else { return .failed(-fd) }
        extraFDs.append(fd)
        let rc = brig_seccomp_addfd_send(listener, note.id, fd, flags & MemfdFlags.cloexec != 0 ? 1 : 0)
        if rc < 0, rc != -ENOENT { return .failed(-rc) }
        return .answered(nil)
    }
}

/// The `size`-byte little-endian integer at `offset` of `bytes` (the child's structures).
func littleEndian(_ bytes: [UInt8], _ offset: Int, _ size: Int) -> UInt64 {
    bytes[offset..<offset + size].reversed().reduce(UInt64(0)) { $0 << 8 | UInt64($1) }
}

/// A refusal to answer and report, or a plain errno to answer.
struct RefusalError: Error {
    var refusal: SyscallGate.Refusal?
    var code: Int32
    init(_ refusal: SyscallGate.Refusal) {
        self.refusal = refusal
        self.code = refusal.errno
    }
    init(errno code: Int32) {
        self.refusal = nil
        self.code = code
    }
}

extension UnixSocketGate {
    /// A `sockaddr_un` naming `/proc/self/fd/FD`: connecting through it reaches the inode behind
    /// the O_PATH descriptor, whatever has been renamed or replaced since the walk.
    static func procSelfAddress(_ fd: Int32) -> [UInt8] {
        let family = UInt16(AF_UNIX)
        return [UInt8(family & 0xFF), UInt8(family >> 8)] + Array("/proc/self/fd/\(fd)".utf8) + [0]
    }
}
