#if canImport(Glibc)
@preconcurrency public import Glibc
#endif

/// Searching bytes with `memchr` on a first byte, then a compare: the pre-checks on the message
/// path (secret prefixes, injected values, sensitive names, policy needles) are built on these.
public enum ByteSearch {
    /// Calls `body` with the index of each `byte` in `b` until it returns false.
    @inlinable @inline(__always)
    public static func forEach(_ byte: UInt8, in b: UnsafeBufferPointer<UInt8>, _ body: (Int) -> Bool) {
        guard let base = b.baseAddress else { return }
        var i = 0
        let n = b.count
        while i < n, let p = memchr(base + i, Int32(byte), n - i) {
            let k = UnsafeRawPointer(p) - UnsafeRawPointer(base)
            if !body(k) { return }
            i = k + 1
        }
    }

    /// Whether `needle` occurs in `b` (an empty needle always does).
    @inlinable
    public static func contains(_ b: UnsafeBufferPointer<UInt8>, _ needle: [UInt8]) -> Bool {
        guard let first = needle.first, needle.count <= b.count, let base = b.baseAddress else { return needle.isEmpty }
        var found = false
        needle.withUnsafeBytes { nd in
            forEach(first, in: b) { i in
                if i + needle.count <= b.count, memcmp(base + i, nd.baseAddress!, needle.count) == 0 { found = true }
                return !found
            }
        }
        return found
    }

    /// Whether `needle` occurs in `haystack`.
    @inlinable
    public static func contains(_ haystack: some Collection<UInt8>, _ needle: [UInt8]) -> Bool {
        if let found = haystack.withContiguousStorageIfAvailable({ contains($0, needle) }) { return found }
        let copy = Array(haystack)
        return copy.withUnsafeBufferPointer { contains($0, needle) }
    }

    /// The index of the first `needle` in `haystack` at or after `from`, or nil.
    public static func firstIndex(of needle: [UInt8], in haystack: [UInt8], from: Int = 0) -> Int? {
        guard let first = needle.first else { return from <= haystack.count ? from : nil }
        var i = max(0, from)
        while i + needle.count <= haystack.count {
            if haystack[i] == first, haystack[i..<(i + needle.count)].elementsEqual(needle) { return i }
            i += 1
        }
        return nil
    }
}
