/// Profiles: one YAML file per profile (`version: 1`, `extends: NAME|PATH`).
///
/// This file holds the public model; `ProfileLoader` turns YAML into it (see Loader.swift),
/// `ProfileDocument` validates one file (Document.swift), `Variables` expands `$HOME` & co.
public enum ProfileFormat {
    /// The only `version:` this build understands.
    public static let version = 1
}

/// What variables in a profile expand to, taken from the process that runs brig.
public struct ProfileContext: Sendable {
    /// `$HOME` and the `~/` prefix.
    public var home: String
    /// `$WORKDIR` (the `--workdir` flag, else the current directory). A relative value is
    /// resolved against the current directory.
    public var workdir: String
    /// `$TMPDIR`: the child's private temporary directory.
    public var tmpdir: String
    /// The environment: read for the `XDG_*` variables only.
    public var environment: [String: String]
    /// Whether `$WORKDIR` is granted. False when brig was started in a place that is not a
    /// project (`/`, `$HOME`, a system directory): every profile entry naming `$WORKDIR` is then
    /// dropped, as entries naming an unset `$XDG_RUNTIME_DIR` are, and the server gets no
    /// working-directory grant at all.
    public var workdirGranted = true

    public init(home: String, workdir: String, tmpdir: String, environment: [String: String]) {
        self.home = home
        self.workdir = workdir
        self.tmpdir = tmpdir
        self.environment = environment
    }
}

/// Command-line additions, applied after `extends` resolution.
public struct ProfileOverrides: Sendable {
    /// `--ro PATH`: added to filesystem.read.
    public var readPaths: [String] = []
    /// `--rw PATH`: added to filesystem.read and filesystem.write.
    public var writePaths: [String] = []
    /// `--unix PATH`: added to filesystem.unix.
    public var unixPaths: [String] = []
    /// `--net none|all|PORTS|HOSTS|+HOSTS` (PORTS like `443,80` = connect ports; HOSTS like
    /// `api.github.com,10.0.0.5:5432,!169.254.169.254`); replaces the profile's network, or with
    /// `+` adds to its allow-list.
    public var network: String? = nil
    /// `--env NAME` (allow NAME, `*` globs accepted) or `--env NAME=VALUE` (set).
    public var env: [String] = []
    /// `--no-argument-grants`: `sandbox.filesystem.arguments: false`.
    public var noArgumentGrants = false
    /// `--memory SIZE|unlimited`: replaces `sandbox.memory`.
    public var memory: UInt64? = nil
    /// `--no-view`: `sandbox.view: landlock` (no mount/pid namespace view).
    public var noView = false
    /// `--allow-tool GLOB`: a rule allowing matching tools, placed before the profile's rules.
    public var allowTools: [String] = []
    /// `--deny-tool GLOB`: a rule denying matching tools, placed before everything (beats --allow-tool).
    public var denyTools: [String] = []
    /// `--ask-tool GLOB`: a rule allowing matching tools once the user confirms each call.
    public var askTools: [String] = []
    /// `--ask-timeout SECONDS`: replaces `mcp.ask_timeout`.
    public var askTimeout: Double? = nil
    /// `--permissive`: compute MCP decisions but forward anyway (`mcp.mode: permissive`).
    public var permissive: Bool = false

    public init() {}
}

public enum SyscallDefault: String, Sendable {
    case allow, deny
}

public enum DenyAction: String, Sendable {
    case errno, kill
}

/// `sandbox.filesystem.arguments`: what the paths on the server's command line are granted.
public enum ArgumentGrantMode: String, Sendable {
    /// `true`: a directory read and write, a file read.
    case readWrite = "true"
    /// `read`: read only (strict: nothing the command line names becomes writable).
    case read
    /// `false`: nothing.
    case off = "false"
}

/// How the child's filesystem is shown to it (`sandbox.view`).
public enum FilesystemView: String, Sendable {
    /// A mount namespace holding only the granted paths, a private /proc (new pid namespace),
    /// /tmp and /dev, new ipc and uts namespaces, where the kernel lets brig make them (root, or
    /// unprivileged user namespaces); Landlock alone elsewhere.
    case auto
    /// Landlock alone: the child sees the host's tree, and may open only what is granted.
    case landlock
}

public enum NetworkPolicy: Sendable, Equatable {
    case none
    case all
    case ports(connect: [UInt16], bind: [UInt16])
    /// An allow-list of hosts (`network: {allow: [...], deny: [...]}`): the server reaches the
    /// network only through brig's egress proxy, which lets through what the rules admit.
    case hosts(EgressRules)

    /// One line for messages and `brig check`: `none`, `all`, `connect 443; bind 8080`,
    /// `allow api.github.com, 10.0.0.5:5432; deny 169.254.169.254`.
    public var summary: String {
        switch self {
        case .none: return "none"
        case .all: return "all"
        case .ports(let c, let b):
            return "connect \(c.isEmpty ? "none" : c.map(String.init).joined(separator: ",")); bind \(b.isEmpty ? "none" : b.map(String.init).joined(separator: ","))"
        case .hosts(let r):
            return "allow \(r.allow.map(\.description).joined(separator: ", "))" + (r.deny.isEmpty ? "" : "; deny \(r.deny.map(\.description).joined(separator: ", "))")
        }
    }
}

/// The fully resolved sandbox: variables expanded, paths absolute and normalized, parents merged.
public struct SandboxProfile: Sendable, Equatable {
    public var syscallDefault: SyscallDefault
    /// Syscall names and `@group`s.
    public var denySyscalls: [String]
    public var allowSyscalls: [String]
    public var denyAction: DenyAction
    /// Kept capabilities.
    public var capabilities: [Capability]
    public var readPaths: [String]
    public var writePaths: [String]
    public var execPaths: [String]
    /// `filesystem.unix`: named UNIX sockets the child may connect or send to, each a socket or a
    /// directory above sockets (brig's socket gate; Landlock ABI < 9 cannot say this).
    public var unixPaths: [String] = []
    public var network: NetworkPolicy
    /// `UInt64.max` = unlimited.
    public var rlimits: [ResourceLimit: UInt64]
    /// Names or `*` globs (see `globMatch`).
    public var envAllow: [String]
    public var envSet: [String: String]
    /// Variable name -> expanded path of the file holding its value.
    public var secrets: [String: String]
    public var require: [KernelRequirement]
    public var namespaces: [Namespace]
    /// nil = not specified.
    public var user: UserSpec?
    /// `sandbox.executable_sha256`: refuse to start a server whose resolved executable differs.
    public var executableSHA256: String?
    /// `sandbox.filesystem.arguments`: grant the paths the server command's arguments name.
    public var grantArguments: ArgumentGrantMode = .readWrite
    /// `sandbox.filesystem.writable_exec`: false refuses a profile whose write grants lie
    /// under (or over) an exec grant, so nothing the server writes can be executed.
    public var writableExec = true
    /// `sandbox.memory`: bytes of memory the server's processes may use together (a memory
    /// cgroup where brig can make one, else `RLIMIT_AS` per process); nil: not bounded.
    public var memory: UInt64?
    /// `sandbox.view`.
    public var view: FilesystemView = .auto

    /// Defaults are the empty profile: nothing granted (no paths, no network, no capabilities,
    /// no environment), syscall filter default `allow` with no denials.
    public init(
        syscallDefault: SyscallDefault = .allow, denySyscalls: [String] = [],
        allowSyscalls: [String] = [], denyAction: DenyAction = .errno,
        capabilities: [Capability] = [],
        readPaths: [String] = [], writePaths: [String] = [], execPaths: [String] = [],
        network: NetworkPolicy = .none, rlimits: [ResourceLimit: UInt64] = [:],
        envAllow: [String] = [], envSet: [String: String] = [:], secrets: [String: String] = [:],
        require: [KernelRequirement] = [], namespaces: [Namespace] = [], user: UserSpec? = nil
    ) {
        self.syscallDefault = syscallDefault
        self.denySyscalls = denySyscalls
        self.allowSyscalls = allowSyscalls
        self.denyAction = denyAction
        self.capabilities = capabilities
        self.readPaths = readPaths
        self.writePaths = writePaths
        self.execPaths = execPaths
        self.network = network
        self.rlimits = rlimits
        self.envAllow = envAllow
        self.envSet = envSet
        self.secrets = secrets
        self.require = require
        self.namespaces = namespaces
        self.user = user
    }
}

public struct Profile: Sendable, Equatable {
    public var name: String
    public var description: String?
    /// A normalized absolute path, or `builtin:NAME`.
    public var source: String
    /// Sources from the root ancestor to this one (the last element is `source`).
    public var chain: [String]
    public var sandbox: SandboxProfile
    /// The `mcp:` section: message policy (defaults allow everything).
    public var mcp = MCPPolicy()
    /// The `audit:` section.
    public var audit = AuditSettings()

    public init(name: String, description: String?, source: String, chain: [String], sandbox: SandboxProfile) {
        self.name = name
        self.description = description
        self.source = source
        self.chain = chain
        self.sandbox = sandbox
    }
}

/// Every profile problem. `description` is one line: `FILE:LINE: KEY.PATH: message`.
/// Parts that do not apply are left out: no `:LINE` when `line` is 0 (e.g. an unreadable file),
/// no `KEY.PATH: ` when `key` is empty (e.g. a YAML syntax error), and for command-line
/// overrides `file` is empty and `key` is the flag: `--net: expected ...`.
public struct ProfileError: Error, Sendable, CustomStringConvertible {
    public var file: String
    public var line: Int
    public var key: String
    public var message: String

    public init(file: String, line: Int, key: String, message: String) {
        self.file = file
        self.line = line
        self.key = key
        self.message = message
    }

    public var description: String {
        var out = ""
        if !file.isEmpty {
            out += file
            if line > 0 { out += ":\(line)" }
            out += ": "
        }
        if !key.isEmpty { out += key + ": " }
        out += message
        // Guarantee one line whatever the message carries (YAML problems, file names, keys):
        // every line break, not just \n and \r (a CR LF pair is one Character, and VT, FF,
        // NEL, U+2028 and U+2029 break lines too).
        return String(out.map { $0.isNewline ? " " : $0 })
    }
}

/// Glob match for environment names: `*` matches any run of characters (including none);
/// every other character matches itself (case-sensitive).
public func globMatch(_ pattern: String, _ name: String) -> Bool {
    let p = Array(pattern.unicodeScalars), n = Array(name.unicodeScalars)
    var pi = 0, ni = 0
    var star = -1, mark = 0
    while ni < n.count {
        if pi < p.count, p[pi] != "*", p[pi] == n[ni] {
            pi += 1; ni += 1
        } else if pi < p.count, p[pi] == "*" {
            star = pi; mark = ni; pi += 1
        } else if star >= 0 {
            pi = star + 1; mark += 1; ni = mark
        } else {
            return false
        }
    }
    while pi < p.count, p[pi] == "*" { pi += 1 }
    return pi == p.count
}
