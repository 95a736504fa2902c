import BrigJSONRPC

/// Arbitrary bytes as one line from a peer. Checked, beyond not crashing:
/// - the scanner, the tree parser and an independent recognizer (`ReferenceJSON`) agree on
///   what is JSON (allowing for the scanner's nesting limit);
/// - a parsed tree written back as text parses to the same tree;
/// - a line `MessageView` accepts is JSON that the tree parser accepts too (the same nesting
///   limit), and its `params`/`result`/`error` ranges and batch member spans lie inside the line
///   and are themselves JSON values;
/// - reading the id from any prefix (what brig does with a line too long to keep) never crashes;
/// - every string (and member name) of an accepted line is seen by the byte checks as the host
///   decodes it: in place when the line has only the five short escapes (spelled as the writer
///   spells it), else in `JSONEscapes`' decoded copy.
@_cdecl("LLVMFuzzerTestOneInput")
func fuzzOneInput(_ data: UnsafePointer<UInt8>, _ size: Int) -> CInt {
    let line = UnsafeBufferPointer(start: data, count: size)
    let reference = ReferenceJSON.validate(line)
    let tree: JSONValue?
    do throws(JSONScanner.Failure) { tree = try JSONValue.parse(line) } catch { tree = nil }
    var scanner = JSONScanner(line)
    let scans: Bool
    do throws(JSONScanner.Failure) {
        _ = try scanner.skipValue()
        scanner.skipWhitespace()
        scans = scanner.atEnd
    } catch {
        scans = false
    }
    if scans != (tree != nil) { fatalError("skipValue says \(scans), the tree parser \(tree != nil)") }
    if reference.depth <= JSONScanner.maximumDepth, reference.valid != scans {
        fatalError("the reference recognizer says \(reference.valid), the scanner \(scans)")
    }
    if reference.depth > JSONScanner.maximumDepth, scans { fatalError("nesting \(reference.depth) was accepted") }
    if let tree { checkDecodedStrings(tree, line) }
    if let tree {
        let text = Array(tree.jsonText.utf8)
        let again: JSONValue? = text.withUnsafeBufferPointer { try? JSONValue.parse($0) }
        if again != tree { fatalError("written back as \(tree.jsonText), it parses differently") }
    }

    if case .success(let view) = MessageView.parse(line) {
        if !reference.valid { fatalError("MessageView accepted a line that is not JSON") }
        // Later layers (audit payloads, result filters) parse accepted lines into trees.
        if tree == nil { fatalError("MessageView accepted a line the tree parser rejects") }
        checkRanges(view, in: line)
        if view.kind == .batch {
            if view.members.isEmpty { fatalError("an empty batch was accepted") }
            for member in view.members {
                guard let span = member.span else { fatalError("a batch member without a span") }
                checkJSON(span, in: line, "a member span")
                checkRanges(member, in: line)
            }
        }
    }
    _ = MessageView.idFromPrefix(UnsafeBufferPointer(rebasing: line[..<(size / 2)]))
    return 0
}

private func checkRanges(_ view: MessageView, in line: UnsafeBufferPointer<UInt8>) {
    if let r = view.params { checkJSON(r, in: line, "params") }
    if let r = view.result { checkJSON(r, in: line, "result") }
    if let r = view.error { checkJSON(r, in: line, "error") }
}

private func checkJSON(_ range: Range<Int>, in line: UnsafeBufferPointer<UInt8>, _ what: String) {
    guard range.lowerBound >= 0, range.upperBound <= line.count else { fatalError("\(what) \(range) is outside the line") }
    do throws(JSONScanner.Failure) { _ = try JSONValue.parse(line, range: range) } catch {
        fatalError("\(what) \(range) is not a JSON value: \(error)")
    }
}

/// The invariant the leak and sanitize pre-checks rely on (see `JSONEscapes`).
private func checkDecodedStrings(_ tree: JSONValue, _ line: UnsafeBufferPointer<UInt8>) {
    var strings: [String] = []
    func walk(_ v: JSONValue) {
        switch v {
        case .string(let s): strings.append(s)
        case .array(let items): items.forEach(walk)
        case .object(let members): for (k, m) in members { strings.append(k); walk(m) }
        default: break
        }
    }
    walk(tree)
    let inPlace = !JSONEscapes.hasOpaqueEscape(line)
    var decoded: [UInt8] = []
    JSONEscapes.unescape(line, into: &decoded)
    JSONEscapes.withDecoded(line) { seen in
        for s in strings where !s.isEmpty {
            let needle = inPlace ? JSONEscapes.shortSpelling(s) : Array(s.utf8)
            if !contains(seen, needle) { fatalError("the checks would not see \(JSONWriter.quoted(s)) (in place: \(inPlace))") }
            if !decoded.withUnsafeBufferPointer({ contains($0, Array(s.utf8)) }) {
                fatalError("the decoded line does not hold \(JSONWriter.quoted(s))")
            }
        }
    }
}

private func contains(_ hay: UnsafeBufferPointer<UInt8>, _ needle: [UInt8]) -> Bool {
    guard needle.count <= hay.count else { return false }
    if needle.isEmpty { return true }
    var i = 0
    while i + needle.count <= hay.count {
        if hay[i] == needle[0] {
            var k = 1
            while k < needle.count, hay[i + k] == needle[k] { k += 1 }
            if k == needle.count { return true }
        }
        i += 1
    }
    return false
}
