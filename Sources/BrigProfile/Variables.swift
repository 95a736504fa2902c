/// Variable expansion (`$HOME`, `${WORKDIR}`, `~/`...) and lexical path normalization.
struct Variables {
    static let names = [
        "HOME", "WORKDIR", "TMPDIR", "XDG_CONFIG_HOME", "XDG_CACHE_HOME",
        "XDG_DATA_HOME", "XDG_STATE_HOME", "XDG_RUNTIME_DIR",
    ]

    enum Outcome: Equatable {
        case value(String)
        /// Uses a variable that is legitimately absent (XDG_RUNTIME_DIR unset): drop the entry.
        case dropped
    }

    let context: ProfileContext
    let workdir: String

    init(context: ProfileContext, cwd: String) {
        self.context = context
        let w = context.workdir
        self.workdir = w.isEmpty ? "" : normalizePath(w.hasPrefix("/") ? w : cwd + "/" + w)
    }

    /// nil = absent (only XDG_RUNTIME_DIR). Throws a message for unknown or empty variables.
    func lookup(_ name: String) throws(VariableError) -> String? {
        func required(_ value: String) throws(VariableError) -> String {
            if value.isEmpty { throw VariableError(message: "$\(name) is not set") }
            return value
        }
        func xdg(_ fallback: String) throws(VariableError) -> String {
            // XDG spec: an unset, empty or relative value is ignored in favour of the default.
            if let v = context.environment[name], v.hasPrefix("/") { return v }
            return try required(context.home) + fallback
        }
        switch name {
        case "HOME": return try required(context.home)
        case "WORKDIR":
            guard context.workdirGranted else { return nil }
            return try required(workdir)
        case "TMPDIR": return try required(context.tmpdir)
        case "XDG_CONFIG_HOME": return try xdg("/.config")
        case "XDG_CACHE_HOME": return try xdg("/.cache")
        case "XDG_DATA_HOME": return try xdg("/.local/share")
        case "XDG_STATE_HOME": return try xdg("/.local/state")
        case "XDG_RUNTIME_DIR":
            if let v = context.environment[name], v.hasPrefix("/") { return v }
            return nil
        default:
            var msg = "unknown variable $\(name)"
            if let s = suggest(name, Variables.names) { msg += " (did you mean $\(s)?)" }
            msg += "; known: " + Variables.names.map { "$" + $0 }.joined(separator: ", ")
            throw VariableError(message: msg)
        }
    }

    /// Expands `~/` (leading), `$NAME`, `${NAME}`; `$$` is a literal `$`, and a `$` not
    /// followed by a name or `{` is kept as is.
    func expand(_ text: String) throws(VariableError) -> Outcome {
        var chars = Array(text)
        var out = ""
        if chars == ["~"] || (chars.count >= 2 && chars[0] == "~" && chars[1] == "/") {
            guard let home = try lookup("HOME") else { return .dropped }
            out = home
            chars.removeFirst()
        }
        var i = 0
        var dropped = false
        func isNameStart(_ c: Character) -> Bool { c == "_" || (c.isASCII && c.isLetter) }
        func isName(_ c: Character) -> Bool { isNameStart(c) || (c.isASCII && c.isNumber) }
        while i < chars.count {
            let c = chars[i]
            guard c == "$", i + 1 < chars.count else { out.append(c); i += 1; continue }
            let next = chars[i + 1]
            var name = ""
            if next == "$" {
                out.append("$"); i += 2; continue
            } else if next == "{" {
                var j = i + 2
                while j < chars.count, chars[j] != "}" { name.append(chars[j]); j += 1 }
                guard j < chars.count else { throw VariableError(message: "unterminated ${ in \"\(text)\"") }
                guard let f = name.first, isNameStart(f), name.allSatisfy(isName) else {
                    throw VariableError(message: "bad variable name ${\(name)} in \"\(text)\"")
                }
                i = j + 1
            } else if isNameStart(next) {
                var j = i + 1
                while j < chars.count, isName(chars[j]) { name.append(chars[j]); j += 1 }
                i = j
            } else {
                out.append(c); i += 1; continue
            }
            if let v = try lookup(name) { out += v } else { dropped = true }
        }
        return dropped ? .dropped : .value(out)
    }

    /// Expands, then requires an absolute path and normalizes it. `relativeTo` (for command-line
    /// paths) makes a relative result absolute instead of an error.
    func path(_ text: String, relativeTo base: String? = nil) throws(VariableError) -> Outcome {
        switch try expand(text) {
        case .dropped: return .dropped
        case .value(let p):
            if p.hasPrefix("/") { return .value(normalizePath(p)) }
            if let base, !p.isEmpty { return .value(normalizePath(base + "/" + p)) }
            throw VariableError(
                message: "\"\(text)\" is not an absolute path"
                    + (p == text ? "" : " (expands to \"\(p)\")")
                    + "; start it with /, ~/, or a variable such as $HOME or $WORKDIR")
        }
    }
}

struct VariableError: Error {
    var message: String
}

/// Lexical normalization of an absolute path: drops `.` and empty components, applies `..`
/// (never above `/`), no trailing slash. Symlinks are not resolved.
func normalizePath(_ path: String) -> String {
    var parts: [Substring] = []
    for comp in path.split(separator: "/", omittingEmptySubsequences: true) {
        if comp == "." { continue }
        if comp == ".." { if !parts.isEmpty { parts.removeLast() }; continue }
        parts.append(comp)
    }
    return "/" + parts.joined(separator: "/")
}

/// The closest candidate within a small edit distance, for "did you mean" hints.
func suggest(_ word: String, _ candidates: [String]) -> String? {
    let w = word.lowercased()
    var best: (String, Int)?
    for c in candidates {
        let d = editDistance(w, c.lowercased())
        let limit = max(1, min(3, c.count / 3))
        if d <= limit, best == nil || d < best!.1 { best = (c, d) }
    }
    return best?.0
}

/// Optimal-string-alignment distance: insertions, deletions, substitutions, adjacent swaps.
func editDistance(_ a: String, _ b: String) -> Int {
    let a = Array(a), b = Array(b)
    if a.isEmpty { return b.count }
    if b.isEmpty { return a.count }
    var d = [[Int]](repeating: [Int](repeating: 0, count: b.count + 1), count: a.count + 1)
    for i in 0...a.count { d[i][0] = i }
    for j in 0...b.count { d[0][j] = j }
    for i in 1...a.count {
        for j in 1...b.count {
            let cost = a[i - 1] == b[j - 1] ? 0 : 1
            d[i][j] = min(d[i - 1][j] + 1, d[i][j - 1] + 1, d[i - 1][j - 1] + cost)
            if i > 1, j > 1, a[i - 1] == b[j - 2], a[i - 2] == b[j - 1] {
                d[i][j] = min(d[i][j], d[i - 2][j - 2] + 1)
            }
        }
    }
    return d[a.count][b.count]
}
