import BrigJSONRPC
import BrigRelay
import BrigSystem

#if canImport(Glibc)
@preconcurrency import Glibc
#endif

/// `BRIG_TRACE_STARTUP=1`: one stderr line per start-up phase, with the milliseconds since
/// `main` began, so that where start-up time goes can be read off a real run (the start-up
/// bar is measured by `scripts/bench`; this says why it is what it is).
enum StartupTrace {
    static let enabled = getenv("BRIG_TRACE_STARTUP") != nil
    nonisolated(unsafe) private static var start: UInt64 = 0

    static func mark(_ phase: String) {
        guard enabled else { return }
        let now = MonotonicClock.nanoseconds()
        if start == 0 { start = now }
        let micros = (now - start) / 1000
        let fraction = String(micros % 1000 / 10)
        Diagnostics.write("brig: startup \(micros / 1000).\(fraction.count == 1 ? "0" + fraction : fraction) ms \(phase)\n")
    }
}
