import BrigSystem

/// The kinds of secret brig recognizes by their value, in one table: the redactor's matchers
/// (`Redactor.redactPatterns`) and the byte pre-check that lets text without any of them pass
/// untouched (`SecretScan.hasSecretPrefix`) are both made from it, so the two cannot drift.
///
/// A pattern starts at a word boundary with one of its prefixes; its `shape` says what must
/// follow and which bytes are the secret (the marker `[REDACTED:kind]` replaces those).
public struct SecretPattern: Sendable {
    public enum Shape: Sendable {
        /// A run of `allowed` bytes after the prefix, at least `atLeast` and at most `atMost`
        /// long; the secret is the prefix and the run, or its first `keep` bytes of run when
        /// given; with `endsWord`, the byte after the run must not be a letter or digit.
        case run(ByteClass, atLeast: Int, atMost: Int = .max, keep: Int? = nil, endsWord: Bool = false)
        /// A JSON Web Token: `eyJ…` base64url, `.`, `eyJ…`, `.`, the signature.
        case jwt
        /// A PEM block whose header names a PRIVATE KEY, to its END line (or the text's end).
        case privateKeyBlock
        /// An HTTP credential: white space after the prefix, then a token68 of 8 bytes or more
        /// (the token is the secret, the scheme stays).
        case bearerToken
        /// A name's rest (`nameRest` bytes), separators, then a value of exactly `length`
        /// `value` bytes, which is the secret (`aws_secret_access_key = …`).
        case assignment(nameRest: ByteClass, separators: ByteClass, value: ByteClass, length: Int)
    }

    /// The marker's kind: `github-token`, `aws-access-key`...
    public let kind: String
    public let prefixes: [[UInt8]]
    /// Prefixes compared without ASCII case.
    public let foldsCase: Bool
    public let shape: Shape

    init(_ kind: String, _ prefixes: [String], foldsCase: Bool = false, _ shape: Shape) {
        self.kind = kind
        self.prefixes = prefixes.map { Array($0.utf8) }
        self.foldsCase = foldsCase
        self.shape = shape
    }

    /// In the order they are tried at one position (the first that matches wins).
    public static let all: [SecretPattern] = [
        SecretPattern("aws-access-key", ["AKIA", "ASIA"], .run(.upperOrDigit, atLeast: 16, atMost: 16, endsWord: true)),
        SecretPattern("google-api-key", ["AIza"], .run(.base64URL, atLeast: 35, keep: 35)),
        SecretPattern("github-token", ["ghp_", "gho_", "ghu_", "ghs_", "ghr_"], .run(.alphanumeric, atLeast: 20)),
        SecretPattern("github-token", ["github_pat_"], .run(.wordCharacters, atLeast: 20)),
        SecretPattern("slack-token", ["xoxa-", "xoxb-", "xoxp-", "xoxr-"], .run(.alphanumericOrDash, atLeast: 10)),
        SecretPattern("jwt", ["eyJ"], .jwt),
        SecretPattern("openai-key", ["sk-"], .run(.base64URL, atLeast: 20)),
        SecretPattern("private-key", ["-----BEGIN "], .privateKeyBlock),
        SecretPattern("bearer-token", ["bearer"], foldsCase: true, .bearerToken),
        SecretPattern(
            "aws-secret-key", ["aws_secret"], foldsCase: true,
            .assignment(nameRest: .lettersOrUnderscore, separators: .assignmentSeparators, value: .base64, length: 40)),
    ]

    /// Where a prefix is looked for by the pre-check: a byte of it that `memchr` can find
    /// quickly and that text without the prefix rarely holds. The first byte that is not a
    /// letter, else (a case-sensitive prefix) the first capital, else the first byte in both
    /// cases.
    struct Anchor: Sendable {
        var byte: UInt8
        var offset: Int
        var prefix: [UInt8]
        var foldsCase: Bool
    }

    static let anchors: [Anchor] = {
        var out: [Anchor] = []
        for p in all {
            for prefix in p.prefixes {
                if let k = prefix.firstIndex(where: { !ByteClass.letters.contains($0) }) {
                    out.append(Anchor(byte: prefix[k], offset: k, prefix: prefix, foldsCase: p.foldsCase))
                } else if !p.foldsCase, let k = prefix.firstIndex(where: { $0 >= 0x41 && $0 <= 0x5A }) {
                    out.append(Anchor(byte: prefix[k], offset: k, prefix: prefix, foldsCase: false))
                } else {
                    let lower = prefix[0] | 0x20, upper = prefix[0] & ~0x20
                    out.append(Anchor(byte: lower, offset: 0, prefix: prefix, foldsCase: p.foldsCase))
                    if upper != lower { out.append(Anchor(byte: upper, offset: 0, prefix: prefix, foldsCase: p.foldsCase)) }
                }
            }
        }
        return out
    }()

    /// The anchors grouped by byte, in first-seen order (one memchr pass per byte).
    static let anchorGroups: [(byte: UInt8, anchors: [Anchor])] = {
        var groups: [(byte: UInt8, anchors: [Anchor])] = []
        for a in anchors {
            if let i = groups.firstIndex(where: { $0.byte == a.byte }) { groups[i].anchors.append(a) } else { groups.append((a.byte, [a])) }
        }
        return groups
    }()

    /// For each first byte (both cases for a case-folding prefix), the patterns that may start
    /// with it, in table order.
    static let byFirstByte: [[Int]] = {
        var table = [[Int]](repeating: [], count: 256)
        for (i, p) in all.enumerated() {
            for prefix in p.prefixes {
                var firsts = [prefix[0]]
                if p.foldsCase, ByteClass.letters.contains(prefix[0]) { firsts = [prefix[0] | 0x20, prefix[0] & ~0x20] }
                for f in firsts where !table[Int(f)].contains(i) { table[Int(f)].append(i) }
            }
        }
        return table
    }()

    /// The secret's range when this pattern matches at `i` of `b` (a word boundary is the
    /// caller's), else nil.
    func match(_ b: [UInt8], at i: Int) -> Range<Int>? {
        guard let prefix = prefixes.first(where: { has(b, i, $0, fold: foldsCase) }) else { return nil }
        let start = i + prefix.count
        switch shape {
        case .run(let allowed, let atLeast, let atMost, let keep, let endsWord):
            let e = run(b, start, allowed)
            let n = e - start
            guard n >= atLeast, n <= atMost else { return nil }
            if endsWord, e < b.count, ByteClass.alphanumeric.contains(b[e]) { return nil }
            return i..<(keep.map { start + $0 } ?? e)
        case .jwt:
            let e1 = run(b, start, .base64URL)
            guard e1 - i >= 8, e1 < b.count, b[e1] == 0x2E, has(b, e1 + 1, Array("eyJ".utf8), fold: false) else { return nil }
            let e2 = run(b, e1 + 4, .base64URL)
            guard e2 < b.count, b[e2] == 0x2E else { return nil }
            return i..<run(b, e2 + 1, .base64URL)
        case .privateKeyBlock:
            guard let headerEnd = find(b, SecretPattern.dashes, from: start),
                find(Array(b[start..<headerEnd]), SecretPattern.privateKey, from: 0) != nil
            else { return nil }
            var end = b.count
            if let endMarker = find(b, SecretPattern.endMarker, from: headerEnd + 5),
                let close = find(b, SecretPattern.dashes, from: endMarker + 9)
            {
                end = close + 5
            }
            return i..<end
        case .bearerToken:
            guard start < b.count, ByteClass.blank.contains(b[start]) else { return nil }
            let t = run(b, start, .blank)
            let e = run(b, t, .token68)
            return e - t >= 8 ? t..<e : nil
        case .assignment(let nameRest, let separators, let value, let length):
            let j = run(b, run(b, start, nameRest), separators)
            let e = run(b, j, value)
            return e - j == length ? j..<e : nil
        }
    }

    static let dashes = Array("-----".utf8), privateKey = Array("PRIVATE KEY".utf8), endMarker = Array("-----END ".utf8)
}

/// A set of bytes, as 256 bits.
public struct ByteClass: Sendable {
    var bits: (UInt64, UInt64, UInt64, UInt64) = (0, 0, 0, 0)

    init(_ predicate: (UInt8) -> Bool) {
        for c in 0...255 where predicate(UInt8(c)) {
            switch c >> 6 {
            case 0: bits.0 |= 1 << UInt64(c & 63)
            case 1: bits.1 |= 1 << UInt64(c & 63)
            case 2: bits.2 |= 1 << UInt64(c & 63)
            default: bits.3 |= 1 << UInt64(c & 63)
            }
        }
    }

    @inline(__always) func contains(_ c: UInt8) -> Bool {
        let word: UInt64
        switch c >> 6 {
        case 0: word = bits.0
        case 1: word = bits.1
        case 2: word = bits.2
        default: word = bits.3
        }
        return word & (1 << UInt64(c & 63)) != 0
    }

    static func of(_ extra: String, _ base: ByteClass? = nil) -> ByteClass {
        let bytes = Array(extra.utf8)
        return ByteClass { base?.contains($0) == true || bytes.contains($0) }
    }

    static let digits = ByteClass { $0 >= 0x30 && $0 <= 0x39 }
    static let letters = ByteClass { ($0 >= 0x41 && $0 <= 0x5A) || ($0 >= 0x61 && $0 <= 0x7A) }
    static let alphanumeric = ByteClass { letters.contains($0) || digits.contains($0) }
    static let upperOrDigit = ByteClass { ($0 >= 0x41 && $0 <= 0x5A) || digits.contains($0) }
    static let wordCharacters = of("_", alphanumeric)
    static let alphanumericOrDash = of("-", alphanumeric)
    static let base64URL = of("_-", alphanumeric)
    static let base64 = of("/+=", alphanumeric)
    static let token68 = of("._~+/=-", alphanumeric)
    static let lettersOrUnderscore = of("_", letters)
    static let blank = of(" \t")
    static let assignmentSeparators = of(" \t:=\"'")
}

/// Whether `word` stands at `i` of `b` (ASCII case-folded when `fold`: `word` is lower case
/// then). For the redactor's arrays and the pre-check's buffers alike.
@inline(__always) func has<Bytes: RandomAccessCollection<UInt8>>(_ b: Bytes, _ i: Int, _ word: [UInt8], fold: Bool) -> Bool
where Bytes.Index == Int {
    guard i >= b.startIndex, i + word.count <= b.endIndex else { return false }
    for k in 0..<word.count {
        var c = b[i + k]
        if fold, c >= 0x41, c <= 0x5A { c += 32 }
        if c != word[k] { return false }
    }
    return true
}

@inline(__always) func run(_ b: [UInt8], _ start: Int, _ allowed: ByteClass) -> Int {
    var e = min(start, b.count)
    while e < b.count, allowed.contains(b[e]) { e += 1 }
    return e
}

func find(_ b: [UInt8], _ needle: [UInt8], from: Int) -> Int? { ByteSearch.firstIndex(of: needle, in: b, from: from) }
