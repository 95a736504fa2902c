/// The growable byte buffer a record is written into: appends go through a pointer, with one
/// capacity check each and no copy-on-write checks, which an `[UInt8]` makes on every append
/// (a record is about 150 small appends). Owned by one writer; never shared between threads.
final class ByteBuffer {
    // Unchecked exclusivity: a writer owns its buffer on one thread, and the dynamic checks
    // (`swift_beginAccess` on every append) cost as much as the appends themselves.
    @exclusivity(unchecked) private(set) var base: UnsafeMutablePointer<UInt8>
    @exclusivity(unchecked) private(set) var count = 0
    @exclusivity(unchecked) private var capacity: Int

    init(capacity: Int = 512) {
        self.capacity = max(capacity, 16)
        base = .allocate(capacity: self.capacity)
    }

    deinit { base.deallocate() }

    /// The bytes written so far (valid until the next append).
    var bytes: UnsafeRawBufferPointer { UnsafeRawBufferPointer(start: base, count: count) }

    var array: [UInt8] { Array(UnsafeBufferPointer(start: base, count: count)) }

    var isEmpty: Bool { count == 0 }

    func removeAll() { count = 0 }

    @inline(__always)
    func append(_ byte: UInt8) {
        if count == capacity { grow(to: count + 1) }
        base[count] = byte
        count += 1
    }

    @inline(__always)
    func append(contentsOf bytes: UnsafeRawBufferPointer) {
        guard let source = bytes.baseAddress, bytes.count > 0 else { return }
        if count + bytes.count > capacity { grow(to: count + bytes.count) }
        (base + count).update(from: source.assumingMemoryBound(to: UInt8.self), count: bytes.count)
        count += bytes.count
    }

    func append(contentsOf bytes: UnsafeBufferPointer<UInt8>) { append(contentsOf: UnsafeRawBufferPointer(bytes)) }

    func append(contentsOf bytes: [UInt8]) { bytes.withUnsafeBytes { append(contentsOf: $0) } }

    func append(contentsOf bytes: ArraySlice<UInt8>) { bytes.withUnsafeBytes { append(contentsOf: $0) } }

    /// Appends an integer's bytes as they are in memory.
    @inline(__always)
    func append<T: FixedWidthInteger>(bitsOf value: T) {
        let size = MemoryLayout<T>.size
        if count + size > capacity { grow(to: count + size) }
        UnsafeMutableRawPointer(base + count).storeBytes(of: value, as: T.self)
        count += size
    }

    /// Empties the buffer; frees its storage when it grew past `limit` (after a burst).
    func removeAll(shrinkingPast limit: Int) {
        count = 0
        guard capacity > limit else { return }
        base.deallocate()
        capacity = limit
        base = .allocate(capacity: limit)
    }

    /// Appends the lower-case hex digits of `bytes`.
    func appendHex(_ bytes: UnsafeRawBufferPointer) {
        let size = bytes.count * 2
        if count + size > capacity { grow(to: count + size) }
        var at = base + count
        hexDigits.withUnsafeBufferPointer { digits in
            for b in bytes {
                at[0] = digits[Int(b >> 4)]
                at[1] = digits[Int(b & 0xF)]
                at += 2
            }
        }
        count += size
    }

    private func grow(to needed: Int) {
        var newCapacity = capacity * 2
        while newCapacity < needed { newCapacity *= 2 }
        let newBase = UnsafeMutablePointer<UInt8>.allocate(capacity: newCapacity)
        newBase.update(from: base, count: count)
        base.deallocate()
        base = newBase
        capacity = newCapacity
    }
}
