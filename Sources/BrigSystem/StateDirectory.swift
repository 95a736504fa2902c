#if canImport(Glibc)
@preconcurrency import Glibc
#endif

/// Where brig keeps its state (audit key and logs, pins, forwarding positions):
/// `$XDG_STATE_HOME/brig` when that is an absolute path, else `$HOME/.local/state/brig`; with
/// no usable `HOME`, the home directory of the effective user (the one whose files these are),
/// and `/` as a last resort (`ProcessEnvironment.home`).
public enum StateDirectory {
    public static func brig(environment: [String: String]) -> String {
        if let x = environment["XDG_STATE_HOME"], x.hasPrefix("/") { return x + "/brig" }
        var home = ProcessEnvironment.home(environment)
        if home.hasSuffix("/") { home.removeLast() }
        return home + "/.local/state/brig"
    }

    /// The same, from this process's environment.
    public static func brig() -> String { brig(environment: ProcessEnvironment.snapshot()) }
}

/// This process's environment.
public enum ProcessEnvironment {
    /// `NAME=value` entries, in order, as execve passes them on.
    public static func entries() -> [String] {
        var result: [String] = []
        var p = environ
        while let entry = p.pointee {
            result.append(String(cString: entry))
            p += 1
        }
        return result
    }

    /// As a dictionary (the first of duplicate names wins, as getenv answers).
    public static func snapshot() -> [String: String] {
        var d: [String: String] = [:]
        for e in entries() {
            guard let eq = e.firstIndex(of: "=") else { continue }
            let name = String(e[..<eq])
            if d[name] == nil { d[name] = String(e[e.index(after: eq)...]) }
        }
        return d
    }

    /// The user's home: a non-empty `$HOME`, else the effective user's from the password
    /// database, else `/`.
    public static func home(_ environment: [String: String]) -> String {
        if let home = environment["HOME"], !home.isEmpty { return home }
        guard let pw = getpwuid(geteuid()), let dir = pw.pointee.pw_dir else { return "/" }
        let home = String(cString: dir)
        return home.isEmpty ? "/" : home
    }
}
