import BrigJSONRPC
import BrigSystem
import Synchronization

#if canImport(Glibc)
@preconcurrency import Glibc
#endif

/// One destination file descriptor shared by several writers (the relay thread that forwards
/// into it, and the other thread when it answers a peer itself). Writes are whole messages under
/// a lock, so lines never interleave. Blocking writes are the backpressure: a slow reader slows
/// whoever writes to it.
public final class OutputChannel: Sendable {
    private let fd: Mutex<Int32>
    private let broken = Atomic<Bool>(false)

    public init(fd: Int32) {
        self.fd = Mutex(fd)
    }

    /// Writes all bytes; returns false once the reader has gone (EPIPE) or the channel is closed.
    @discardableResult
    public func write(_ bytes: UnsafeRawBufferPointer) -> Bool {
        guard !broken.load(ordering: .relaxed) else { return false }
        return fd.withLock { fd in
            guard fd >= 0 else { return false }
            let ok = FileSystem.writeAll(fd, bytes)
            if !ok { broken.store(true, ordering: .relaxed) }
            return ok
        }
    }

    @discardableResult
    public func write(_ bytes: [UInt8]) -> Bool {
        bytes.withUnsafeBytes { write($0) }
    }

    /// Closes the descriptor (the reader sees end of input); later writes fail.
    public func close() {
        fd.withLock { fd in
            if fd >= 0 { _ = Glibc.close(fd) }
            fd = -1
        }
        broken.store(true, ordering: .relaxed)
    }

    public var isBroken: Bool { broken.load(ordering: .relaxed) }

}

/// brig's own one-line reports on stderr, rate limited so that a flood of bad input cannot
/// flood the terminal or the host's log. Lines are written with one write(2) each.
public final class Diagnostics: Sendable {
    private struct Bucket {
        var tokens: Double
        var last: UInt64
        var suppressed: Int
    }
    private let bucket: Mutex<Bucket>
    private let perSecond: Double
    private let burst: Double

    public static let shared = Diagnostics()

    public init(perSecond: Double = 20, burst: Double = 50) {
        self.perSecond = perSecond
        self.burst = burst
        self.bucket = Mutex(Bucket(tokens: burst, last: 0, suppressed: 0))
    }

    /// Reports `message` as `brig: message`, unless the rate limit is exceeded.
    public func report(_ message: String) {
        let now = MonotonicClock.nanoseconds()
        let line: String? = bucket.withLock { b in
            if b.last != 0 {
                b.tokens = min(burst, b.tokens + Double(now &- b.last) / 1e9 * perSecond)
            }
            b.last = now
            guard b.tokens >= 1 else {
                b.suppressed += 1
                return nil
            }
            b.tokens -= 1
            if b.suppressed > 0 {
                let s = b.suppressed
                b.suppressed = 0
                return "brig: (\(s) similar reports suppressed)\nbrig: \(message)\n"
            }
            return "brig: \(message)\n"
        }
        if let line { Diagnostics.write(line) }
    }

    /// Reports how many lines the rate limit held back since the last report, if any (call at
    /// the end of a session, so that a flood's size is never lost).
    public func flushSuppressed() {
        let count = bucket.withLock { b in
            defer { b.suppressed = 0 }
            return b.suppressed
        }
        if count > 0 { Diagnostics.write("brig: (\(count) similar reports suppressed)\n") }
    }

    /// Writes a line to stderr unconditionally.
    public static func write(_ text: String) {
        var t = text
        t.withUTF8 { _ = FileSystem.writeAll(2, UnsafeRawBufferPointer($0)) }
    }
}
