import BrigSystem

/// Lexical path checks for `under:` constraints and `file://` resource URIs.
///
/// Choices:
/// - `file://` URIs: the host must be empty or `localhost`; the path is percent-decoded
///   (a malformed escape or a decoded NUL is refused), then normalized.
/// - Plain paths are taken literally, but when they contain `%` the percent-decoded form must
///   pass too (a server might decode it).
/// - A relative path is taken relative to `$WORKDIR` (the server's working directory); with no
///   `$WORKDIR` it is refused. A path starting with `~` is refused (a server may expand it).
/// - Normalization drops `.` and empty components and applies `..` (never above `/`); symlinks
///   are not resolved (the sandbox's filesystem rules are the boundary for those).
enum PathCheck {
    /// The normalized absolute forms that must all be accepted, or why the path is refused.
    static func candidates(_ raw: String, workdir: String?) -> Result<[String], PathRefusal> {
        if raw.utf8.contains(0) { return .failure(.nul) }
        var forms: [String]
        if raw.utf8.starts(with: "file://".utf8) {
            var rest = Substring(raw.dropFirst("file://".count))
            if rest.hasPrefix("localhost/") { rest = rest.dropFirst("localhost".count) }
            guard rest.hasPrefix("/") else { return .failure(.fileHost) }
            guard let decoded = percentDecode(rest) else { return .failure(.badEscape) }
            if decoded.utf8.contains(0) { return .failure(.nul) }
            forms = [decoded]
        } else {
            forms = [raw]
            if raw.utf8.contains(UInt8(ascii: "%")) {
                guard let decoded = percentDecode(Substring(raw)) else { return .failure(.badEscape) }
                if decoded.utf8.contains(0) { return .failure(.nul) }
                if decoded != raw { forms.append(decoded) }
            }
        }
        var out: [String] = []
        for form in forms {
            if form.isEmpty { return .failure(.empty) }
            if form.utf8.first == UInt8(ascii: "~") { return .failure(.tilde) }
            if form.utf8.first == UInt8(ascii: "/") {
                out.append(normalize(form))
            } else {
                guard let workdir else { return .failure(.relative) }
                out.append(normalize(workdir + "/" + form))
            }
        }
        return .success(out)
    }

    /// `path` (normalized, absolute) equals `dir` or lies beneath it.
    static func isUnder(_ path: String, _ dir: String) -> Bool {
        if dir == "/" { return path.utf8.first == UInt8(ascii: "/") }
        let p = path.utf8, d = dir.utf8
        guard p.starts(with: d) else { return false }
        if p.count == d.count { return true }
        return p[p.index(p.startIndex, offsetBy: d.count)] == UInt8(ascii: "/")
    }

    /// Drops `.` and empty components, applies `..` (never above `/`), no trailing slash.
    /// One pass over the UTF-8 bytes (this runs per `under:` argument on the relay's path).
    static func normalize(_ path: String) -> String {
        var path = path
        return path.withUTF8 { b -> String in
            let slash = UInt8(ascii: "/"), dot = UInt8(ascii: ".")
            var out: [UInt8] = []
            out.reserveCapacity(b.count + 1)
            var i = 0
            while i < b.count {
                while i < b.count, b[i] == slash { i += 1 }
                let start = i
                while i < b.count, b[i] != slash { i += 1 }
                let length = i - start
                if length == 0 || (length == 1 && b[start] == dot) { continue }
                if length == 2, b[start] == dot, b[start + 1] == dot {
                    if let last = out.lastIndex(of: slash) { out.removeSubrange(last...) }
                    continue
                }
                out.append(slash)
                out.append(contentsOf: UnsafeBufferPointer(rebasing: b[start..<i]))
            }
            return out.isEmpty ? "/" : String(decoding: out, as: UTF8.self)
        }
    }

    /// `%XX` decoding; nil for a malformed escape or a result that is not UTF-8.
    static func percentDecode(_ s: Substring) -> String? {
        guard s.contains("%") else { return String(s) }
        var bytes: [UInt8] = []
        bytes.reserveCapacity(s.utf8.count)
        var it = Array(s.utf8)[...]
        while let c = it.popFirst() {
            if c != UInt8(ascii: "%") {
                bytes.append(c)
                continue
            }
            guard let h = it.popFirst(), let l = it.popFirst(), let hv = Hex.value(ofDigit: h), let lv = Hex.value(ofDigit: l) else { return nil }
            bytes.append(hv << 4 | lv)
        }
        return String(validating: bytes, as: UTF8.self)
    }

    /// A `file://` URI in canonical form for resource matching (`file://` + decoded, normalized
    /// path); other URIs unchanged.
    static func canonicalURI(_ uri: String) -> Result<String, PathRefusal> {
        guard uri.hasPrefix("file://") else {
            if uri.utf8.contains(0) { return .failure(.nul) }
            return .success(uri)
        }
        switch candidates(uri, workdir: nil) {
        case .success(let forms): return .success("file://" + forms[0])
        case .failure(let e): return .failure(e)
        }
    }
}

enum PathRefusal: Error, Equatable {
    case nul, badEscape, fileHost, relative, tilde, empty

    var text: String {
        switch self {
        case .nul: return "contains a NUL byte"
        case .badEscape: return "has a malformed %-escape"
        case .fileHost: return "is a file:// URI with a host other than localhost"
        case .relative: return "is relative and there is no $WORKDIR to resolve it against"
        case .tilde: return "starts with ~ (not expanded by brig)"
        case .empty: return "is empty"
        }
    }
}
