internal import CGlibcGNU

#if canImport(Glibc)
@preconcurrency public import Glibc
#endif

/// A detached OS thread with its own stack: the relay's pumps, the audit writer, the blocked-call
/// reporter and learn mode's watcher block in read(2) or a condition wait, which must never
/// happen on Swift's cooperative pool.
public enum OSThread {
    private final class Box {
        let body: @Sendable () -> Void
        let name: String?
        init(_ body: @escaping @Sendable () -> Void, name: String?) {
            self.body = body
            self.name = name
        }
    }

    /// Starts `body` on a new thread; false (errno set) when the kernel refuses one, and then
    /// `body` does not run: the caller decides whether that is fatal.
    ///
    /// - `name`: the thread's name in /proc (15 bytes at most), for `top -H` and core dumps.
    /// - `blockingSignals`: the thread starts with every signal but the fault signals blocked (a
    ///   new thread inherits its creator's mask, so the mask is set around pthread_create): a
    ///   process-directed signal is never delivered to it, even before its owner blocks them.
    @discardableResult
    public static func start(
        name: String? = nil, stackBytes: Int = 1 << 20, blockingSignals: Bool = false,
        _ body: @escaping @Sendable () -> Void
    ) -> Bool {
        var attr = pthread_attr_t()
        pthread_attr_init(&attr)
        defer { pthread_attr_destroy(&attr) }
        pthread_attr_setstacksize(&attr, stackBytes)
        pthread_attr_setdetachstate(&attr, Int32(PTHREAD_CREATE_DETACHED))
        var saved = sigset_t()
        if blockingSignals {
            var all = OSThread.blockableSignals()
            pthread_sigmask(SIG_BLOCK, &all, &saved)
        }
        defer { if blockingSignals { pthread_sigmask(SIG_SETMASK, &saved, nil) } }
        let context = Unmanaged.passRetained(Box(body, name: name)).toOpaque()
        var thread = pthread_t()
        let rc = pthread_create(
            &thread, &attr,
            { raw in
                let box = Unmanaged<Box>.fromOpaque(raw!).takeRetainedValue()
                if let name = box.name { OSThread.setName(name) }
                box.body()
                return nil
            }, context)
        if rc != 0 {
            Unmanaged<Box>.fromOpaque(context).release()
            errno = rc
            return false
        }
        return true
    }

    /// Names the calling thread: one prctl(PR_SET_NAME) inside glibc. It runs first on every
    /// thread brig starts, some of them on the way of a connection (the egress proxy's), where
    /// the /proc/thread-self/comm write it replaces cost an open, a write and a close.
    static func setName(_ name: String) {
        _ = pthread_setname_np(pthread_self(), String(decoding: name.utf8.prefix(15), as: UTF8.self))
    }

    /// Every signal but the synchronous ones a fault raises (blocking those would hide a crash).
    public static func blockableSignals() -> sigset_t {
        var set = sigset_t()
        sigfillset(&set)
        for s in [SIGSEGV, SIGBUS, SIGFPE, SIGILL, SIGTRAP, SIGABRT, SIGSYS] { sigdelset(&set, s) }
        return set
    }
}
