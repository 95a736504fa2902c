import BrigAudit
import BrigEgress
import BrigJSONRPC
import BrigSystem

/// What the session does with the egress proxy's connections: one audit record each (host, port,
/// address, decision and rule, bytes each way, duration, the request in flight), and a line on
/// stderr for each refusal, like a blocked call.
struct EgressWatch: Sendable {
    let audit: AuditLog?
    let diagnostics: Diagnostics
    /// Learn mode sees every connection (the hosts a session reached).
    let observer: (@Sendable (EgressConnection) -> Void)?

    func finished(_ c: EgressConnection) {
        observer?(c)
        audit?.event(action: .connection, outcome: c.allowed && (c.status ?? 200) < 400 ? .success : .failure, detail: EgressWatch.detail(c))
        if !c.allowed {
            diagnostics.report(
                "blocked egress to \(EgressWatch.target(c)) from the server (\(c.reason ?? "refused")); "
                    + (c.status.map { "answered \($0)" } ?? "connection closed")
                    + "; to allow: \(EgressWatch.advice(c))")
        }
    }

    /// What would let the connection through: a deny rule wins over any allow rule, so it must
    /// go; a name allowed but resolving to a local address needs the address named as well;
    /// anything else needs its host (and port) in the allow-list.
    static func advice(_ c: EgressConnection) -> String {
        switch c.refusal {
        case .denied(let rule):
            return "remove \"\(rule)\" from sandbox.network.deny (deny wins over allow)"
        case .localAddress(let address):
            return "add \"\(rule(address.description, c.port))\" to sandbox.network.allow as well (a local address passes only when a rule names it)"
        case .notAllowed, nil:
            return "add \"\(rule(c.host, c.port))\" to sandbox.network.allow"
        }
    }

    /// `host:port`, with brackets around an IPv6 literal.
    static func target(_ c: EgressConnection) -> String {
        (c.host.contains(":") ? "[\(c.host)]" : c.host) + ":\(c.port)"
    }

    /// The allow rule for `host` (a name, or an address as text) on `port`: no port for 443
    /// and 80, which a rule without one covers.
    static func rule(_ host: String, _ port: UInt16) -> String {
        let shown = host.contains(":") ? "[\(host)]" : host
        return port == 443 || port == 80 ? shown : "\(shown):\(port)"
    }

    static func detail(_ c: EgressConnection) -> [(String, JSONValue)] {
        var d: [(String, JSONValue)] = [
            ("host", .string(c.host)), ("port", .number(String(c.port))),
            ("decision", .string(c.allowed ? "allowed" : "refused")),
        ]
        if let kind = c.kind { d.append(("kind", .string(kind.rawValue))) }
        if let address = c.address { d.append(("address", .string(address.description))) }
        if let rule = c.rule { d.append(("rule", .string(rule))) }
        if let reason = c.reason { d.append(("reason", .string(reason))) }
        if let status = c.status { d.append(("status", .number(String(status)))) }
        d += [
            ("bytes_up", .number(String(c.bytesUp))), ("bytes_down", .number(String(c.bytesDown))),
            ("duration_us", .number(String(c.durationMicros))),
        ]
        if let cause = c.cause {
            var r: [(String, JSONValue)] = [("id", .string(cause.id)), ("method", .string(cause.method))]
            if let tool = cause.tool { r.append(("tool", .string(tool))) }
            d.append(("request", .object(r)))
        }
        return d
    }
}
