public import BrigProfile
public import BrigSystem
import CGlibcGNU
import Synchronization

#if canImport(Glibc)
@preconcurrency import Glibc
#endif

/// brig's HTTP egress proxy for the confined server: `CONNECT host:port` tunnels and
/// absolute-form plain HTTP, each decided by the egress rules before the name is resolved and
/// after (every address it resolves to), connected by brig, and relayed with splice(2).
///
/// ## Threads
///
/// One thread waits in accept() (signals blocked; the threads it starts inherit the mask). The
/// thread that accepts a connection starts the next one to wait, and serves the connection
/// itself: it reads the head, decides, connects and then moves the server's bytes upstream.
/// One more thread, started as soon as the far end is connected, moves its bytes back. So no
/// thread start stands between a connection and its first byte: on two busy cores a new
/// thread waited up to milliseconds for its first run, and that wait was most of what the
/// proxy added to a new connection's time to first byte. Names are resolved on the
/// connection's thread, so a slow DNS answer holds up only its own connection.
///
/// ## Locks
///
/// One `Mutex` over the proxy's state (the open connections and their sockets, the thread
/// count), held for short copies only, never across a system call that blocks; each relayed
/// connection has a `Mutex` over its byte counts. `stop()` shuts the listener and every tracked
/// socket down (which ends blocked accept, recv and splice calls), closes the wake pipe (which
/// ends every poll), and waits on a semaphore the last thread posts.
public final class EgressProxy: Sendable {
    /// The open connections beyond which the proxy answers 503. Each relayed connection holds
    /// six descriptors (two sockets, two pipes).
    public static let defaultMaxConnections = 256

    private let listener: Int32
    private let rules: EgressRules
    private let resolve: @Sendable (String) -> [IPAddress]
    private let cause: @Sendable () -> EgressCause?
    private let finished: @Sendable (EgressConnection) -> Void
    private let maxConnections: Int
    private let headTimeoutMillis: Int
    private let connectTimeoutMillis: Int32
    /// Closed (its write end) by `stop()`: every poll of a connection includes the read end.
    private let wake: (read: Int32, write: Int32)
    private let wakeError: Int32
    private let state = Mutex(State())
    /// Posted once by the last thread to end after `stop()` began; sem_t is made for sharing
    /// between threads (its own atomics), the pointer never changes.
    nonisolated(unsafe) private let drained: UnsafeMutablePointer<sem_t>

    private struct State {
        var started = false
        var stopping = false
        var threads = 0
        var open = 0
        var nextID = 0
        /// The sockets of each open connection, for `stop()` to shut down.
        var sockets: [Int: [Int32]] = [:]
    }

    /// - Parameters:
    ///   - listener: a TCP socket already listening (brig makes it inside the server's network
    ///     namespace). The proxy owns it from here: `stop()` closes it.
    ///   - rules: the allow- and deny-lists.
    ///   - resolve: name to addresses (brig's own resolution; the server gets no DNS). Called
    ///     only for a name `rules` allowed; IP literals are never passed.
    ///   - cause: the JSON-RPC request in flight, asked at accept.
    ///   - finished: called once per accepted connection, on a proxy thread, when it is over.
    ///   - maxConnections: open connections beyond which the proxy answers 503.
    ///   - headTimeoutMillis: how long the server has to send a whole request head, and a whole
    ///     ClientHello once it started one.
    ///   - connectTimeoutMillis: how long one address has to accept brig's connection.
    public init(
        listener: Int32, rules: EgressRules, resolve: @escaping @Sendable (String) -> [IPAddress] = EgressResolver.system,
        cause: @escaping @Sendable () -> EgressCause?, finished: @escaping @Sendable (EgressConnection) -> Void,
        maxConnections: Int = EgressProxy.defaultMaxConnections, headTimeoutMillis: Int = 10_000, connectTimeoutMillis: Int32 = 5_000
    ) {
        self.listener = listener
        self.rules = rules
        self.resolve = resolve
        self.cause = cause
        self.finished = finished
        self.maxConnections = maxConnections
        self.headTimeoutMillis = headTimeoutMillis
        self.connectTimeoutMillis = connectTimeoutMillis
        var fds: [Int32] = [-1, -1]
        wakeError = pipe2(&fds, O_CLOEXEC) == 0 ? 0 : errno
        wake = (fds[0], fds[1])
        drained = .allocate(capacity: 1)
        sem_init(drained, 0, 0)
    }

    deinit {
        sem_destroy(drained)
        drained.deallocate()
    }

    /// Starts the accept thread. Ignores SIGPIPE for the process (splice(2) has no
    /// MSG_NOSIGNAL; brig ignores it anyway).
    /// - Throws: when the wake pipe or the thread cannot be made, or on a second start.
    public func start() throws(SystemError) {
        guard wakeError == 0 else { throw SystemError("egress proxy: pipe2", code: wakeError) }
        let first = state.withLock { s in
            defer { s.started = true }
            return !s.started && !s.stopping
        }
        guard first else { throw SystemError("egress proxy: already started", code: EALREADY) }
        _ = signal(SIGPIPE, SIG_IGN)
        guard spawn(name: "brig-egress", blockingSignals: true, { self.acceptLoop() }) else {
            throw SystemError("egress proxy: cannot start its thread")
        }
    }

    /// Stops accepting, shuts every open connection down and waits for the proxy's threads:
    /// when it returns, every accepted connection has been reported to `finished` and the
    /// listener is closed. A second call returns at once.
    public func stop() {
        let (first, sockets, threads) = state.withLock { s -> (Bool, [Int32], Int) in
            guard !s.stopping else { return (false, [], 0) }
            s.stopping = true
            return (true, s.sockets.values.flatMap { $0 }, s.threads)
        }
        guard first else { return }
        if wake.write >= 0 { Glibc.close(wake.write) }
        shutdown(listener, Int32(SHUT_RDWR))
        for fd in sockets { shutdown(fd, Int32(SHUT_RDWR)) }
        if threads > 0 { while sem_wait(drained) != 0 && errno == EINTR {} }
        Glibc.close(listener)
        if wake.read >= 0 { Glibc.close(wake.read) }
    }

    // MARK: Threads and sockets

    private func spawn(name: String, blockingSignals: Bool = false, _ body: @escaping @Sendable () -> Void) -> Bool {
        let admitted = state.withLock { s in
            if s.stopping { return false }
            s.threads += 1
            return true
        }
        guard admitted else { return false }
        let started = OSThread.start(name: name, stackBytes: 256 << 10, blockingSignals: blockingSignals) {
            body()
            self.threadEnded()
        }
        if !started { threadEnded() }
        return started
    }

    private func threadEnded() {
        let last = state.withLock { s in
            s.threads -= 1
            return s.stopping && s.threads == 0
        }
        if last { sem_post(drained) }
    }

    /// Records a socket `stop()` must shut down; false once stopping (the caller closes it).
    private func track(_ id: Int, _ fd: Int32) -> Bool {
        state.withLock { s in
            if s.stopping { return false }
            s.sockets[id, default: []].append(fd)
            return true
        }
    }

    private func untrack(_ id: Int, _ fd: Int32) {
        state.withLock { s in s.sockets[id]?.removeAll { $0 == fd } }
    }

    /// The end of a connection: it no longer counts, its sockets are closed, it is reported.
    private func finish(_ id: Int, fds: [Int32], record: EgressConnection, since t0: UInt64) {
        state.withLock { s in
            s.sockets[id] = nil
            s.open -= 1
        }
        for fd in fds where fd >= 0 { Glibc.close(fd) }
        var record = record
        record.durationMicros = (MonotonicClock.nanoseconds() - t0) / 1000
        finished(record)
    }

    // MARK: Accepting

    private enum Admission { case admitted(Int), full, stopping }

    /// Accepts until a connection is admitted, then hands accepting on to a new thread and
    /// serves that connection. When no thread can be started, it serves the connection and
    /// accepts again (slower, not refused).
    private func acceptLoop() {
        while true {
            let fd = retryingInterrupted { accept(listener, nil, nil) }
            if fd < 0 {
                let e = errno
                if state.withLock({ $0.stopping }) { return }
                switch e {
                case EMFILE, ENFILE, ENOBUFS, ENOMEM:
                    var p = pollfd(fd: wake.read, events: Int16(POLLIN), revents: 0)
                    _ = poll(&p, 1, 50)
                case ECONNABORTED, EPROTO, ENETDOWN, ENOPROTOOPT, EHOSTDOWN, ENONET, EHOSTUNREACH, EOPNOTSUPP, ENETUNREACH, ETIMEDOUT, EPERM:
                    continue
                default:
                    return
                }
                continue
            }
            _ = fcntl(fd, F_SETFD, FD_CLOEXEC)
            let t0 = MonotonicClock.nanoseconds()
            var record = EgressConnection(startMicros: realtimeMicros(), cause: cause())
            let admission = state.withLock { s -> Admission in
                if s.stopping { return .stopping }
                if s.open >= maxConnections { return .full }
                s.open += 1
                s.nextID += 1
                s.sockets[s.nextID] = [fd]
                return .admitted(s.nextID)
            }
            switch admission {
            case .admitted(let id):
                let handedOn = spawn(name: "brig-egress", { self.acceptLoop() })
                handle(client: fd, id: id, record: record, since: t0)
                if handedOn { return }
            case .full:
                record.reason = "more than \(maxConnections) egress connections are open"
                record.status = 503
                sendAll(fd, EgressProxy.response(503, "brig: egress refused: \(record.reason ?? "")"), flags: Int32(MSG_DONTWAIT))
                Glibc.close(fd)
                record.durationMicros = (MonotonicClock.nanoseconds() - t0) / 1000
                finished(record)
            case .stopping:
                Glibc.close(fd)
                record.reason = "brig is stopping"
                finished(record)
            }
        }
    }

    // MARK: One connection

    /// Everything up to the relay: head, decision, resolution, connection, the answer.
    private func handle(client: Int32, id: Int, record draft: EgressConnection, since t0: UInt64) {
        var record = draft
        setNoDelay(client)
        func refuse(_ status: Int, _ body: String) {
            record.status = status
            sendAll(client, EgressProxy.response(status, body), flags: 0)
            lingeringShutdown(client)
            finish(id, fds: [client], record: record, since: t0)
        }
        var buffer = [UInt8](repeating: 0, count: ClientHello.limit)
        let head: [UInt8]
        switch readHead(client, into: &buffer) {
        case .head(let h): head = h
        case .ended(let why):
            record.reason = why
            return finish(id, fds: [client], record: record, since: t0)
        case .timedOut:
            record.reason = "no whole request head within \(headTimeoutMillis / 1000) s"
            return refuse(408, "brig: \(record.reason ?? "")")
        case .tooLarge:
            record.reason = "a request head over \(ProxyRequest.headLimit) bytes"
            return refuse(431, "brig: \(record.reason ?? "")")
        }
        let request: ProxyRequest
        switch ProxyRequest.parse(head) {
        case .success(let r): request = r
        case .failure(let f):
            record.host = f.host ?? ""
            record.port = f.port ?? 0
            record.reason = f.reason
            let text = f.host.map { "brig: egress to \(ProxyRequest.destination($0, f.port ?? 0)) refused: \(f.reason)" } ?? "brig: bad proxy request: \(f.reason)"
            return refuse(f.status, text)
        }
        record.host = request.host
        record.port = request.port
        record.kind = request.kind
        let decision = rules.decide(host: request.host, port: request.port)
        record.rule = decision.rule
        guard decision.allowed else {
            record.reason = decision.reason
            record.refusal = decision.rule.map { .denied($0) } ?? .notAllowed
            return refuse(403, "brig: egress to \(request.destination) refused: \(decision.reason ?? "")")
        }
        let literal = IPAddress(request.host)
        let addresses = literal.map { [$0] } ?? resolve(request.host)
        guard !addresses.isEmpty else {
            record.allowed = true
            record.reason = "\(request.host) does not resolve"
            return refuse(502, "brig: egress to \(request.destination) failed: \(record.reason ?? "")")
        }
        var admitted: [IPAddress] = []
        var refusal: (decision: EgressDecision, address: IPAddress)?
        for address in addresses {
            let verdict = rules.admits(address: address, port: request.port, forName: literal == nil ? request.host : nil)
            if verdict.allowed {
                admitted.append(address.unmapped)
            } else if refusal == nil {
                refusal = (verdict, address.unmapped)
            }
        }
        guard !admitted.isEmpty else {
            record.rule = refusal?.decision.rule ?? record.rule
            record.reason = refusal?.decision.reason
            if let refusal { record.refusal = refusal.decision.rule.map { .denied($0) } ?? .localAddress(refusal.address) }
            return refuse(403, "brig: egress to \(request.destination) refused: \(refusal?.decision.reason ?? "")")
        }
        record.allowed = true
        var up: [Int32] = [-1, -1], down: [Int32] = [-1, -1]
        guard makePipe(&up), makePipe(&down) else {
            record.reason = "cannot make a pipe: \(SystemError.text())"
            for fd in up + down where fd >= 0 { Glibc.close(fd) }
            return refuse(503, "brig: egress to \(request.destination) failed: \(record.reason ?? "")")
        }
        let pipes = up + down
        var upstream: Int32 = -1
        var failure = ""
        for address in admitted {
            let attempt = connect(address, port: request.port, id: id)
            if attempt.fd >= 0 {
                upstream = attempt.fd
                record.address = address
                break
            }
            if failure.isEmpty { failure = "cannot connect to \(address.bracketed):\(request.port): \(attempt.failure)" }
        }
        guard upstream >= 0 else {
            for fd in pipes { Glibc.close(fd) }
            record.reason = failure
            return refuse(502, "brig: egress to \(request.destination) failed: \(failure)")
        }
        let connect = request.kind == .connect
        // A CONNECT's 200 goes to the server before any byte of the far end can (a far end may
        // speak first); a plain request's head goes upstream only once the thread for the far
        // end's bytes is started, so that it is running (waiting in splice) when the answer comes.
        if connect {
            guard sendAll(client, EgressProxy.established, flags: 0) else {
                record.reason = "the server closed the connection: \(SystemError.text())"
                return finish(id, fds: [client, upstream] + pipes, record: record, since: t0)
            }
            record.status = 200
        }
        let tunnel = Tunnel(id: id, client: client, upstream: upstream, pipes: pipes, record: record, since: t0)
        let (far, downPipe) = (upstream, (read: down[0], write: down[1]))
        let downstream = spawn(name: "brig-egress-d") {
            let (bytes, error) = EgressProxy.pump(from: far, to: client, through: downPipe)
            self.ended(tunnel, up: false, bytes: bytes, error: error.map { "from the far end: \($0)" })
        }
        guard downstream else {
            shutdown(client, Int32(SHUT_RDWR))
            ended(tunnel, up: false, bytes: 0, error: "cannot start a thread")
            return ended(tunnel, up: true, bytes: 0, error: nil)
        }
        if !connect {
            guard sendAll(upstream, request.upstreamHead, flags: 0) else {
                let reason = "the far end closed the connection: \(SystemError.text())"
                shutdown(client, Int32(SHUT_RDWR))
                shutdown(upstream, Int32(SHUT_RDWR))
                return ended(tunnel, up: true, bytes: 0, error: reason)
            }
            tunnel.sentHead(UInt64(request.upstreamHead.count))
        }
        if connect, literal == nil, let refused = checkServerName(client, host: request.host, into: &buffer) {
            tunnel.refuse(refused)
            shutdown(client, Int32(SHUT_RDWR))
            shutdown(upstream, Int32(SHUT_RDWR))
            return ended(tunnel, up: true, bytes: 0, error: nil)
        }
        let (bytes, error) = EgressProxy.pump(from: client, to: upstream, through: (up[0], up[1]))
        ended(tunnel, up: true, bytes: bytes, error: error.map { "from the server: \($0)" })
    }

    /// What the two directions of a relayed connection share.
    private final class Tunnel: Sendable {
        let id: Int
        let fds: [Int32]
        let record: EgressConnection
        let t0: UInt64
        let tally = Mutex(Tally())

        struct Tally {
            var up: UInt64 = 0
            var down: UInt64 = 0
            var ends = 0
            var error: String?
            var refusal: String?
            /// A plain request's head, once it went upstream.
            var head: UInt64 = 0
        }

        init(id: Int, client: Int32, upstream: Int32, pipes: [Int32], record: EgressConnection, since t0: UInt64) {
            self.id = id
            fds = [client, upstream] + pipes
            self.record = record
            self.t0 = t0
        }

        func refuse(_ reason: String) { tally.withLock { $0.refusal = reason } }
        func sentHead(_ bytes: UInt64) { tally.withLock { $0.head = bytes } }
    }

    /// One direction is over; the second one closes the connection and reports it.
    private func ended(_ tunnel: Tunnel, up: Bool, bytes: UInt64, error: String?) {
        let done = tunnel.tally.withLock { t -> Tunnel.Tally? in
            if up { t.up += bytes } else { t.down += bytes }
            if t.error == nil { t.error = error }
            t.ends += 1
            return t.ends == 2 ? t : nil
        }
        guard let tally = done else { return }
        var record = tunnel.record
        record.bytesUp += tally.head + tally.up
        record.bytesDown = tally.down
        if let refusal = tally.refusal {
            record.allowed = false
            record.reason = refusal
        } else {
            record.reason = tally.error
        }
        finish(tunnel.id, fds: tunnel.fds, record: record, since: tunnel.t0)
    }

    // MARK: Reading the head and the ClientHello

    private enum HeadRead {
        case head([UInt8])
        case ended(String)
        case timedOut
        case tooLarge
    }

    /// Peeks at the socket until a whole head is there, then takes exactly the head (what follows
    /// it stays for the relay). SO_RCVLOWAT makes poll wait for more than the bytes already seen.
    private func readHead(_ fd: Int32, into buffer: inout [UInt8]) -> HeadRead {
        let deadline = MonotonicClock.nanoseconds() + UInt64(headTimeoutMillis) * 1_000_000
        let limit = ProxyRequest.headLimit
        var seen = 0
        defer { if seen > 0 { setOption(fd, SO_RCVLOWAT, 1) } }
        while true {
            let now = MonotonicClock.nanoseconds()
            guard now < deadline else { return .timedOut }
            var fds = [pollfd(fd: fd, events: Int16(POLLIN), revents: 0), pollfd(fd: wake.read, events: Int16(POLLIN), revents: 0)]
            let ready = poll(&fds, 2, Int32((deadline - now) / 1_000_000 + 1))
            if ready < 0 {
                if errno == EINTR { continue }
                return .ended("poll: \(SystemError.text())")
            }
            if fds[1].revents != 0 { return .ended("brig is stopping") }
            if ready == 0 { return .timedOut }
            let n = retryingInterrupted { buffer.withUnsafeMutableBytes { recv(fd, $0.baseAddress, limit, Int32(MSG_PEEK)) } }
            if n == 0 { return .ended(seen == 0 ? "the server closed the connection without a request" : "the server closed the connection mid-request") }
            if n < 0 { return .ended("recv: \(SystemError.text())") }
            if let end = buffer.withUnsafeBytes({ ProxyRequest.headLength(in: UnsafeRawBufferPointer(rebasing: $0[0..<n]), from: seen) }) {
                let taken = retryingInterrupted { buffer.withUnsafeMutableBytes { recv(fd, $0.baseAddress, end, Int32(MSG_WAITALL)) } }
                guard taken == end else { return .ended("recv: \(SystemError.text())") }
                return .head(Array(buffer[0..<end]))
            }
            if n >= limit { return .tooLarge }
            seen = n
            setOption(fd, SO_RCVLOWAT, Int32(n + 1))
        }
    }

    /// For a CONNECT to a name: nil when the first bytes may pass (not TLS, or a ClientHello
    /// naming the CONNECT host or no name), else the refusal. Nothing has gone upstream yet.
    private func checkServerName(_ fd: Int32, host: String, into buffer: inout [UInt8]) -> String? {
        var want = 1
        var timed = false
        defer { if timed { setTimeout(fd, millis: 0) } }
        while true {
            let flags = want > 1 ? Int32(MSG_PEEK | MSG_WAITALL) : Int32(MSG_PEEK)
            let n = retryingInterrupted { buffer.withUnsafeMutableBytes { recv(fd, $0.baseAddress, want, flags) } }
            if n <= 0 && want == 1 { return nil }  // closed before a byte: the relay sees the end
            if n < want { return "an incomplete TLS ClientHello (cut short, or not whole within \(headTimeoutMillis / 1000) s)" }
            switch buffer.withUnsafeBytes({ ClientHello.scan(UnsafeRawBufferPointer(rebasing: $0[0..<n])) }) {
            case .notTLS:
                return nil
            case .needMore(let more):
                want = min(more, buffer.count)
                if !timed {
                    setTimeout(fd, millis: headTimeoutMillis)
                    timed = true
                }
            case .hello(let name):
                guard let name, name != host else { return nil }
                return "TLS server name \(name) is not the CONNECT host \(host)"
            case .malformed(let why):
                return "not a TLS ClientHello brig can read: \(why)"
            }
        }
    }

    // MARK: Connecting

    /// A connected, blocking socket (tracked for `stop()`), or -1 and why not.
    private func connect(_ address: IPAddress, port: UInt16, id: Int) -> (fd: Int32, failure: String) {
        let type = Int32(SOCK_STREAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue) | Int32(SOCK_NONBLOCK.rawValue)
        let fd = socket(address.family == .v4 ? AF_INET : AF_INET6, type, 0)
        guard fd >= 0 else { return (-1, SystemError.text()) }
        guard track(id, fd) else {
            Glibc.close(fd)
            return (-1, "brig is stopping")
        }
        func fail(_ why: String) -> (fd: Int32, failure: String) {
            untrack(id, fd)
            Glibc.close(fd)
            return (-1, why)
        }
        if address.withSocketAddress(port: port, { Glibc.connect(fd, $0, $1) }) != 0 {
            guard errno == EINPROGRESS else { return fail(SystemError.text()) }
            var fds = [pollfd(fd: fd, events: Int16(POLLOUT), revents: 0), pollfd(fd: wake.read, events: Int16(POLLIN), revents: 0)]
            let ready = retryingInterrupted { poll(&fds, 2, connectTimeoutMillis) }
            if fds[1].revents != 0 { return fail("brig is stopping") }
            guard ready > 0 else { return fail(SystemError.text(ready == 0 ? ETIMEDOUT : errno)) }
            var err: Int32 = 0
            var len = socklen_t(MemoryLayout<Int32>.size)
            getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &len)
            guard err == 0 else { return fail(SystemError.text(err)) }
        }
        _ = fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) & ~O_NONBLOCK)
        setNoDelay(fd)
        return (fd, "")
    }

    // MARK: Relaying

    /// The splice(2) flag that moves pages instead of copying them where the kernel can.
    private static let spliceMove: UInt32 = 1
    /// F_SETPIPE_SZ (a GNU fcntl).
    private static let setPipeSize: Int32 = 1031
    /// Each relay pipe's capacity: 1 MiB (the default is 64 KiB), so one splice moves more.
    private static let pipeBytes: Int32 = 1 << 20

    private func makePipe(_ fds: inout [Int32]) -> Bool {
        guard pipe2(&fds, O_CLOEXEC) == 0 else { return false }
        _ = fcntl(fds[1], EgressProxy.setPipeSize, EgressProxy.pipeBytes)
        return true
    }

    /// Moves bytes from `source` to `sink` through `pipe` until `source` ends (then the write
    /// side of `sink` is shut down: a half-close passes on) or a call fails (then both sockets
    /// are shut down, which ends the other direction too). The bytes that reached `sink`, and
    /// the failure.
    static func pump(from source: Int32, to sink: Int32, through pipe: (read: Int32, write: Int32)) -> (UInt64, String?) {
        var total: UInt64 = 0
        while true {
            let n = retryingInterrupted { splice(source, nil, pipe.write, nil, UInt(pipeBytes), spliceMove) }
            if n == 0 {
                shutdown(sink, Int32(SHUT_WR))
                return (total, nil)
            }
            if n < 0 {
                let why = SystemError.text()
                shutdown(source, Int32(SHUT_RDWR))
                shutdown(sink, Int32(SHUT_RDWR))
                return (total, why)
            }
            var left = n
            while left > 0 {
                let m = retryingInterrupted { splice(pipe.read, nil, sink, nil, UInt(left), spliceMove) }
                if m <= 0 {
                    let why = m == 0 ? "the pipe ran dry" : SystemError.text()
                    shutdown(source, Int32(SHUT_RDWR))
                    shutdown(sink, Int32(SHUT_RDWR))
                    return (total, why)
                }
                left -= m
                total += UInt64(m)
            }
        }
    }

    // MARK: Small socket helpers

    static let established = Array("HTTP/1.1 200 Connection established\r\n\r\n".utf8)

    /// brig's own answer: a status, `text/plain`, `Connection: close`, a one-line body.
    static func response(_ status: Int, _ line: String) -> [UInt8] {
        let phrase: String
        switch status {
        case 400: phrase = "Bad Request"
        case 403: phrase = "Forbidden"
        case 408: phrase = "Request Timeout"
        case 431: phrase = "Request Header Fields Too Large"
        case 502: phrase = "Bad Gateway"
        case 503: phrase = "Service Unavailable"
        default: phrase = "Error"
        }
        let body = line + "\n"
        return Array(
            "HTTP/1.1 \(status) \(phrase)\r\nContent-Type: text/plain\r\nContent-Length: \(body.utf8.count)\r\nConnection: close\r\n\r\n\(body)".utf8)
    }

    @discardableResult
    private func sendAll(_ fd: Int32, _ bytes: [UInt8], flags: Int32) -> Bool {
        var done = 0
        while done < bytes.count {
            let n = bytes.withUnsafeBytes { b in send(fd, b.baseAddress! + done, b.count - done, flags | Int32(MSG_NOSIGNAL)) }
            if n < 0 && errno == EINTR { continue }
            if n <= 0 { return false }
            done += n
        }
        return true
    }

    /// After brig's own answer: FIN, then what the server still sends is read and dropped for a
    /// moment, so that closing with unread bytes does not reset the connection before the
    /// server has read the answer.
    private func lingeringShutdown(_ fd: Int32) {
        shutdown(fd, Int32(SHUT_WR))
        let deadline = MonotonicClock.nanoseconds() + 200_000_000
        var sink = [UInt8](repeating: 0, count: 4096)
        while true {
            let now = MonotonicClock.nanoseconds()
            guard now < deadline else { return }
            var fds = [pollfd(fd: fd, events: Int16(POLLIN), revents: 0), pollfd(fd: wake.read, events: Int16(POLLIN), revents: 0)]
            guard poll(&fds, 2, Int32((deadline - now) / 1_000_000 + 1)) > 0, fds[1].revents == 0 else { return }
            guard recv(fd, &sink, sink.count, Int32(MSG_DONTWAIT)) > 0 else { return }
        }
    }

    private func setNoDelay(_ fd: Int32) {
        var one: Int32 = 1
        setsockopt(fd, Int32(IPPROTO_TCP), TCP_NODELAY, &one, socklen_t(MemoryLayout<Int32>.size))
    }

    private func setOption(_ fd: Int32, _ option: Int32, _ value: Int32) {
        var v = value
        setsockopt(fd, SOL_SOCKET, option, &v, socklen_t(MemoryLayout<Int32>.size))
    }

    private func setTimeout(_ fd: Int32, millis: Int) {
        var tv = timeval(tv_sec: millis / 1000, tv_usec: (millis % 1000) * 1000)
        setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, socklen_t(MemoryLayout<timeval>.size))
    }

    private func realtimeMicros() -> UInt64 {
        var ts = timespec()
        clock_gettime(CLOCK_REALTIME, &ts)
        return UInt64(ts.tv_sec) * 1_000_000 + UInt64(ts.tv_nsec) / 1000
    }
}
