/// Globs compiled once, matched on UTF-8 bytes.
///
/// `NameGlob` (methods, tools, prompts, rate keys): `*` matches any run of characters,
/// `/` included. `URIGlob` (resources): `*` matches within one `/`-separated segment,
/// `**` matches across segments. Every other character matches itself, case-sensitively.
struct NameGlob: Sendable {
    let pattern: String
    /// The literal pieces between stars.
    private let segments: [[UInt8]]
    private let hasStar: Bool
    /// The length of the shortest matching name: the literal pieces together.
    private let minimumLength: Int

    init(_ pattern: String) {
        self.pattern = pattern
        let bytes = Array(pattern.utf8)
        segments = bytes.split(separator: UInt8(ascii: "*"), omittingEmptySubsequences: false).map(Array.init)
        hasStar = segments.count > 1
        minimumLength = segments.reduce(0) { $0 + $1.count }
    }

    var isExact: Bool { !hasStar }

    /// The literal text every matching name starts with (the whole pattern when it has no star).
    var literalPrefix: [UInt8] { segments[0] }

    func matches(_ name: String) -> Bool {
        if !hasStar { return name == pattern }
        var name = name
        return name.withUTF8 { matches(bytes: $0) }
    }

    func matches(bytes s: UnsafeBufferPointer<UInt8>) -> Bool {
        // Most globs a name is tried against fail here, before any piece is compared.
        guard hasStar ? s.count >= minimumLength : s.count == minimumLength else { return false }
        let first = segments[0], last = segments[segments.count - 1]
        if !hasStar { return s.count == first.count && equal(s, 0, first) }
        guard s.count >= first.count + last.count, equal(s, 0, first), equal(s, s.count - last.count, last) else {
            return false
        }
        // Middle pieces: the leftmost occurrence of each, in order, between the fixed ends.
        var at = first.count
        let end = s.count - last.count
        var i = 1
        while i < segments.count - 1 {
            let piece = segments[i]
            guard let found = find(piece, in: s, from: at, to: end) else { return false }
            at = found + piece.count
            i += 1
        }
        return true
    }

    private func equal(_ s: UnsafeBufferPointer<UInt8>, _ at: Int, _ lit: [UInt8]) -> Bool {
        guard at >= 0, at + lit.count <= s.count else { return false }
        var i = 0
        while i < lit.count {
            if s[at + i] != lit[i] { return false }
            i += 1
        }
        return true
    }

    private func find(_ lit: [UInt8], in s: UnsafeBufferPointer<UInt8>, from: Int, to end: Int) -> Int? {
        if lit.isEmpty { return from }
        var p = from
        while p + lit.count <= end {
            if equal(s, p, lit) { return p }
            p += 1
        }
        return nil
    }
}

struct URIGlob: Sendable {
    enum Token: Sendable { case byte(UInt8), star, doubleStar }
    let pattern: String
    private let tokens: [Token]

    init(_ pattern: String) {
        self.pattern = pattern
        var out: [Token] = []
        let b = Array(pattern.utf8)
        var i = 0
        while i < b.count {
            if b[i] == UInt8(ascii: "*") {
                if i + 1 < b.count, b[i + 1] == UInt8(ascii: "*") {
                    out.append(.doubleStar); i += 2
                } else {
                    out.append(.star); i += 1
                }
            } else {
                out.append(.byte(b[i])); i += 1
            }
        }
        tokens = out
    }

    /// Set-of-positions simulation: O(pattern × text), no backtracking blow-up.
    func matches(_ text: String) -> Bool {
        let s = Array(text.utf8)
        var reach = [Bool](repeating: false, count: s.count + 1)
        reach[0] = true
        for token in tokens {
            var next = [Bool](repeating: false, count: s.count + 1)
            var any = false
            switch token {
            case .byte(let c):
                for p in 0..<s.count where reach[p] && s[p] == c { next[p + 1] = true; any = true }
            case .star:
                var live = false
                for p in 0...s.count {
                    if reach[p] { live = true }
                    if live { next[p] = true; any = true }
                    if p < s.count, s[p] == UInt8(ascii: "/") { live = false }
                }
            case .doubleStar:
                var live = false
                for p in 0...s.count {
                    if reach[p] { live = true }
                    if live { next[p] = true; any = true }
                }
            }
            if !any { return false }
            reach = next
        }
        return reach[s.count]
    }
}
