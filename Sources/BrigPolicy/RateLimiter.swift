import BrigProfile
import Synchronization

/// A token bucket: holds up to `count` tokens and refills `count` per `seconds`, continuously.
/// A full bucket at start, so a burst of `count` passes at once. Its state lives in the engine's
/// `RateLimiter`, at `slot`.
struct TokenBucket: Sendable {
    let rate: MCPRate
    let source: String
    let slot: Int
}

/// The state of every token bucket of one engine, behind one lock.
///
/// A call spends from up to three buckets (its tool rule's, its method's, `*`): one lock for all
/// of them costs a third of the atomic operations that a lock per bucket did, on every call.
final class RateLimiter: Sendable {
    private struct State {
        var tokens: Double
        var last: Double?
        let capacity: Double
        let perSecond: Double

        /// Takes one token if there is one.
        mutating func take(now: Double) -> Bool {
            if let last {
                // A clock that steps back refills nothing.
                tokens = min(capacity, tokens + max(0, now - last) * perSecond)
            }
            last = now
            guard tokens >= 1 else { return false }
            tokens -= 1
            return true
        }

        /// Gives back a token taken for a message that another bucket then refused.
        mutating func refund() {
            tokens = min(capacity, tokens + 1)
        }
    }

    private let states: Mutex<[State]>

    /// One full bucket per rate; bucket `i` is the one whose `slot` is `i`.
    init(_ rates: [MCPRate]) {
        states = Mutex(
            rates.map {
                State(tokens: Double($0.count), last: nil, capacity: Double($0.count), perSecond: Double($0.count) / Double($0.seconds))
            })
    }

    /// Takes a token from `first` (if any), then from each of `rest`, in order. At the first
    /// bucket that has none, gives back what was taken and returns that bucket; nil when every
    /// bucket had a token.
    func take(_ first: TokenBucket?, then rest: [TokenBucket], now: Double) -> TokenBucket? {
        states.withLock { s in
            if let first, !s[first.slot].take(now: now) { return first }
            for (i, b) in rest.enumerated() where !s[b.slot].take(now: now) {
                if let first { s[first.slot].refund() }
                for taken in rest[..<i] { s[taken.slot].refund() }
                return b
            }
            return nil
        }
    }
}
