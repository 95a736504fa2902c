#if canImport(Glibc)
@preconcurrency public import Glibc
#endif

/// CLOCK_MONOTONIC in nanoseconds, without Foundation.
public enum MonotonicClock {
    @inlinable @inline(__always) public static func nanoseconds() -> UInt64 {
        var ts = timespec()
        clock_gettime(CLOCK_MONOTONIC, &ts)
        return UInt64(ts.tv_sec) &* 1_000_000_000 &+ UInt64(ts.tv_nsec)
    }

    @inlinable @inline(__always) public static func microseconds() -> UInt64 { nanoseconds() / 1000 }
}
