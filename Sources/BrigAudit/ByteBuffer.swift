/// The growable byte buffer a record is written into: appends go through a pointer, with one
/// capacity check each and no copy-on-write checks, which an `[UInt8]` makes on every append
/// (a record is about 150 small appends). Owned by one writer; never shared between threads.
final class ByteBuffer {
    // Unchecked exclusivity: a writer owns its buffer on one thread, and the dynamic checks
    // (`swift_beginAccess` on every append) cost as much as the appends themselves.
    @exclusivity(unchecked) private(set) var base: UnsafeMutablePointer<UInt8>
    @exclusivity(unchecked) private(set) var count = 0
    @exclusivity(unchecked) private(set) var capacity: Int

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

    /// Appends `,"k":` (the comma when `comma`) or `"k":` for a key that needs no escaping.
    @inline(__always)
    func appendKey(_ k: UnsafeRawBufferPointer, comma: Bool) {
        let size = k.count + 4
        if count + size > capacity { grow(to: count + size) }
        var at = base + count
        if comma {
            at[0] = UInt8(ascii: ",")
            at += 1
        }
        at[0] = UInt8(ascii: "\"")
        if let source = k.baseAddress, k.count > 0 {
            (at + 1).update(from: source.assumingMemoryBound(to: UInt8.self), count: k.count)
        }
        at[k.count + 1] = UInt8(ascii: "\"")
        at[k.count + 2] = UInt8(ascii: ":")
        count = at + k.count + 3 - base
    }

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

    /// Writes a zero into every 4 KiB page of the free space, so that its page faults happen now.
    func touchPages() {
        var i = count
        while i < capacity {
            base[i] = 0
            i += 4096
        }
    }

    /// Appends the lower-case hex digits of `bytes`.
    func appendHex(_ bytes: UnsafeRawBufferPointer) {
        let size = bytes.count * 2
        if count + size > capacity { grow(to: count + size) }
        var at = base + count
        for b in bytes {
            at[0] = ByteBuffer.hexDigit(b >> 4)
            at[1] = ByteBuffer.hexDigit(b & 0xF)
            at += 2
        }
        count += size
    }

    /// The lower-case hex digit of a nibble, without a table lookup.
    @inline(__always)
    private static func hexDigit(_ n: UInt8) -> UInt8 {
        let d = n &+ 0x30
        return d > 0x39 ? d &+ 0x27 : d
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
