import BrigJSONRPC
import BrigProfile

/// A tool rule's argument constraint, compiled (regex built once). A class: a call reads it whole.
final class CompiledConstraint: @unchecked Sendable {
    // @unchecked: `Regex<AnyRegexOutput>` is not marked Sendable. It is an immutable value whose
    // lazily lowered program is published atomically by the regex engine; init runs one match so
    // the program exists before the engine is shared between the relay's threads.
    let spec: MCPConstraint
    let regex: Regex<AnyRegexOutput>?
    let each: [CompiledConstraint]
    let enumNumbers: [Double]
    /// `spec.impliedType`, computed once.
    let impliedType: MCPValueType?
    /// What a value's raw bytes alone can prove (see `passes(raw:)`).
    private let rawProof: RawProof

    private enum RawProof {
        /// Nothing: the value must be decoded and checked.
        case none
        /// A string passes when its raw text is at most this many bytes (nil: any length).
        case stringWithin(Int?)
        /// A short integer literal passes when it lies within these bounds.
        case integerWithin(min: Double?, max: Double?)
    }

    init(_ spec: MCPConstraint) throws(PolicyError) {
        self.spec = spec
        impliedType = spec.impliedType
        let onlyLength = spec.pattern == nil && spec.enumValues == nil && spec.prefix == nil && spec.under == nil
        switch impliedType {
        case .string where onlyLength: rawProof = .stringWithin(spec.maxLength)
        case .number where spec.enumValues == nil, .integer where spec.enumValues == nil:
            rawProof = .integerWithin(min: spec.min, max: spec.max)
        default: rawProof = .none
        }
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

    /// Whether the raw JSON text of a value (valid JSON) proves that `check` passes it, so that
    /// the common call need not decode its arguments. False means "decode and check", not "fails".
    /// A string's decoded UTF-8 is never longer than its escaped text, and `max_length` fails only
    /// past the UTF-8 length; a short integer literal is exactly the Double `check` would compare.
    func passes(raw: UnsafeBufferPointer<UInt8>) -> Bool {
        guard let first = raw.first else { return false }
        switch rawProof {
        case .none:
            return false
        case .stringWithin(let max):
            guard first == UInt8(ascii: "\"") else { return false }
            return max.map { raw.count - 2 <= $0 } ?? true
        case .integerWithin(let min, let max):
            guard let d = CompiledConstraint.integer(raw) else { return false }
            return (min.map { d >= $0 } ?? true) && (max.map { d <= $0 } ?? true)
        }
    }

    /// nil when `value` meets the constraint, else the problem ("must be a string, got number").
    func check(_ value: JSONValue, workdir: String?) -> String? {
        // A number's text is converted once, for the type check and the bounds alike.
        var number: Double?
        if case .number(let n) = value { number = CompiledConstraint.double(n) }
        if let t = impliedType {
            switch (t, value) {
            case (.string, .string), (.number, .number), (.boolean, .bool), (.array, .array), (.object, .object): break
            case (.integer, .number(let n)):
                guard let d = number, d.rounded() == d else { return "must be an integer, got \(n)" }
            default: return "must be \(article(t.rawValue)), got \(value.typeName)"
            }
        }
        switch value {
        case .string(let str):
            if let max = spec.maxLength, str.utf8.count > max, str.unicodeScalars.count > max {  // bytes bound scalars: count only when needed
                return "is longer than \(max) characters"
            }
            if let values = spec.enumValues, !values.contains(str) { return "is not one of " + values.joined(separator: ", ") }
            if let prefix = spec.prefix, !str.hasPrefix(prefix) { return "does not start with \"\(prefix)\"" }
            if let regex, !str.contains(regex) { return "does not match the pattern \(spec.pattern ?? "")" }
            if let dirs = spec.under {
                switch PathCheck.candidates(str, workdir: workdir) {
                case .failure(let refusal): return "\(quoted(str)) \(refusal.text)"
                case .success(let forms):
                    for form in forms where !dirs.contains(where: { PathCheck.isUnder(form, $0) }) {
                        return "\(quoted(str)) resolves to \(quoted(form)), outside " + dirs.joined(separator: ", ")
                    }
                }
            }
        case .number(let n):
            guard let d = number else { return "is not a number" }
            if spec.enumValues != nil, !enumNumbers.contains(d) { return "is not one of " + (spec.enumValues ?? []).joined(separator: ", ") }
            if let lo = spec.min, d < lo { return "is \(n), below the minimum \(format(lo))" }
            if let hi = spec.max, d > hi { return "is \(n), above the maximum \(format(hi))" }
        case .bool(let b):
            if let e = spec.equals, b != e { return "must be \(e)" }
            if spec.enumValues != nil { return "must be a string or a number, got boolean" }
        case .array(let items):
            if let max = spec.maxItems, items.count > max { return "has \(items.count) items, more than \(max)" }
            if let e = each.first {
                for (i, item) in items.enumerated() {
                    if let problem = e.check(item, workdir: workdir) { return "item [\(i)] " + problem }
                }
            }
            if spec.enumValues != nil { return "must be a string or a number, got array" }
        default:
            if spec.enumValues != nil { return "must be a string or a number, got \(value.typeName)" }
        }
        return nil
    }

    /// `Double(text)` for a JSON number's text; short integers (counts, sequence numbers) skip
    /// the general conversion, which they do not need: below 2^53 an integer is exact.
    static func double(_ text: String) -> Double? {
        integer(text.utf8) ?? Double(text)
    }

    /// The value of an integer literal of at most 15 digits (exact in a Double), else nil.
    static func integer(_ digits: some Collection<UInt8>) -> Double? {
        guard digits.count <= 15 else { return nil }
        var negative = false
        var value: Int64 = 0
        var seen = 0
        for (i, b) in digits.enumerated() {
            if i == 0, b == UInt8(ascii: "-") {
                negative = true
                continue
            }
            guard b >= 0x30, b <= 0x39 else { return nil }
            value = value * 10 + Int64(b - 0x30)
            seen += 1
        }
        guard seen > 0 else { return nil }
        // "-0" is negative zero, as Double("-0") reads it.
        return negative ? -Double(value) : Double(value)
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
