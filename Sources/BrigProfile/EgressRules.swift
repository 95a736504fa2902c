public import BrigSystem

/// The words of egress by name (issue #14): a host rule (`api.github.com`, `*.example.com:443`,
/// `10.0.0.0/8:*`), and the allow- and deny-lists that decide, before a name is resolved and
/// after, whether the confined server may reach a host and port through brig's egress proxy.

/// Why a host rule's text does not parse: one line, for `file:line: key: message`.
public struct HostRuleError: Error, Sendable, Equatable, CustomStringConvertible {
    public var message: String
    public init(_ message: String) { self.message = message }
    public var description: String { message }
}

/// One entry of an egress allow- or deny-list: a host (a name pattern, an IP address or a
/// network) and the ports it covers.
///
/// Spellings (`parse`):
/// - a name, case-insensitive, a trailing dot ignored: `api.github.com`; `*` as the first label
///   is any subdomain at any depth but not the apex (`*.githubusercontent.com`); `*` inside a
///   label (or as another label) is any run of characters within that one label (`api-*.example.com`);
///   `*` alone is every name (never an IP literal);
/// - an IP literal: `10.0.0.5`, `::1`, `[::1]`;
/// - a network: `10.0.0.0/8`, `fd00::/8`, `[fd00::/8]` (no bits set past the prefix);
/// - then optionally a port: `:443`, `:8000-8100`, `:*` (any). An IPv6 address or network with a
///   port needs brackets: `[::1]:8080`. No port means 443 and 80 in an allow-list and every port
///   in a deny-list.
public struct HostRule: Sendable, Hashable, CustomStringConvertible {
    public enum Host: Sendable, Hashable {
        /// Lowercase labels, left to right, as written (`*` and `*` inside labels kept).
        case name([String])
        case address(IPAddress)
        case network(IPNetwork)
    }

    public enum Ports: Sendable, Hashable {
        /// No port written: 443 and 80 (allow), every port (deny).
        case unwritten
        /// `:*`.
        case any
        /// `:N` (low == high) or `:LOW-HIGH`.
        case range(UInt16, UInt16)
    }

    public var host: Host
    public var ports: Ports

    public init(host: Host, ports: Ports) {
        self.host = host
        self.ports = ports
    }

    /// Parses one rule (the spellings above).
    public static func parse(_ text: String) throws(HostRuleError) -> HostRule {
        guard !text.isEmpty else { throw HostRuleError("an empty host") }
        guard text.utf8.count <= 300 else { throw HostRuleError("\(text.prefix(40))…: too long for a host") }
        let (hostText, portText, bracketed) = try split(text)
        let ports = try portText.map { (p) throws(HostRuleError) in try parsePorts(p) } ?? .unwritten
        return HostRule(host: try parseHost(hostText, bracketed: bracketed, rule: text), ports: ports)
    }

    /// The host part, the port part (after `:`), and whether the host was in brackets.
    private static func split(_ text: String) throws(HostRuleError) -> (Substring, Substring?, Bool) {
        let s = Substring(text)
        if s.hasPrefix("[") {
            guard let close = s.firstIndex(of: "]") else { throw HostRuleError("\(text): no closing ] after the IPv6 address") }
            let inside = s[s.index(after: s.startIndex)..<close]
            let rest = s[s.index(after: close)...]
            if rest.isEmpty { return (inside, nil, true) }
            guard rest.hasPrefix(":") else { throw HostRuleError("\(text): expected :PORT after ]") }
            return (inside, rest.dropFirst(), true)
        }
        let colons = s.reduce(0) { $0 + ($1 == ":" ? 1 : 0) }
        if colons >= 2 { return (s, nil, false) }
        if let colon = s.firstIndex(of: ":") { return (s[..<colon], s[s.index(after: colon)...], false) }
        return (s, nil, false)
    }

    private static func parsePorts(_ text: Substring) throws(HostRuleError) -> Ports {
        if text == "*" { return .any }
        func port(_ t: Substring) throws(HostRuleError) -> UInt16 {
            guard !t.isEmpty, t.utf8.count <= 5, t.utf8.allSatisfy({ $0 >= 0x30 && $0 <= 0x39 }), let n = UInt16(t), n > 0 else {
                throw HostRuleError("bad port \"\(text)\" (a port is 1-65535, a range LOW-HIGH, or * for any)")
            }
            return n
        }
        let parts = text.split(separator: "-", maxSplits: 1, omittingEmptySubsequences: false)
        let low = try port(parts[0])
        let high = parts.count == 2 ? try port(parts[1]) : low
        guard low <= high else { throw HostRuleError("bad port range \"\(text)\" (the low port comes first)") }
        return .range(low, high)
    }

    private static func parseHost(_ text: Substring, bracketed: Bool, rule: String) throws(HostRuleError) -> Host {
        if let slash = text.firstIndex(of: "/") {
            let addressText = text[..<slash]
            let lengthText = text[text.index(after: slash)...]
            guard let address = IPAddress(addressText), !bracketed || address.family == .v6 else {
                throw HostRuleError("\(rule): \"\(addressText)\" is not an IP address (a network is ADDRESS/LENGTH)")
            }
            let width = address.family == .v4 ? 32 : 128
            guard !lengthText.isEmpty, lengthText.utf8.count <= 3, lengthText.utf8.allSatisfy({ $0 >= 0x30 && $0 <= 0x39 }),
                let length = Int(lengthText), let network = IPNetwork(address, prefixLength: length)
            else { throw HostRuleError("\(rule): bad prefix length \"\(lengthText)\" (0-\(width))") }
            guard network.address == address else {
                throw HostRuleError("\(rule): bits are set past the /\(length) prefix (the network is \(network))")
            }
            return .network(network)
        }
        if let address = IPAddress(text) {
            guard !bracketed || address.family == .v6 else { throw HostRuleError("\(rule): brackets are for IPv6 addresses") }
            return .address(address)
        }
        if bracketed || text.contains(":") {
            throw HostRuleError("\(rule): not an IPv6 address (with a port, an IPv6 address is written [ADDRESS]:PORT)")
        }
        switch HostName.labels(text, glob: true) {
        case .success(let labels): return .name(labels.map(String.init))
        case .failure(let error): throw HostRuleError("\(rule): \(error.message)")
        }
    }

    /// The canonical spelling (`brig check`, audit records, refusals): lowercase, no trailing
    /// dot, IPv6 as inet_ntop writes it, in brackets before a port.
    public var description: String {
        let portText: String
        switch ports {
        case .unwritten: portText = ""
        case .any: portText = ":*"
        case .range(let low, let high): portText = low == high ? ":\(low)" : ":\(low)-\(high)"
        }
        let hostText: String
        switch host {
        case .name(let labels): hostText = labels.joined(separator: ".")
        case .address(let a): hostText = portText.isEmpty ? a.description : a.bracketed
        case .network(let n): hostText = portText.isEmpty || n.address.family == .v4 ? n.description : "[\(n)]"
        }
        return hostText + portText
    }

    /// Whether the rule covers `port`; a deny rule without a port covers every port.
    public func covers(port: UInt16, denying: Bool) -> Bool {
        switch ports {
        case .unwritten: return denying || port == 443 || port == 80
        case .any: return true
        case .range(let low, let high): return low <= port && port <= high
        }
    }

    /// Whether the rule's host is this name (its lowercase labels, as `HostName.labels` gives them).
    public func matches(labels name: [Substring]) -> Bool {
        guard case .name(let pattern) = host else { return false }
        if pattern.first == "*" {
            // Any subdomain at any depth: at least one label more than the rest of the pattern.
            let rest = pattern.dropFirst()
            guard name.count > rest.count else { return false }
            return zip(rest, name.suffix(rest.count)).allSatisfy { HostName.label($1, matches: $0) }
        }
        return pattern.count == name.count && zip(pattern, name).allSatisfy { HostName.label($1, matches: $0) }
    }

    /// Whether the rule's address or network holds `address` (IPv4-mapped addresses as IPv4).
    public func matches(address: IPAddress) -> Bool {
        let a = address.unmapped
        switch host {
        case .name: return false
        case .address(let b): return b.unmapped == a
        case .network(let n): return n.contains(a)
        }
    }

    /// The ports the rule covers, in words, for a refusal.
    var portsInWords: String {
        switch ports {
        case .unwritten: return "ports 443 and 80"
        case .any: return "every port"
        case .range(let low, let high): return low == high ? "port \(low)" : "ports \(low)-\(high)"
        }
    }
}

/// Host names: validation and glob matching on labels.
public enum HostName {
    /// The lowercase labels of a host name, a trailing dot dropped: labels of 1-63 characters of
    /// `a-z 0-9 - _` (and `*` with `glob`), 253 characters at most, the last label not all digits
    /// (that is an IPv4 address in some spelling, which getaddrinfo would read as one). The
    /// failure's message does not repeat the name.
    public static func labels(_ text: Substring, glob: Bool = false) -> Result<[Substring], HostRuleError> {
        var name = text
        if name.hasSuffix(".") { name = name.dropLast() }
        guard !name.isEmpty else { return .failure(HostRuleError("an empty host name")) }
        guard name.utf8.count <= 253 else { return .failure(HostRuleError("a host name is 253 characters at most")) }
        var labels: [Substring] = []
        for label in name.split(separator: ".", omittingEmptySubsequences: false) {
            guard !label.isEmpty else { return .failure(HostRuleError("an empty label in the host name")) }
            guard label.utf8.count <= 63 else { return .failure(HostRuleError("a label is 63 characters at most")) }
            for c in label.utf8 {
                let ok = (c >= 0x61 && c <= 0x7a) || (c >= 0x41 && c <= 0x5a) || (c >= 0x30 && c <= 0x39) || c == 0x2d || c == 0x5f || (glob && c == 0x2a)
                guard ok else {
                    if c >= 0x80 { return .failure(HostRuleError("non-ASCII characters are not allowed in a host name (an IDN is written xn--…)")) }
                    return .failure(HostRuleError("\"\(Unicode.Scalar(c))\" is not allowed in a host name (letters, digits, - and _)"))
                }
            }
            labels.append(label.utf8.contains { $0 >= 0x41 && $0 <= 0x5a } ? Substring(label.lowercased()) : label)
        }
        if let last = labels.last, last.utf8.allSatisfy({ $0 >= 0x30 && $0 <= 0x39 }) {
            return .failure(HostRuleError("a host name whose last label is a number (an IP address is written as four numbers or in IPv6)"))
        }
        return .success(labels)
    }

    /// Whether `label` matches `pattern`, where `*` is any run of characters (the label's only
    /// metacharacter). Both lowercase.
    public static func label(_ label: Substring, matches pattern: some StringProtocol) -> Bool {
        let p = Array(pattern.utf8), s = Array(label.utf8)
        if !p.contains(0x2a) { return p == s }
        var i = 0, j = 0
        var star = -1, mark = 0
        while j < s.count {
            if i < p.count && p[i] == 0x2a {
                star = i
                mark = j
                i += 1
            } else if i < p.count && p[i] == s[j] {
                i += 1
                j += 1
            } else if star >= 0 {
                i = star + 1
                mark += 1
                j = mark
            } else {
                return false
            }
        }
        while i < p.count && p[i] == 0x2a { i += 1 }
        return i == p.count
    }
}

/// What the egress rules say of one connection: allowed or refused, the rule that decided (its
/// canonical text), and for a refusal the reason (`not in the allow-list`, `denied by 169.254.169.254`).
public struct EgressDecision: Sendable, Equatable {
    public var allowed: Bool
    public var rule: String?
    public var reason: String?

    public init(allowed: Bool, rule: String?, reason: String?) {
        self.allowed = allowed
        self.rule = rule
        self.reason = reason
    }

    public static func allow(by rule: HostRule?) -> EgressDecision { EgressDecision(allowed: true, rule: rule?.description, reason: nil) }
    public static func refuse(_ reason: String, by rule: HostRule? = nil) -> EgressDecision {
        EgressDecision(allowed: false, rule: rule?.description, reason: reason)
    }
}

/// The egress allow- and deny-lists. A deny rule wins over every allow rule; a deny rule with no
/// port denies every port. Names match name rules, IP literals match address and network rules.
public struct EgressRules: Sendable, Equatable {
    public var allow: [HostRule]
    public var deny: [HostRule]

    public init(allow: [HostRule] = [], deny: [HostRule] = []) {
        self.allow = allow
        self.deny = deny
    }

    /// The decision before any resolution, on the host as the request names it (a name, an IP
    /// literal, `[v6]`). A refused name is never looked up.
    public func decide(host: String, port: UInt16) -> EgressDecision {
        var text = Substring(host)
        if text.hasPrefix("["), text.hasSuffix("]") { text = text.dropFirst().dropLast() }
        if let address = IPAddress(text) {
            if let rule = deny.first(where: { $0.matches(address: address) && $0.covers(port: port, denying: true) }) {
                return .refuse("denied by \(rule)", by: rule)
            }
            if let rule = allow.first(where: { $0.matches(address: address) && $0.covers(port: port, denying: false) }) {
                return .allow(by: rule)
            }
            return refusal(port: port, near: allow.first { $0.matches(address: address) })
        }
        let labels: [Substring]
        switch HostName.labels(text) {
        case .success(let l): labels = l
        case .failure(let error): return .refuse("not a valid host name: \(error.message)")
        }
        if let rule = deny.first(where: { $0.matches(labels: labels) && $0.covers(port: port, denying: true) }) {
            return .refuse("denied by \(rule)", by: rule)
        }
        if let rule = allow.first(where: { $0.matches(labels: labels) && $0.covers(port: port, denying: false) }) {
            return .allow(by: rule)
        }
        return refusal(port: port, near: allow.first { $0.matches(labels: labels) })
    }

    private func refusal(port: UInt16, near: HostRule?) -> EgressDecision {
        guard let near else { return .refuse("not in the allow-list") }
        return .refuse("port \(port) is not in the allow-list (\(near) allows \(near.portsInWords))")
    }

    /// The decision on one address a host resolved to (or an IP literal), after `decide`
    /// allowed the host: a deny address or network refuses it; an address in a local
    /// special-purpose range (loopback, private, link-local, carrier-grade NAT, unique local,
    /// multicast, unspecified, broadcast, reserved; IPv4-mapped as IPv4) is refused unless an
    /// allow address or network covers it on `port` (no DNS rebinding onto the machine's own
    /// services or the cloud's metadata). Documentation and benchmarking addresses pass
    /// (`SpecialRange.isLocal`). `forName` is the name that resolved to it, for the reason.
    public func admits(address: IPAddress, port: UInt16, forName name: String?) -> EgressDecision {
        let a = address.unmapped
        let prefix = name == nil ? "" : "resolves to \(a), "
        if let rule = deny.first(where: { $0.matches(address: a) && $0.covers(port: port, denying: true) }) {
            return .refuse(prefix + "denied by \(rule)", by: rule)
        }
        guard let range = a.specialRange, range.isLocal else { return .allow(by: nil) }
        if let rule = allow.first(where: { $0.matches(address: a) && $0.covers(port: port, denying: false) }) {
            return .allow(by: rule)
        }
        return .refuse(name == nil ? "\(a) is \(range.rawValue)" : prefix + range.rawValue)
    }
}
