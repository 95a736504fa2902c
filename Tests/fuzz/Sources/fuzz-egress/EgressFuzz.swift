import BrigEgress
import BrigProfile

/// Bytes from the confined server, as the egress proxy reads them, and host rules as a profile
/// writes them. The first byte picks the parser (its value mod 3), the rest is its input:
/// - 0, a request head: `ProxyRequest.headLength` finds the first blank line (checked against a
///   plain search); a head `ProxyRequest.parse` accepts names a host and a port, and for plain
///   HTTP its rewritten head starts with an origin-form request line, ends `Connection: close`
///   and a blank line, and keeps no `Proxy-Authorization`;
/// - 1, the first bytes of a tunnel: `ClientHello.scan` asks for more bytes only than it has,
///   gives a server name only if it is a host name, and says the same with bytes appended once
///   it has decided;
/// - 2, a host rule: one that parses is written canonically, and that text parses to the same rule.
@_cdecl("LLVMFuzzerTestOneInput")
func fuzzOneInput(_ data: UnsafePointer<UInt8>, _ size: Int) -> CInt {
    guard size > 0 else { return 0 }
    let bytes = Array(UnsafeBufferPointer(start: data + 1, count: size - 1))
    switch data[0] % 3 {
    case 0: head(bytes)
    case 1: hello(bytes)
    default: rule(bytes)
    }
    return 0
}

private func head(_ bytes: [UInt8]) {
    let found = bytes.withUnsafeBytes { ProxyRequest.headLength(in: $0) }
    var plain: Int?
    if bytes.count >= 4 {
        for i in 0...(bytes.count - 4) where bytes[i] == 0x0d && bytes[i + 1] == 0x0a && bytes[i + 2] == 0x0d && bytes[i + 3] == 0x0a {
            plain = i + 4
            break
        }
    }
    if found != plain { fatalError("headLength says \(String(describing: found)), a plain search \(String(describing: plain))") }
    let input = plain.map { Array(bytes[0..<$0]) } ?? bytes
    guard case .success(let request) = ProxyRequest.parse(input) else { return }
    if request.host.isEmpty || request.port == 0 { fatalError("a request without a host or port: \(request)") }
    guard request.kind == .http else {
        if !request.upstreamHead.isEmpty { fatalError("a CONNECT with a head for upstream") }
        return
    }
    let text = String(decoding: request.upstreamHead, as: UTF8.self)
    if !text.hasPrefix(request.method + " /") { fatalError("not an origin-form request line: \(text.prefix(80))") }
    if !text.hasSuffix("\r\nConnection: close\r\n\r\n") { fatalError("the rewritten head does not end with Connection: close") }
    if text.lowercased().contains("\r\nproxy-authorization:") { fatalError("Proxy-Authorization was forwarded") }
    if request.upstreamHead.withUnsafeBytes({ ProxyRequest.headLength(in: $0) }) != request.upstreamHead.count {
        fatalError("the rewritten head has a blank line before its end")
    }
}

private func hello(_ bytes: [UInt8]) {
    let scan = ClientHello.scan(bytes)
    switch scan {
    case .needMore(let n):
        if n <= bytes.count { fatalError("needMore(\(n)) with \(bytes.count) bytes") }
        return
    case .hello(let name?):
        guard case .success = HostName.labels(Substring(name)) else { fatalError("a server name that is not a host name: \(name)") }
    default: break
    }
    if ClientHello.scan(bytes + [0x16, 0x03, 0x01, 0x00, 0x01, 0x00]) != scan { fatalError("the decision changed with bytes appended") }
}

private func rule(_ bytes: [UInt8]) {
    let text = String(decoding: bytes, as: UTF8.self)
    guard let rule = try? HostRule.parse(text) else { return }
    let canonical = rule.description
    guard let again = try? HostRule.parse(canonical) else { fatalError("\(text) parsed, its canonical text \(canonical) does not") }
    if again != rule || again.description != canonical { fatalError("\(text) → \(canonical) → \(again)") }
    _ = EgressRules(allow: [rule]).decide(host: text, port: 443)
}
