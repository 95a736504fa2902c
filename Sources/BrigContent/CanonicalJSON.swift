public import BrigJSONRPC

/// Canonical text of a JSON value: object keys sorted by their UTF-8 bytes, no whitespace,
/// strings escaped as `JSONWriter` does, numbers as written. Two definitions that mean the same
/// JSON give the same text whatever order the server wrote their members in.
public enum CanonicalJSON {
    public static func text(_ value: JSONValue) -> String {
        var out: [UInt8] = []
        write(value, to: &out)
        return String(decoding: out, as: UTF8.self)
    }

    /// Indented (two spaces), keys sorted: the text a pin diff compares line by line.
    public static func pretty(_ value: JSONValue) -> String {
        var out: [UInt8] = []
        writePretty(value, indent: 0, to: &out)
        return String(decoding: out, as: UTF8.self)
    }

    static func sortedMembers(_ members: [(String, JSONValue)]) -> [(String, JSONValue)] {
        members.sorted { $0.0.utf8.lexicographicallyPrecedes($1.0.utf8) }
    }

    private static func write(_ value: JSONValue, to out: inout [UInt8]) {
        switch value {
        case .array(let items):
            out.append(UInt8(ascii: "["))
            for (i, item) in items.enumerated() {
                if i > 0 { out.append(UInt8(ascii: ",")) }
                write(item, to: &out)
            }
            out.append(UInt8(ascii: "]"))
        case .object(let members):
            out.append(UInt8(ascii: "{"))
            for (i, (key, v)) in sortedMembers(members).enumerated() {
                if i > 0 { out.append(UInt8(ascii: ",")) }
                JSONWriter.appendString(key, to: &out)
                out.append(UInt8(ascii: ":"))
                write(v, to: &out)
            }
            out.append(UInt8(ascii: "}"))
        default:
            value.write(to: &out)
        }
    }

    private static func writePretty(_ value: JSONValue, indent: Int, to out: inout [UInt8]) {
        func newline(_ level: Int) {
            out.append(0x0A)
            out.append(contentsOf: repeatElement(UInt8(ascii: " "), count: level * 2))
        }
        switch value {
        case .array(let items) where !items.isEmpty:
            out.append(UInt8(ascii: "["))
            for (i, item) in items.enumerated() {
                if i > 0 { out.append(UInt8(ascii: ",")) }
                newline(indent + 1)
                writePretty(item, indent: indent + 1, to: &out)
            }
            newline(indent)
            out.append(UInt8(ascii: "]"))
        case .object(let members) where !members.isEmpty:
            out.append(UInt8(ascii: "{"))
            for (i, (key, v)) in sortedMembers(members).enumerated() {
                if i > 0 { out.append(UInt8(ascii: ",")) }
                newline(indent + 1)
                JSONWriter.appendString(key, to: &out)
                out.append(contentsOf: [UInt8(ascii: ":"), UInt8(ascii: " ")])
                writePretty(v, indent: indent + 1, to: &out)
            }
            newline(indent)
            out.append(UInt8(ascii: "}"))
        default:
            value.write(to: &out)
        }
    }
}

/// A line diff in unified style: ` ` context, `-` old, `+` new, `@@` between distant hunks.
public enum LineDiff {
    /// - Parameters:
    ///   - context: unchanged lines shown around each change.
    /// - Returns: the diff text; empty when the texts are equal.
    public static func unified(
        old: String, new: String, oldLabel: String = "pinned", newLabel: String = "now",
        context: Int = 3
    ) -> String {
        let a = old.split(separator: "\n", omittingEmptySubsequences: false).map(String.init)
        let b = new.split(separator: "\n", omittingEmptySubsequences: false).map(String.init)
        if a == b { return "" }
        let ops = script(a, b)
        // Mark which ops are shown: changes and `context` lines around them.
        var show = [Bool](repeating: false, count: ops.count)
        for (k, op) in ops.enumerated() where op.0 != " " {
            for j in max(0, k - context)...min(ops.count - 1, k + context) { show[j] = true }
        }
        var lines = ["--- \(oldLabel)", "+++ \(newLabel)"]
        var previousShown = true
        for (k, op) in ops.enumerated() {
            if show[k] {
                if !previousShown || k == 0 { lines.append("@@") }
                lines.append("\(op.0)\(op.1)")
            }
            previousShown = show[k]
        }
        return lines.joined(separator: "\n")
    }

    /// The edit script (LCS on lines; large inputs fall back to all-removed/all-added after the
    /// common prefix and suffix).
    static func script(_ a: [String], _ b: [String]) -> [(Character, String)] {
        var prefix = 0
        while prefix < a.count, prefix < b.count, a[prefix] == b[prefix] { prefix += 1 }
        var suffix = 0
        while suffix < a.count - prefix, suffix < b.count - prefix,
            a[a.count - 1 - suffix] == b[b.count - 1 - suffix]
        { suffix += 1 }
        let x = Array(a[prefix..<(a.count - suffix)]), y = Array(b[prefix..<(b.count - suffix)])
        var ops: [(Character, String)] = a[..<prefix].map { (" ", $0) }
        if x.count * y.count > 4_000_000 {
            ops += x.map { ("-", $0) } + y.map { ("+", $0) }
        } else {
            // lcs[i][j]: LCS length of x[i...] and y[j...].
            let w = y.count + 1
            var lcs = [Int](repeating: 0, count: (x.count + 1) * w)
            if !x.isEmpty, !y.isEmpty {
                for i in stride(from: x.count - 1, through: 0, by: -1) {
                    for j in stride(from: y.count - 1, through: 0, by: -1) {
                        lcs[i * w + j] =
                            x[i] == y[j]
                            ? lcs[(i + 1) * w + j + 1] + 1
                            : max(lcs[(i + 1) * w + j], lcs[i * w + j + 1])
                    }
                }
            }
            var i = 0, j = 0
            while i < x.count || j < y.count {
                if i < x.count, j < y.count, x[i] == y[j] {
                    ops.append((" ", x[i])); i += 1; j += 1
                } else if j < y.count, i == x.count || lcs[i * w + j + 1] >= lcs[(i + 1) * w + j] {
                    // Prefer removals first when tied, so a replaced line reads "-old" then "+new".
                    if i < x.count, lcs[(i + 1) * w + j] == lcs[i * w + j + 1] {
                        ops.append(("-", x[i])); i += 1
                    } else {
                        ops.append(("+", y[j])); j += 1
                    }
                } else {
                    ops.append(("-", x[i])); i += 1
                }
            }
        }
        ops += a[(a.count - suffix)...].map { (" ", $0) }
        return ops
    }
}
