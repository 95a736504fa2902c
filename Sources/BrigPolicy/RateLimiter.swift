import BrigProfile
import Synchronization

/// A token bucket: holds up to `count` tokens and refills `count` per `seconds`, continuously.
/// A full bucket at start, so a burst of `count` passes at once.
final class TokenBucket: Sendable {
    let rate: MCPRate
    let source: String
    private let capacity: Double
    private let perSecond: Double
    private let state: Mutex<(tokens: Double, last: Double?)>

    init(rate: MCPRate, source: String) {
        self.rate = rate
        self.source = source
        capacity = Double(rate.count)
        perSecond = Double(rate.count) / Double(rate.seconds)
        state = Mutex((Double(rate.count), nil))
    }

    /// Takes one token if there is one.
    func take(now: Double) -> Bool {
        state.withLock { s in
            if let last = s.last {
                // A clock that steps back refills nothing.
                s.tokens = min(capacity, s.tokens + max(0, now - last) * perSecond)
            }
            s.last = now
            guard s.tokens >= 1 else { return false }
            s.tokens -= 1
            return true
        }
    }

    /// Gives back a token taken for a message that another bucket then refused.
    func refund() {
        state.withLock { s in s.tokens = min(capacity, s.tokens + 1) }
    }
}
