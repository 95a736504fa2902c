/// An ordered list of name globs that finds the first one a name matches without trying them all.
///
/// `tools/call` is decided by the first tool rule whose glob matches the name, and a realistic
/// policy has dozens of rules: a linear scan was the largest single cost of a call. A name can
/// only match a glob whose literal prefix it starts with, so each glob is filed under the first
/// byte of its prefix (a glob with an empty prefix, `*x`, under every byte); a name tries, in list
/// order, only the globs filed under its own first byte. The answer is the linear scan's.
struct NameGlobList: Sendable {
    let globs: [NameGlob]
    /// For each first byte, the indices of the globs a name starting with it could match, ascending.
    private let candidates: [[Int]]
    /// The globs with an empty literal prefix: the only ones the empty name could match.
    private let emptyPrefix: [Int]

    init(_ globs: [NameGlob]) {
        self.globs = globs
        var lists = [[Int]](repeating: [], count: 256)
        var empty: [Int] = []
        for (i, glob) in globs.enumerated() {
            if let first = glob.literalPrefix.first {
                lists[Int(first)].append(i)
            } else {
                empty.append(i)
                for b in 0..<256 { lists[b].append(i) }
            }
        }
        candidates = lists
        emptyPrefix = empty
    }

    /// The index of the first glob that matches `name`, if any.
    func firstMatch(_ name: UnsafeBufferPointer<UInt8>) -> Int? {
        let list = name.isEmpty ? emptyPrefix : candidates[Int(name[0])]
        for i in list where globs[i].matches(bytes: name) { return i }
        return nil
    }

    func firstMatch(_ name: String) -> Int? {
        var name = name
        return name.withUTF8 { firstMatch($0) }
    }
}
