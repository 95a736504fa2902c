public import BrigSystem

#if canImport(Glibc)
@preconcurrency import Glibc
#endif

/// The JSON-RPC request in flight when a connection was opened (the proxy asks at accept): what
/// the audit record and the report tie the connection to.
public struct EgressCause: Sendable, Equatable {
    public var id: String
    public var method: String
    public var tool: String?

    public init(id: String, method: String, tool: String?) {
        self.id = id
        self.method = method
        self.tool = tool
    }
}

/// One connection the proxy accepted, as `finished` gets it (once, when it is over: refused ones
/// right away, relayed ones when both directions have ended).
public struct EgressConnection: Sendable {
    public typealias Kind = ProxyRequest.Kind

    /// The host the request named (lowercase, IPv6 without brackets); empty when the head did
    /// not get that far.
    public var host: String
    /// 0 when the head did not get that far.
    public var port: UInt16
    /// nil when the head was not a request the proxy takes.
    public var kind: Kind?
    /// The address brig connected to; nil when it connected to none.
    public var address: IPAddress?
    /// Whether the rules allowed the connection (false for a refusal by rule, by address, by the
    /// TLS server name, and for a head the proxy does not take).
    public var allowed: Bool
    /// The canonical text of the rule that decided, if one did.
    public var rule: String?
    /// Why it was refused or failed; nil for a connection relayed to its end.
    public var reason: String?
    /// Bytes relayed from the server to the far end (for `http`, with the rewritten head).
    public var bytesUp: UInt64
    /// Bytes relayed from the far end to the server.
    public var bytesDown: UInt64
    /// CLOCK_REALTIME at accept, in microseconds since the epoch.
    public var startMicros: UInt64
    /// From accept to the end, in microseconds (CLOCK_MONOTONIC).
    public var durationMicros: UInt64
    public var cause: EgressCause?
    /// The HTTP status brig answered (200, 400, 403, 408, 502, 503…); nil when it answered
    /// nothing (the server closed before its head was whole, or brig stopped).
    public var status: Int?
    /// Which rule refused it (nil when the rules let it through), so that a report can say what
    /// would let it through: a deny rule must go, an address must be named, or the host added.
    public var refusal: Refusal?

    /// What in the rules refused a connection.
    public enum Refusal: Sendable, Equatable {
        /// No allow rule names the host on this port (or the head named no valid host).
        case notAllowed
        /// A deny rule (its canonical text) matched: deny wins over allow.
        case denied(String)
        /// The host is allowed, but resolved only to addresses in local ranges (this is the
        /// first), which pass only when an allow rule names the address.
        case localAddress(IPAddress)
    }

    init(startMicros: UInt64, cause: EgressCause?) {
        host = ""
        port = 0
        kind = nil
        address = nil
        allowed = false
        rule = nil
        reason = nil
        bytesUp = 0
        bytesDown = 0
        self.startMicros = startMicros
        durationMicros = 0
        self.cause = cause
        status = nil
        refusal = nil
    }
}

/// Name resolution for the proxy: brig resolves names itself (the confined server gets no DNS).
public enum EgressResolver {
    /// getaddrinfo(3) (TCP, both families), in its order, without repeats; empty when the name
    /// does not resolve. Not AI_ADDRCONFIG: glibc ignores loopback addresses for it, so on a
    /// machine with only loopback (or a name allowed at 127.0.0.2) nothing would resolve; an
    /// address of a family with no route fails its connect at once and the next one is tried.
    public static let system: @Sendable (String) -> [IPAddress] = { name in
        var hints = addrinfo()
        hints.ai_socktype = Int32(SOCK_STREAM.rawValue)
        hints.ai_family = AF_UNSPEC
        var res: UnsafeMutablePointer<addrinfo>?
        guard getaddrinfo(name, nil, &hints, &res) == 0 else { return [] }
        defer { freeaddrinfo(res) }
        var out: [IPAddress] = []
        var ai = res
        while let a = ai {
            ai = a.pointee.ai_next
            if let addr = a.pointee.ai_addr, let (address, _) = IPAddress.from(socketAddress: addr), !out.contains(address) {
                out.append(address)
            }
        }
        return out
    }
}
