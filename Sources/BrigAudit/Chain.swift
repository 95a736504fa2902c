import BrigSystem
import CLibcrypto
import Crypto

#if canImport(Glibc)
import Glibc
#endif

/// The keyed hash chain.
///
/// A record's line ends with `,"mac":"<64 hex>"}}` (`mac` is the last member of `brig`, and
/// `brig` the last member of the record). Its canonical bytes are the line with that
/// `,"mac":"<64 hex>"` removed (so they end in `"prev_mac":"<64 hex>"}}`), and
/// `mac = HMAC-SHA256(key, prev_mac_bytes || canonical_bytes)` where `prev_mac_bytes` are the
/// 32 bytes the record's own `brig.prev_mac` names (32 zero bytes for the first record of a log).
enum Chain {
    /// `,"mac":"` + 64 hex + `"}}`.
    static let suffixLength = 8 + 64 + 3
    static let zeroMAC = [UInt8](repeating: 0, count: 32)
    static let macPrefix: [UInt8] = Array(",\"mac\":\"".utf8)
    /// What ends a record's canonical bytes after its `prev_mac` (the `brig` object and the record).
    static let closing: [UInt8] = [0x7D, 0x7D]
    /// What follows the MAC's hex digits: the quote, the two closing braces, the newline.
    static let recordEnd: [UInt8] = [0x22, 0x7D, 0x7D, 0x0A]

    static func mac(key: SymmetricKey, prev: [UInt8], canonical: [UInt8]) -> [UInt8] {
        var h = HMAC<SHA256>(key: key)
        prev.withUnsafeBytes { h.update(data: $0) }
        canonical.withUnsafeBytes { h.update(data: $0) }
        return h.finalize().withUnsafeBytes { Array($0) }
    }

    /// Splits a line (no newline) into its canonical bytes and the MAC it carries, or nil when the
    /// line does not end the way a record does.
    static func split(_ line: ArraySlice<UInt8>) -> (canonical: [UInt8], mac: [UInt8])? {
        guard line.count > suffixLength else { return nil }
        let s = line.index(line.endIndex, offsetBy: -suffixLength)
        let prefix: [UInt8] = Array(",\"mac\":\"".utf8)
        guard line[s..<(s + 8)].elementsEqual(prefix),
            line[(s + 72)...].elementsEqual([0x22, 0x7D, 0x7D])
        else { return nil }
        var hexBytes = Substring("")
        hexBytes = Substring(decoding: line[(s + 8)..<(s + 72)], as: UTF8.self)
        guard let mac = Hex.decode(hexBytes.utf8), mac.count == 32 else { return nil }
        var canonical = Array(line[line.startIndex..<s])
        canonical.append(0x7D)
        canonical.append(0x7D)
        return (canonical, mac)
    }
}

/// HMAC-SHA256 under one key with the key's two pad blocks hashed once (RFC 2104: the inner and
/// outer hash states after `key XOR ipad` and `key XOR opad` are the same for every message), so
/// a record costs its own blocks plus two, not four, and no key setup. The states are libcrypto's
/// plain `SHA256_CTX` structs, copied on the stack per record and wiped after. The writer signs
/// every record with it; `Chain.mac` (swift-crypto's HMAC) is the reference it is tested against.
struct ChainSigner: @unchecked Sendable {
    private let inner: SHA256_CTX
    private let outer: SHA256_CTX

    init(key: SymmetricKey) {
        var block = [UInt8](repeating: 0, count: 64)
        key.withUnsafeBytes { k in
            if k.count > 64 {
                let digest = SHA256.hash(data: k)
                digest.withUnsafeBytes { d in for i in 0..<d.count { block[i] = d[i] } }
            } else {
                for i in 0..<k.count { block[i] = k[i] }
            }
        }
        var i = SHA256_CTX(), o = SHA256_CTX()
        SHA256_Init(&i)
        SHA256_Init(&o)
        let ipad = block.map { $0 ^ 0x36 }, opad = block.map { $0 ^ 0x5C }
        _ = ipad.withUnsafeBytes { SHA256_Update(&i, $0.baseAddress, $0.count) }
        _ = opad.withUnsafeBytes { SHA256_Update(&o, $0.baseAddress, $0.count) }
        inner = i
        outer = o
        block.withUnsafeMutableBytes { OPENSSL_cleanse($0.baseAddress, $0.count) }
    }

    /// HMAC(key, prev || canonical || tail) into `out` (32 bytes).
    func sign(
        prev: UnsafeRawBufferPointer, canonical: UnsafeRawBufferPointer, tail: UnsafeRawBufferPointer,
        into out: UnsafeMutableRawBufferPointer
    ) {
        precondition(out.count >= 32)
        let digest = out.baseAddress!.assumingMemoryBound(to: UInt8.self)
        var h = inner
        SHA256_Update(&h, prev.baseAddress, prev.count)
        SHA256_Update(&h, canonical.baseAddress, canonical.count)
        SHA256_Update(&h, tail.baseAddress, tail.count)
        SHA256_Final(digest, &h)
        var o = outer
        SHA256_Update(&o, digest, 32)
        SHA256_Final(digest, &o)
        OPENSSL_cleanse(&h, MemoryLayout<SHA256_CTX>.size)
        OPENSSL_cleanse(&o, MemoryLayout<SHA256_CTX>.size)
    }
}

/// The HMAC key: 32 random bytes in a file (mode 0600). A file of 64 hex digits is read too.
public enum AuditKey {
    /// `$XDG_STATE_HOME/brig/audit.key` (XDG_STATE_HOME defaults to `$HOME/.local/state`).
    public static func defaultPath(environment: [String: String]) -> String {
        StateDirectory.brig(environment: environment) + "/audit.key"
    }

    /// Reads the key at `path`.
    public static func load(_ path: String) throws(AuditError) -> [UInt8] {
        let bytes: [UInt8]
        do {
            bytes = try FileSystem.contents(of: path, limit: 256)
        } catch  where error.code == EFBIG {
            throw AuditError("audit key \(path) is not 32 bytes (or 64 hex digits); it has more than 256 bytes")
        } catch {
            throw AuditError("cannot read audit key \(path): \(SystemError.text(error.code))")
        }
        if bytes.count == 32 { return bytes }
        var text = bytes
        while let l = text.last, l == 0x0A || l == 0x0D || l == 0x20 { text.removeLast() }
        if text.count == 64, let k = Hex.decode(String(decoding: text, as: UTF8.self)) { return k }
        throw AuditError("audit key \(path) is not 32 bytes (or 64 hex digits); it has \(bytes.count) bytes")
    }

    /// Reads the key at `path`, creating it (32 random bytes, 0600, parent directories 0700) when
    /// it does not exist.
    public static func loadOrCreate(_ path: String) throws(AuditError) -> [UInt8] {
        if access(path, F_OK) == 0 { return try load(path) }
        do { try FileSystem.makeDirectories(FileSystem.parent(of: path)) } catch { throw AuditError(error.description) }
        var key = [UInt8](repeating: 0, count: 32)
        var rng = SystemRandomNumberGenerator()
        for i in 0..<32 { key[i] = UInt8.random(in: 0...255, using: &rng) }
        // Written in full under a private name, then linked into place: a brig starting at the
        // same moment finds either no key or the whole key, never an empty file.
        let tmp = path + ".\(getpid()).\(UInt32.random(in: 0...UInt32.max, using: &rng)).tmp"
        let fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0o600)
        guard fd >= 0 else { throw AuditError("cannot create audit key \(tmp): \(SystemError.text())") }
        defer { unlink(tmp) }
        guard FileSystem.writeAll(fd, key[...]) else {
            let e = errno
            close(fd)
            throw AuditError("cannot write audit key \(tmp): \(SystemError.text(e))")
        }
        fsync(fd)
        close(fd)
        if link(tmp, path) != 0 {
            if errno == EEXIST { return try load(path) }  // another brig created it first
            throw AuditError("cannot create audit key \(path): \(SystemError.text())")
        }
        return key
    }
}

/// SHA-256 hex of a file's contents, streamed.
func sha256File(_ path: String) -> String? {
    let fd = open(path, O_RDONLY | O_CLOEXEC)
    guard fd >= 0 else { return nil }
    defer { close(fd) }
    var h = SHA256()
    var buf = [UInt8](repeating: 0, count: 1 << 16)
    while true {
        let n = retryingInterrupted { buf.withUnsafeMutableBytes { read(fd, $0.baseAddress, $0.count) } }
        if n < 0 { return nil }
        if n == 0 { break }
        h.update(data: buf[0..<n])
    }
    return Hex.encode(h.finalize())
}

func sha256Hex(_ bytes: some Sequence<UInt8>) -> String {
    Hex.encode(SHA256.hash(data: Array(bytes)))
}

/// The last complete line of a file (read backwards in chunks), and whether the file ends in a
/// partial line (no final newline).
func lastLine(_ path: String) -> (line: [UInt8]?, partial: Bool, size: Int64)? {
    let fd = open(path, O_RDONLY | O_CLOEXEC)
    guard fd >= 0 else { return nil }
    defer { close(fd) }
    var st = stat()
    guard fstat(fd, &st) == 0 else { return nil }
    let size = Int64(st.st_size)
    if size == 0 { return (nil, false, 0) }
    var tail: [UInt8] = []
    var pos = size
    let chunk: Int64 = 1 << 16
    var partial: Bool?
    while pos > 0 {
        let start = max(0, pos - chunk)
        var buf = [UInt8](repeating: 0, count: Int(pos - start))
        let n = buf.withUnsafeMutableBytes { pread(fd, $0.baseAddress, $0.count, off_t(start)) }
        guard n == buf.count else { return nil }
        tail = buf + tail
        pos = start
        if partial == nil { partial = tail.last != 0x0A }
        // The end of the last complete line is the last newline; its start the newline before.
        guard let end = tail.lastIndex(of: 0x0A) else { continue }
        if let begin = tail[..<end].lastIndex(of: 0x0A) {
            return (Array(tail[(begin + 1)..<end]), partial ?? false, size)
        }
        if pos == 0 { return (Array(tail[..<end]), partial ?? false, size) }
    }
    return (nil, partial ?? false, size)
}
