import BrigSystem

#if canImport(Glibc)
@preconcurrency import Glibc
#endif

/// Which places are safe to hand a server as a whole.
///
/// Hosts start stdio servers in odd places: Claude Desktop and Cline at `/`, Zed at `/` before a
/// worktree is open, VS Code at `$HOME` without a workspace folder. A working directory is
/// granted read and write by `default`, so granting it blindly would hand the server the whole
/// machine (from `/`) or the user's keys (from `$HOME`). These rules decide what the working
/// directory and the paths on the server's command line may grant.
public struct GrantSafety: Sendable {
    /// Why a place is not granted.
    public enum Refusal: Sendable, Hashable, CustomStringConvertible {
        /// `/` itself.
        case root
        /// The user's home directory itself.
        case home
        /// A directory above the user's home (`/home`).
        case aboveHome
        /// A system directory itself (`/usr`, `/etc`, `/tmp`, ...).
        case systemDirectory
        /// It holds brig's own state (audit trail, keys, pins): the server could edit it.
        case holdsBrigState(String)
        /// It lies inside brig's own state.
        case insideBrigState(String)
        /// A kernel interface (`/proc`, `/sys`, `/dev`) or something under one.
        case kernelInterface
        /// Under `/etc`, `/root`, `/run`, `/var/lib`...: the system's secrets and state (argument grants only).
        case systemSecrets
        /// A place keys and tokens live (`.ssh`, `.gnupg`, `.aws`, ...; argument grants only).
        case secrets

        public var description: String {
            switch self {
            case .root: return "it is / (the whole machine)"
            case .home: return "it is your home directory (keys, tokens, every project)"
            case .aboveHome: return "it lies above your home directory"
            case .systemDirectory: return "it is a system directory"
            case .holdsBrigState(let state): return "it holds brig's own state (\(state))"
            case .insideBrigState(let state): return "it lies inside brig's own state (\(state))"
            case .kernelInterface: return "it is a kernel interface"
            case .systemSecrets: return "it lies where the system keeps its secrets and state; grant it with --ro if you mean it"
            case .secrets: return "it lies where keys and tokens live; grant it with --ro if you mean it"
            }
        }

        /// Broad grants are refused for the working directory brig was started in, and need
        /// `--allow-broad-grant` when the user names them.
        public var isBroad: Bool {
            switch self {
            case .root, .home, .aboveHome: return true
            default: return false
            }
        }
    }

    /// Directories that are never a project themselves (things below them may be).
    public static let systemDirectories: Set<String> = [
        "/bin", "/boot", "/dev", "/etc", "/home", "/lib", "/lib32", "/lib64", "/libx32", "/media", "/mnt", "/opt",
        "/proc", "/root", "/run", "/sbin", "/snap", "/srv", "/sys", "/tmp", "/usr", "/usr/bin", "/usr/lib",
        "/usr/local", "/usr/local/bin", "/usr/sbin", "/usr/share", "/var", "/var/lib", "/var/log", "/var/tmp",
        "/var/run", "/var/cache",
    ]

    /// The user's home directory, resolved.
    public var home: String
    /// brig's own state directories (the audit trail's directory, the key's, the pins'), resolved.
    public var stateDirectories: [String]

    public init(home: String, stateDirectories: [String]) {
        self.home = home.isEmpty ? "" : FileSystem.realpath(home)
        self.stateDirectories = stateDirectories.filter { !$0.isEmpty }.map(FileSystem.realpath)
    }

    /// Why `path` (absolute) must not be granted as a whole, or nil when it may be.
    public func refusal(for path: String) -> Refusal? {
        let p = FileSystem.realpath(path)
        if p == "/" { return .root }
        if !home.isEmpty && home != "/" {
            if p == home { return .home }
            if GrantSafety.contains(p, home) { return .aboveHome }
        }
        for top in ["/proc", "/sys", "/dev"] where p == top || GrantSafety.contains(top, p) { return .kernelInterface }
        if GrantSafety.systemDirectories.contains(p) { return .systemDirectory }
        for state in stateDirectories {
            if p == state || GrantSafety.contains(p, state) { return .holdsBrigState(state) }
            if GrantSafety.contains(state, p) { return .insideBrigState(state) }
        }
        return nil
    }

    /// Whether `outer` is a proper ancestor of `inner` (both absolute and normalized).
    public static func contains(_ outer: String, _ inner: String) -> Bool {
        guard inner.count > outer.count else { return false }
        return outer == "/" ? inner.hasPrefix("/") : inner.hasPrefix(outer + "/")
    }
}

/// The paths a server's command line names, granted so that `mcp-server-git --repository
/// /some/repo` works under `default` without a hand-written `--rw`.
///
/// An argument is taken as a path when it is a word of its own or the value of `--flag=VALUE`,
/// holds a `/` (or is `.`/`..`, or starts with `~/`), and names something that exists. A bare
/// word such as `notes` is not taken, so that the name of a tool or a package that happens to
/// match a file in the working directory grants nothing. A directory is granted read and
/// write, a file read; nothing `GrantSafety` refuses, and under system directories only read.
public struct ArgumentGrants: Sendable {
    public struct Grant: Sendable, Equatable {
        /// The resolved path granted.
        public var path: String
        public var write: Bool
        /// The argument as the command line has it.
        public var argument: String
    }

    /// A path named by an argument that was not granted, and why.
    public struct Skipped: Sendable, Equatable {
        public var path: String
        public var argument: String
        public var refusal: GrantSafety.Refusal
    }

    public private(set) var grants: [Grant] = []
    public private(set) var skipped: [Skipped] = []

    /// Read-only trees: a directory named under them is granted read, not write.
    static let readOnlyTrees = ["/usr", "/bin", "/sbin", "/lib", "/lib32", "/lib64", "/libx32", "/opt", "/snap"]
    /// Never granted by naming them: the system's secrets and state (`/etc/shadow`, sudoers,
    /// host keys), kernel interfaces, and nothing under another user's home.
    static let neverTrees = ["/etc", "/root", "/boot", "/proc", "/sys", "/dev", "/run", "/var/lib", "/var/run", "/var/log"]
    /// Never granted in a home directory: where keys and tokens live.
    static let secretNames: Set<String> = [
        ".ssh", ".gnupg", ".aws", ".azure", ".kube", ".docker", ".netrc", ".git-credentials",
        ".password-store", ".pgpass", ".npmrc", ".pypirc", "gcloud", "gh", ".vault-token",
    ]

    /// Why naming `path` on the command line does not grant it, beyond `GrantSafety`'s rules.
    static func secretRefusal(_ path: String, home: String) -> GrantSafety.Refusal? {
        if neverTrees.contains(where: { path == $0 || GrantSafety.contains($0, path) }) && !(home != "/" && !home.isEmpty && (path == home || GrantSafety.contains(home, path))) {
            return .systemSecrets
        }
        if path.split(separator: "/").contains(where: { secretNames.contains(String($0)) }) { return .secrets }
        return nil
    }

    /// `arguments` without argv[0]; relative paths are taken against `workingDirectory`.
    /// `allowWrite` false grants directories read only.
    public init(arguments: [String], workingDirectory: String, home: String, safety: GrantSafety, allowWrite: Bool = true) {
        for argument in arguments {
            var candidate = argument
            if argument.hasPrefix("-") {
                guard let eq = argument.firstIndex(of: "=") else { continue }
                candidate = String(argument[argument.index(after: eq)...])
            }
            guard let path = ArgumentGrants.pathOf(candidate, workingDirectory: workingDirectory, home: home) else { continue }
            var st = stat()
            guard stat(path, &st) == 0 else { continue }
            let real = FileSystem.realpath(path)
            if let refusal = safety.refusal(for: real) ?? ArgumentGrants.secretRefusal(real, home: safety.home) {
                if !skipped.contains(where: { $0.path == real }) { skipped.append(Skipped(path: real, argument: argument, refusal: refusal)) }
                continue
            }
            let isDirectory = (st.st_mode & S_IFMT) == S_IFDIR
            let underReadOnly = ArgumentGrants.readOnlyTrees.contains { real == $0 || GrantSafety.contains($0, real) }
            let write = allowWrite && isDirectory && !underReadOnly
            if let i = grants.firstIndex(where: { $0.path == real }) {
                grants[i].write = grants[i].write || write
            } else {
                grants.append(Grant(path: real, write: write, argument: argument))
            }
        }
    }

    /// The absolute path an argument names, or nil when it does not look like one.
    static func pathOf(_ text: String, workingDirectory: String, home: String) -> String? {
        guard !text.isEmpty, !text.contains("\0"), !text.contains("://") else { return nil }
        if text.hasPrefix("/") { return text }
        if text.hasPrefix("~/") { return home.isEmpty ? nil : home + String(text.dropFirst()) }
        guard text == "." || text == ".." || text.contains("/") else { return nil }
        return workingDirectory == "/" ? "/" + text : workingDirectory + "/" + text
    }
}

/// Whether the server's working directory is granted, and why not when it is not.
public struct WorkingDirectoryDecision: Sendable, Equatable {
    public var path: String
    public var granted: Bool
    /// Why it is not granted (nil when it is).
    public var refusal: GrantSafety.Refusal?
    /// The user named it (`--workdir`): their word, but `/` and `$HOME` still need
    /// `--allow-broad-grant`.
    public var explicit: Bool

    /// Decides for `path`; an explicit broad directory without `allowBroad` is an error.
    public static func decide(
        path: String, explicit: Bool, allowBroad: Bool,
        safety: GrantSafety
    ) throws(SandboxError) -> WorkingDirectoryDecision {
        guard let refusal = safety.refusal(for: path) else {
            return WorkingDirectoryDecision(path: path, granted: true, refusal: nil, explicit: explicit)
        }
        if explicit {
            switch refusal {
            case .root, .home, .aboveHome:
                guard allowBroad else {
                    throw SandboxError("--workdir \(path): \(refusal); pass --allow-broad-grant to grant it anyway")
                }
                return WorkingDirectoryDecision(path: path, granted: true, refusal: nil, explicit: true)
            case .holdsBrigState, .insideBrigState, .kernelInterface, .systemSecrets, .secrets:
                throw SandboxError("--workdir \(path): \(refusal); the server could not be kept from it")
            case .systemDirectory:
                return WorkingDirectoryDecision(path: path, granted: true, refusal: nil, explicit: true)
            }
        }
        return WorkingDirectoryDecision(path: path, granted: false, refusal: refusal, explicit: false)
    }

    /// The line `brig check` and the session-start record show.
    public var summary: String {
        if granted { return "working directory \(path): granted\(explicit ? " (--workdir)" : "")" }
        return "working directory \(path): not granted (\(refusal.map { "\($0)" } ?? "refused")); "
            + "give the server a project with --workdir DIR or the host config's cwd"
    }
}
