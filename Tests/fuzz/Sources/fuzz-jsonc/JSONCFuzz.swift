import BrigHostConfig
import BrigJSONRPC

/// Arbitrary bytes as a host's config file (JSON with comments, trailing commas). Checked, beyond
/// not crashing: every node's range lies inside the file and starts where its kind says; where
/// the text is also strict JSON that brig's parser accepts, both read the same values (JSONC may
/// refuse what the strict parser lets through only for a lone surrogate escape, which it reports
/// as an error rather than decoding to U+FFFD, and for nesting past its own limit).
@_cdecl("LLVMFuzzerTestOneInput")
func fuzzOneInput(_ data: UnsafePointer<UInt8>, _ size: Int) -> CInt {
    let bytes = Array(UnsafeBufferPointer(start: data, count: size))
    let document: JSONCDocument?
    do throws(JSONCError) { document = try JSONCDocument(bytes: bytes) } catch {
        if error.line < 1 || error.column < 1 { fatalError("an error without a position: \(error)") }
        document = nil
    }
    let strict: JSONValue? = bytes.withUnsafeBufferPointer { try? JSONValue.parse($0) }
    if let document {
        check(document.root, in: document)
        if let strict, value(document.root) != strict {
            fatalError("JSONC reads \(value(document.root).jsonText), the strict parser \(strict.jsonText)")
        }
    } else if let strict, !hasSurrogateEscape(bytes), depth(strict) < 64 {
        fatalError("JSONC refused strict JSON: \(strict.jsonText.prefix(200))")
    }
    return 0
}

private func check(_ node: JSONCNode, in document: JSONCDocument) {
    guard node.range.lowerBound >= 0, node.range.upperBound <= document.bytes.count, !node.range.isEmpty else {
        fatalError("a node's range \(node.range) is outside the file of \(document.bytes.count) bytes")
    }
    let first = document.bytes[node.range.lowerBound]
    switch node.kind {
    case .object(let members):
        if first != UInt8(ascii: "{") { fatalError("an object starting with \(first)") }
        for m in members {
            if m.keyRange.upperBound > document.bytes.count { fatalError("a key range outside the file") }
            check(m.value, in: document)
        }
    case .array(let items):
        if first != UInt8(ascii: "[") { fatalError("an array starting with \(first)") }
        items.forEach { check($0, in: document) }
    case .string: if first != UInt8(ascii: "\"") { fatalError("a string starting with \(first)") }
    default: break
    }
    _ = document.line(of: node.range.lowerBound)
}

private func value(_ node: JSONCNode) -> JSONValue {
    switch node.kind {
    case .object(let members): return .object(members.map { ($0.key, value($0.value)) })
    case .array(let items): return .array(items.map(value))
    case .string(let s): return .string(s)
    case .number(let n): return .number(n)
    case .bool(let b): return .bool(b)
    case .null: return .null
    }
}

private func depth(_ v: JSONValue) -> Int {
    switch v {
    case .object(let members): return 1 + (members.map { depth($0.1) }.max() ?? 0)
    case .array(let items): return 1 + (items.map(depth).max() ?? 0)
    default: return 0
    }
}

/// Whether the text holds a `\u` escape of a surrogate (paired or not; a cheap over-estimate).
private func hasSurrogateEscape(_ b: [UInt8]) -> Bool {
    var i = 0
    while i + 2 < b.count {
        if b[i] == 0x5C, b[i + 1] == UInt8(ascii: "u"), b[i + 2] | 0x20 == UInt8(ascii: "d") { return true }
        i += 1
    }
    return false
}
