import BrigJSONRPC
import BrigProfile

/// A tool rule's argument constraint, compiled (regex built once).
struct CompiledConstraint: @unchecked Sendable {
    // @unchecked: `Regex<AnyRegexOutput>` is not marked Sendable. It is an immutable value whose
    // lazily lowered program is published atomically by the regex engine; init runs one match so
    // the program exists before the engine is shared between the relay's threads.
    let spec: MCPConstraint
    let regex: Regex<AnyRegexOutput>?
    let each: [CompiledConstraint]
    let enumNumbers: [Double]

    init(_ spec: MCPConstraint) throws(PolicyError) {
        self.spec = spec
        if let p = spec.pattern {
            do { regex = try Regex(p) } catch { throw PolicyError("invalid regular expression \"\(p)\"") }
            if let regex { _ = "".contains(regex) }
        } else {
            regex = nil
        }
        var each: [CompiledConstraint] = []
        for e in spec.eachStorage { each.append(try CompiledConstraint(e)) }
        self.each = each
        enumNumbers = (spec.enumValues ?? []).compactMap(Double.init)
    }

    /// nil when `value` meets the constraint, else the problem ("must be a string, got number").
    func check(_ value: JSONValue, workdir: String?) -> String? {
        let s = spec
        if let t = s.impliedType {
            switch (t, value) {
            case (.string, .string), (.number, .number), (.boolean, .bool), (.array, .array), (.object, .object): break
            case (.integer, .number(let n)):
                guard let d = Double(n), d.rounded() == d else { return "must be an integer, got \(n)" }
            default: return "must be \(article(t.rawValue)), got \(value.typeName)"
            }
        }
        switch value {
        case .string(let str):
            if let max = s.maxLength, str.utf8.count > max, str.unicodeScalars.count > max {  // bytes bound scalars: count only when needed
                return "is longer than \(max) characters" }
            if let values = s.enumValues, !values.contains(str) { return "is not one of " + values.joined(separator: ", ") }
            if let prefix = s.prefix, !str.hasPrefix(prefix) { return "does not start with \"\(prefix)\"" }
            if let regex, !str.contains(regex) { return "does not match the pattern \(s.pattern ?? "")" }
            if let dirs = s.under {
                switch PathCheck.candidates(str, workdir: workdir) {
                case .failure(let refusal): return "\(quoted(str)) \(refusal.text)"
                case .success(let forms):
                    for form in forms where !dirs.contains(where: { PathCheck.isUnder(form, $0) }) {
                        return "\(quoted(str)) resolves to \(quoted(form)), outside " + dirs.joined(separator: ", ")
                    }
                }
            }
        case .number(let n):
            guard let d = Double(n) else { return "is not a number" }
            if s.enumValues != nil, !enumNumbers.contains(d) { return "is not one of " + (s.enumValues ?? []).joined(separator: ", ") }
            if let lo = s.min, d < lo { return "is \(n), below the minimum \(format(lo))" }
            if let hi = s.max, d > hi { return "is \(n), above the maximum \(format(hi))" }
        case .bool(let b):
            if let e = s.equals, b != e { return "must be \(e)" }
            if s.enumValues != nil { return "must be a string or a number, got boolean" }
        case .array(let items):
            if let max = s.maxItems, items.count > max { return "has \(items.count) items, more than \(max)" }
            if let e = each.first {
                for (i, item) in items.enumerated() {
                    if let problem = e.check(item, workdir: workdir) { return "item [\(i)] " + problem }
                }
            }
            if s.enumValues != nil { return "must be a string or a number, got array" }
        default:
            if s.enumValues != nil { return "must be a string or a number, got \(value.typeName)" }
        }
        return nil
    }

    private func article(_ t: String) -> String {
        t == "integer" || t == "array" || t == "object" ? "an \(t)" : "a \(t)"
    }

    private func format(_ d: Double) -> String {
        d.rounded() == d && abs(d) < 1e15 ? String(Int(d)) : String(d)
    }

    private func quoted(_ s: String) -> String {
        let shown = s.unicodeScalars.count > 80 ? String(s.unicodeScalars.prefix(80)) + "..." : s
        var out = "\""
        for u in shown.unicodeScalars {
            if u.value < 0x20 || u.value == 0x7f { out += "\\u{\(String(u.value, radix: 16))}" } else { out.unicodeScalars.append(u) }
        }
        return out + "\""
    }
}
