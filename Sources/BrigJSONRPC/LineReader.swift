import BrigSystem

#if canImport(Glibc)
@preconcurrency import Glibc
#endif

/// Splits a byte stream into newline-delimited messages (the MCP stdio framing), with a bound.
///
/// Bytes are read straight into one buffer and handed out as views into it, so a message is
/// never copied before it is forwarded. A line longer than `maximumLineBytes` is not kept: the
/// reader drops it as it streams past, keeps only its first `prefixBytes` (enough to find an id
/// for the error answer) and reports it once the newline arrives. Memory stays below
/// `maximumLineBytes` plus one read, whatever the peer sends.
public final class LineReader {
    public enum Event {
        /// A complete line without its newline; valid only during the callback.
        case line(UnsafeBufferPointer<UInt8>)
        /// A line over the limit: its first bytes and its full length.
        case oversized(prefix: UnsafeBufferPointer<UInt8>, length: Int)
    }

    public let maximumLineBytes: Int
    public static let prefixBytes = 64 * 1024
    private static let minimumRead = 64 * 1024

    private var buffer: UnsafeMutablePointer<UInt8>
    private var capacity: Int
    private var length = 0
    private var scanned = 0
    private var discarding = false
    private var discardPrefix: [UInt8] = []
    private var discardLength = 0

    public init(maximumLineBytes: Int) {
        self.maximumLineBytes = max(1, maximumLineBytes)
        self.capacity = LineReader.minimumRead * 2
        self.buffer = .allocate(capacity: capacity)
    }

    deinit { buffer.deallocate() }

    /// Reads once from `fd` (blocking) and reports every complete line.
    /// - Returns: false at end of input (after reporting a final unterminated line); throws errno.
    public func read(from fd: Int32, _ handle: (Event) -> Void) throws(ReadError) -> Bool {
        reserveSpace()
        let n = retryingInterrupted { Glibc.read(fd, buffer + length, capacity - length) }
        if n < 0 { throw ReadError(errno: errno) }
        if n == 0 {
            finish(handle)
            return false
        }
        feed(count: n, handle)
        return true
    }

    /// Appends bytes as if they had been read (tests, replays).
    public func feed(_ bytes: [UInt8], _ handle: (Event) -> Void) {
        var offset = 0
        while offset < bytes.count {
            reserveSpace()
            let n = min(capacity - length, bytes.count - offset)
            bytes.withUnsafeBufferPointer { src in
                (buffer + length).update(from: src.baseAddress! + offset, count: n)
            }
            offset += n
            feed(count: n, handle)
        }
    }

    /// Reports what is left at end of input.
    public func finish(_ handle: (Event) -> Void) {
        if discarding {
            discardLength += length
            reportDiscarded(handle)
        } else if length > 0 {
            handle(.line(UnsafeBufferPointer(start: buffer, count: length)))
        }
        length = 0
        scanned = 0
    }

    private func feed(count n: Int, _ handle: (Event) -> Void) {
        length += n
        var start = 0
        var from = scanned
        while from < length, let hit = memchr(buffer + from, 0x0A, length - from) {
            let nl = buffer.distance(to: hit.assumingMemoryBound(to: UInt8.self))
            if discarding {
                discardLength += nl - start
                reportDiscarded(handle)
            } else if nl - start > maximumLineBytes {
                handle(
                    .oversized(
                        prefix: UnsafeBufferPointer(start: buffer + start, count: min(LineReader.prefixBytes, nl - start)),
                        length: nl - start))
            } else {
                handle(.line(UnsafeBufferPointer(start: buffer + start, count: nl - start)))
            }
            start = nl + 1
            from = start
        }
        let partial = length - start
        if discarding {
            discardLength += partial
            length = 0
            scanned = 0
        } else if partial > maximumLineBytes {
            discarding = true
            discardPrefix = Array(UnsafeBufferPointer(start: buffer + start, count: min(LineReader.prefixBytes, partial)))
            discardLength = partial
            length = 0
            scanned = 0
        } else {
            if start > 0 && partial > 0 { (buffer).update(from: buffer + start, count: partial) }
            length = partial
            scanned = partial
        }
    }

    private func reportDiscarded(_ handle: (Event) -> Void) {
        discardPrefix.withUnsafeBufferPointer { handle(.oversized(prefix: $0, length: discardLength)) }
        discarding = false
        discardPrefix = []
        discardLength = 0
    }

    /// Makes room for one read: grows (doubling, up to the line limit plus one read).
    private func reserveSpace() {
        guard capacity - length < LineReader.minimumRead else { return }
        let newCapacity = max(capacity * 2, length + LineReader.minimumRead)
        let newBuffer = UnsafeMutablePointer<UInt8>.allocate(capacity: newCapacity)
        newBuffer.update(from: buffer, count: length)
        buffer.deallocate()
        buffer = newBuffer
        capacity = newCapacity
    }
}

/// A failed read(2).
public struct ReadError: Error, Sendable {
    public var errno: Int32
}
