/// Sizes as people write them, one spelling for the profile and the command line alike:
/// `65536`, `64KiB`, `16 MiB`, `1.5GiB`, `2TiB`, `64K`/`16M`/`1G` (binary, as `ulimit` and
/// `docker` read them), `64KB`/`16MB`/`1GB`/`1TB` (decimal), `512B`, and `unlimited`.
public enum ByteSize {
    /// `unlimited`: a resource with no limit.
    public static let unlimited = UInt64.max

    static let units: [(suffix: String, factor: UInt64)] = [
        ("KiB", 1 << 10), ("MiB", 1 << 20), ("GiB", 1 << 30), ("TiB", 1 << 40),
        ("KB", 1_000), ("MB", 1_000_000), ("GB", 1_000_000_000), ("TB", 1_000_000_000_000),
        ("K", 1 << 10), ("M", 1 << 20), ("G", 1 << 30), ("T", 1 << 40), ("B", 1),
    ]

    /// The number of bytes (rounded down), `unlimited` as `UInt64.max`; nil for anything else,
    /// a negative number or a size of `UInt64.max` bytes or more.
    public static func parse(_ text: String) -> UInt64? {
        let t = trimmed(Substring(text))
        if t == "unlimited" { return unlimited }
        var number = t, factor: UInt64 = 1
        for u in units where t.hasSuffix(u.suffix) {
            number = trimmed(t.dropLast(u.suffix.count))
            factor = u.factor
            break
        }
        let parts = number.split(separator: ".", maxSplits: 1, omittingEmptySubsequences: false)
        guard let whole = parts.first, !whole.isEmpty, isDigits(whole), let n = UInt64(whole) else { return nil }
        var (total, overflow) = n.multipliedReportingOverflow(by: factor)
        guard !overflow else { return nil }
        if parts.count == 2 {
            // A fraction of the unit: digits past the 18th cannot change a byte count.
            let digits = parts[1]
            guard !digits.isEmpty, isDigits(digits) else { return nil }
            let kept = digits.prefix(18)
            var scale: UInt64 = 1
            for _ in kept { scale *= 10 }
            let fraction = UInt64(kept)!
            let product = fraction.multipliedFullWidth(by: factor)
            let bytes = scale.dividingFullWidth((product.high, product.low)).quotient
            (total, overflow) = total.addingReportingOverflow(bytes)
            guard !overflow else { return nil }
        }
        return total == UInt64.max ? nil : total
    }

    private static func isDigits(_ s: Substring) -> Bool { s.utf8.allSatisfy { $0 >= 0x30 && $0 <= 0x39 } }

    private static func trimmed(_ s: Substring) -> Substring {
        var s = s
        while let f = s.first, f == " " || f == "\t" { s.removeFirst() }
        while let l = s.last, l == " " || l == "\t" { s.removeLast() }
        return s
    }
}
