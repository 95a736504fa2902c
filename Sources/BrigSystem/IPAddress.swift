#if canImport(Glibc)
@preconcurrency public import Glibc
#endif

/// An IPv4 or IPv6 address, parsed with inet_pton and written with inet_ntop: the egress
/// allow-list's literals and networks, the addresses a name resolves to, the peer of a socket.
/// Two addresses are equal when family and bits are; an IPv4-mapped IPv6 address (`::ffff:a.b.c.d`)
/// is an IPv6 address until `unmapped` makes it the IPv4 one.
public struct IPAddress: Sendable, Hashable, CustomStringConvertible {
    public enum Family: Sendable, Hashable { case v4, v6 }

    public let family: Family
    /// The address as a 128-bit number, most significant half first (IPv4: the 32 bits in `low`).
    let high: UInt64
    let low: UInt64

    /// The IPv4 address with this value (`0x7f000001` is 127.0.0.1).
    public init(v4 value: UInt32) {
        family = .v4
        high = 0
        low = UInt64(value)
    }

    /// The address in network byte order: 4 bytes (IPv4) or 16 (IPv6); nil for another count.
    public init?(bytes: some Collection<UInt8>) {
        switch bytes.count {
        case 4:
            family = .v4
            high = 0
            low = bytes.reduce(0) { $0 << 8 | UInt64($1) }
        case 16:
            family = .v6
            high = bytes.prefix(8).reduce(0) { $0 << 8 | UInt64($1) }
            low = bytes.dropFirst(8).reduce(0) { $0 << 8 | UInt64($1) }
        default:
            return nil
        }
    }

    init(family: Family, high: UInt64, low: UInt64) {
        self.family = family
        self.high = high
        self.low = low
    }

    /// A literal as inet_pton reads it: dotted-quad IPv4 (four decimal parts, no leading zeros)
    /// or IPv6 text, without brackets, zone or prefix. The corresponding C function is `inet_pton`.
    public init?(_ text: some StringProtocol) {
        var raw: (UInt64, UInt64) = (0, 0)
        let isV6 = text.contains(":")
        guard text.utf8.count <= 45,
            String(text).withCString({ s in withUnsafeMutableBytes(of: &raw) { inet_pton(isV6 ? AF_INET6 : AF_INET, s, $0.baseAddress) } }) == 1
        else { return nil }
        let bytes = withUnsafeBytes(of: raw) { Array($0) }
        self.init(bytes: isV6 ? bytes : Array(bytes.prefix(4)))
    }

    /// The address in network byte order (4 or 16 bytes).
    public var bytes: [UInt8] {
        switch family {
        case .v4: return (0..<4).map { UInt8(truncatingIfNeeded: low >> (24 - 8 * UInt64($0))) }
        case .v6: return (0..<8).map { UInt8(truncatingIfNeeded: high >> (56 - 8 * UInt64($0))) } + (0..<8).map { UInt8(truncatingIfNeeded: low >> (56 - 8 * UInt64($0))) }
        }
    }

    /// The IPv4 address's value (nil for IPv6).
    public var v4Value: UInt32? { family == .v4 ? UInt32(truncatingIfNeeded: low) : nil }

    /// The IPv4 address an IPv4-mapped IPv6 address (`::ffff:0:0/96`) stands for; any other address as it is.
    public var unmapped: IPAddress {
        guard family == .v6, high == 0, low >> 32 == 0xffff else { return self }
        return IPAddress(v4: UInt32(truncatingIfNeeded: low))
    }

    /// inet_ntop's text: `10.0.0.5`, `::1`, `fd00::1:2`, `::ffff:10.0.0.5`.
    public var description: String {
        var bytes = self.bytes
        var text = [CChar](repeating: 0, count: 64)
        guard inet_ntop(family == .v4 ? AF_INET : AF_INET6, &bytes, &text, socklen_t(text.count)) != nil else { return "?" }
        return String(decoding: text.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
    }

    /// The text with IPv6 in brackets, as it stands before `:PORT` in a URL or a CONNECT target.
    public var bracketed: String { family == .v6 ? "[\(description)]" : description }

    /// The first `length` bits kept, the others zero.
    public func masked(to length: Int) -> IPAddress {
        let width = family == .v4 ? 32 : 128
        let keep = max(0, min(length, width))
        if family == .v4 {
            let mask: UInt64 = keep == 0 ? 0 : (0xffff_ffff << UInt64(32 - keep)) & 0xffff_ffff
            return IPAddress(family: .v4, high: 0, low: low & mask)
        }
        let highMask: UInt64 = keep >= 64 ? .max : (keep == 0 ? 0 : .max << UInt64(64 - keep))
        let lowMask: UInt64 = keep <= 64 ? 0 : (keep == 128 ? .max : .max << UInt64(128 - keep))
        return IPAddress(family: .v6, high: high & highMask, low: low & lowMask)
    }

    // MARK: Socket addresses

    /// The address of a `sockaddr_in` or `sockaddr_in6` (nil for another family), and its port.
    public static func from(socketAddress: UnsafeRawPointer) -> (address: IPAddress, port: UInt16)? {
        switch Int32(socketAddress.load(as: sockaddr.self).sa_family) {
        case AF_INET:
            let sin = socketAddress.load(as: sockaddr_in.self)
            return (IPAddress(v4: UInt32(bigEndian: sin.sin_addr.s_addr)), UInt16(bigEndian: sin.sin_port))
        case AF_INET6:
            let sin6 = socketAddress.load(as: sockaddr_in6.self)
            guard let address = withUnsafeBytes(of: sin6.sin6_addr, { IPAddress(bytes: $0) }) else { return nil }
            return (address, UInt16(bigEndian: sin6.sin6_port))
        default:
            return nil
        }
    }

    /// Calls `body` with this address and `port` as a `sockaddr_in` or `sockaddr_in6` (for
    /// connect(2) and bind(2)) and its length.
    public func withSocketAddress<R>(port: UInt16, _ body: (UnsafePointer<sockaddr>, socklen_t) -> R) -> R {
        switch family {
        case .v4:
            var sin = sockaddr_in()
            sin.sin_family = sa_family_t(AF_INET)
            sin.sin_port = port.bigEndian
            sin.sin_addr.s_addr = UInt32(truncatingIfNeeded: low).bigEndian
            return withUnsafePointer(to: &sin) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { body($0, socklen_t(MemoryLayout<sockaddr_in>.size)) } }
        case .v6:
            var sin6 = sockaddr_in6()
            sin6.sin6_family = sa_family_t(AF_INET6)
            sin6.sin6_port = port.bigEndian
            let bytes = self.bytes
            withUnsafeMutableBytes(of: &sin6.sin6_addr) { $0.copyBytes(from: bytes) }
            return withUnsafePointer(to: &sin6) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { body($0, socklen_t(MemoryLayout<sockaddr_in6>.size)) } }
        }
    }

    // MARK: Special-purpose ranges

    /// The kind of range an address is in that no public host lives in (RFC 6890's registries,
    /// narrowed to what a confined server must not reach by a name's resolution: the machine's
    /// own services, its networks, the cloud's metadata service); nil for a public address. An
    /// IPv4-mapped address, a NAT64 address (`64:ff9b::/96`) and a 6to4 address (`2002::/16`)
    /// are judged by the IPv4 address they carry.
    public var specialRange: SpecialRange? {
        if family == .v4 { return IPAddress.v4Special(UInt32(truncatingIfNeeded: low)) }
        let mapped = unmapped
        if mapped.family == .v4 { return IPAddress.v4Special(UInt32(truncatingIfNeeded: mapped.low)) }
        if high == 0 && low == 0 { return .unspecified }
        if high == 0 && low == 1 { return .loopback }
        if high == 0 && low >> 32 == 0 { return .reserved }  // ::/96, the deprecated IPv4-compatible addresses
        if high == 0x0064_ff9b_0000_0000 && low >> 32 == 0 { return IPAddress.v4Special(UInt32(truncatingIfNeeded: low)) }
        if high >> 16 == 0x0064_ff9b_0001 { return .privateUse }  // 64:ff9b:1::/48, local-use NAT64
        if high >> 48 == 0x2002 { return IPAddress.v4Special(UInt32(truncatingIfNeeded: high >> 16)) }
        if high == 0x0100_0000_0000_0000 { return .reserved }  // 100::/64, discard-only
        if high >> 32 == 0x2001_0db8 { return .documentation }
        let top = high >> 56
        if top & 0xfe == 0xfc { return .uniqueLocal }
        if top == 0xfe && (high >> 54) & 0x3 == 0x2 { return .linkLocal }  // fe80::/10
        if top == 0xfe && (high >> 54) & 0x3 == 0x3 { return .privateUse }  // fec0::/10, the deprecated site-local
        if top == 0xff { return .multicast }
        return nil
    }

    /// The ranges `specialRange` names, each with the words a refusal says.
    public enum SpecialRange: String, Sendable, CaseIterable {
        case unspecified = "an unspecified address"
        case loopback = "a loopback address"
        case privateUse = "a private address"
        case linkLocal = "a link-local address"
        case sharedAddressSpace = "a carrier-grade NAT address"
        case uniqueLocal = "a unique local address"
        case multicast = "a multicast address"
        case broadcast = "the broadcast address"
        case documentation = "a documentation address"
        case benchmarking = "a benchmarking address"
        case reserved = "a reserved address"

        /// Whether the machine's own services, its networks' or the cloud's metadata can answer
        /// there: every range but documentation and benchmarking. No network routes those two
        /// publicly, and some networks present what a name stands for there on purpose (a
        /// package mirror at a documentation address, a fake-IP proxy's 198.18.0.0/15), so a
        /// name that resolves into them is not a rebinding onto anything of the host's.
        public var isLocal: Bool {
            switch self {
            case .documentation, .benchmarking: return false
            case .unspecified, .loopback, .privateUse, .linkLocal, .sharedAddressSpace, .uniqueLocal, .multicast, .broadcast, .reserved:
                return true
            }
        }
    }

    private static let v4Ranges: [(UInt32, Int, SpecialRange)] = [
        (0x0000_0000, 8, .unspecified),  // 0.0.0.0/8, "this network"
        (0x0a00_0000, 8, .privateUse),  // 10.0.0.0/8
        (0x6440_0000, 10, .sharedAddressSpace),  // 100.64.0.0/10
        (0x7f00_0000, 8, .loopback),  // 127.0.0.0/8
        (0xa9fe_0000, 16, .linkLocal),  // 169.254.0.0/16 (the metadata service at 169.254.169.254)
        (0xac10_0000, 12, .privateUse),  // 172.16.0.0/12
        (0xc000_0000, 24, .reserved),  // 192.0.0.0/24, IETF protocol assignments
        (0xc000_0200, 24, .documentation),  // 192.0.2.0/24
        (0xc058_6300, 24, .reserved),  // 192.88.99.0/24, the former 6to4 relay anycast
        (0xc0a8_0000, 16, .privateUse),  // 192.168.0.0/16
        (0xc612_0000, 15, .benchmarking),  // 198.18.0.0/15
        (0xc633_6400, 24, .documentation),  // 198.51.100.0/24
        (0xcb00_7100, 24, .documentation),  // 203.0.113.0/24
        (0xe000_0000, 4, .multicast),  // 224.0.0.0/4
        (0xffff_ffff, 32, .broadcast),  // 255.255.255.255
        (0xf000_0000, 4, .reserved),  // 240.0.0.0/4
    ]

    private static func v4Special(_ value: UInt32) -> SpecialRange? {
        for (base, length, range) in v4Ranges where value & (UInt32.max << UInt32(32 - length)) == base { return range }
        return nil
    }
}

/// An IPv4 or IPv6 network in CIDR notation (`10.0.0.0/8`, `fd00::/8`).
public struct IPNetwork: Sendable, Hashable, CustomStringConvertible {
    /// The network's first address (every bit past the prefix zero).
    public let address: IPAddress
    public let prefixLength: Int

    /// The network of `prefixLength` bits around `address` (its bits past the prefix dropped);
    /// nil for a length past the family's width.
    public init?(_ address: IPAddress, prefixLength: Int) {
        guard prefixLength >= 0, prefixLength <= (address.family == .v4 ? 32 : 128) else { return nil }
        self.address = address.masked(to: prefixLength)
        self.prefixLength = prefixLength
    }

    /// Whether `other` is in the network (same family: an IPv4 network holds no IPv6 address;
    /// unmap a mapped one first).
    public func contains(_ other: IPAddress) -> Bool {
        other.family == address.family && other.masked(to: prefixLength) == address
    }

    public var description: String { "\(address)/\(prefixLength)" }
}
