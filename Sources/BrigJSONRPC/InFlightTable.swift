public import BrigSystem
import Synchronization

#if canImport(Glibc)
@preconcurrency import Glibc
#endif

/// Requests that were forwarded and not yet answered, in one direction: id -> (method, start).
///
/// Later layers act on responses by the request they answer (filtering a `tools/list` result,
/// timing a call). The table is bounded: past `capacity`, the oldest entry is forgotten, so a
/// peer that never answers cannot grow brig's memory. Shared by the two relay threads, hence
/// the mutex.
public final class InFlightTable: Sendable {
    public struct Entry: Sendable, Equatable {
        public var method: String
        /// Monotonic nanoseconds when the request was forwarded.
        public var startedAt: UInt64
        /// A name later layers attach (the tool, resource or prompt), if any.
        public var subject: String?
    }

    private struct State {
        var entries: [String: Entry] = [:]
        var order: [String] = []  // insertion order, for eviction
        var head = 0
        var evicted = 0
    }

    public let capacity: Int
    private let state = Mutex(State())

    public init(capacity: Int = 4096) {
        self.capacity = max(1, capacity)
    }

    public func insert(id: String, method: String, subject: String? = nil, at time: UInt64 = MonotonicClock.nanoseconds()) {
        state.withLock { s in
            if s.entries.updateValue(Entry(method: method, startedAt: time, subject: subject), forKey: id) == nil {
                s.order.append(id)
            }
            while s.entries.count > capacity, s.head < s.order.count {
                let old = s.order[s.head]
                s.head += 1
                if s.entries.removeValue(forKey: old) != nil { s.evicted += 1 }
            }
            // Answered requests leave stale ids in `order`: compact it so it stays bounded too.
            if s.order.count - s.head > 2 * capacity + 64 {
                let live = s.order[s.head...].filter { s.entries[$0] != nil }
                s.order = Array(live)
                s.head = 0
            }
        }
    }

    /// Removes and returns the entry a response answers.
    public func remove(id: String) -> Entry? {
        state.withLock { s in s.entries.removeValue(forKey: id) }
    }

    /// Empties the table, returning what was pending in the order it was sent.
    public func removeAll() -> [(String, Entry)] {
        state.withLock { s in
            var out: [(String, Entry)] = []
            for id in s.order[s.head...] {
                if let e = s.entries.removeValue(forKey: id) { out.append((id, e)) }
            }
            s.order = []
            s.head = 0
            return out
        }
    }

    /// Names what a pending request is about (the tool called), for the record of its response.
    public func setSubject(id: String, _ subject: String) {
        state.withLock { s in s.entries[id]?.subject = subject }
    }

    /// The request most likely behind something the peer does now (an egress connection): the
    /// newest pending one with `method`, else the newest pending one; nil when none is pending.
    /// Looks back over at most `window` entries.
    public func newest(preferring method: String, window: Int = 64) -> (id: String, entry: Entry)? {
        state.withLock { s in
            var newest: (String, Entry)?
            var looked = 0
            var i = s.order.count - 1
            while i >= s.head, looked < window {
                let id = s.order[i]
                i -= 1
                guard let e = s.entries[id] else { continue }
                looked += 1
                if e.method == method { return (id, e) }
                if newest == nil { newest = (id, e) }
            }
            return newest
        }
    }

    public func lookup(id: String) -> Entry? {
        state.withLock { s in s.entries[id] }
    }

    public var count: Int { state.withLock { $0.entries.count } }
    public var evictedCount: Int { state.withLock { $0.evicted } }
}
