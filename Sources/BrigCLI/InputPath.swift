import BrigSystem

#if canImport(Glibc)
@preconcurrency import Glibc
#endif

/// Paths typed on the command line, checked before a command reads them: a missing, unreadable
/// or odd file is one line on stderr that names it (exit 125), never a crash or silence.
enum InputPath {
    /// `path` as a message shows it: control characters and backslashes escaped, so that a name
    /// with a newline keeps the message on one line.
    static func shown(_ path: String) -> String {
        var out = ""
        for scalar in path.unicodeScalars {
            switch scalar {
            case "\n": out += "\\n"
            case "\r": out += "\\r"
            case "\t": out += "\\t"
            case "\\": out += "\\\\"
            default:
                if scalar.value < 0x20 || scalar.value == 0x7F {
                    out += "\\x" + (scalar.value < 16 ? "0" : "") + String(scalar.value, radix: 16)
                } else {
                    out.unicodeScalars.append(scalar)
                }
            }
        }
        return out
    }

    /// Why `path` cannot be read as a file; nil when it can.
    static func problem(readingFile path: String) -> String? {
        if path.isEmpty { return "empty path" }
        var st = stat()
        guard stat(path, &st) == 0 else {
            let reason = SystemError.text()
            return path == "-" && errno == ENOENT ? reason + " (brig reads no standard input here: give a file)" : reason
        }
        if st.st_mode & S_IFMT == S_IFDIR { return "is a directory" }
        let fd = open(path, O_RDONLY | O_CLOEXEC | O_NONBLOCK)
        guard fd >= 0 else { return SystemError.text() }
        close(fd)
        return nil
    }

    /// Throws `LABEL PATH: reason` (exit 125) unless `path` is a readable file. `label` is the
    /// option that named it (`--explain`), empty for an argument.
    static func requireReadableFile(_ path: String, label: String = "") throws(BrigCLIError) {
        if let why = problem(readingFile: path) {
            throw .brig((label.isEmpty ? "" : label + " ") + shown(path) + ": " + why)
        }
    }

    /// Whether a `--profile` value names a file (a path or a YAML name) rather than a built-in
    /// profile or an identity.
    static func namesFile(_ value: String) -> Bool {
        value.contains("/") || value.hasSuffix(".yaml") || value.hasSuffix(".yml")
    }
}
