public import ArgumentParser
import BrigContent
import BrigProfile
import BrigRelay
import BrigSandbox
import BrigSystem

#if canImport(Glibc)
@preconcurrency import Glibc
#endif

/// The options that choose and adjust a profile, shared by `run` and `check`.
public struct SandboxOptions: ParsableArguments {
    @Option(
        name: .customLong("profile"),
        help: ArgumentHelp(
            "A built-in profile name (see `brig profiles`) or a YAML file. Its write grants under $HOME that do not exist "
                + "yet (uv's cache on a fresh machine) are created, 0700, in the user's own directories.", valueName: "NAME|FILE"))
    var profile: String = "default"

    @Option(name: .customLong("ro"), help: ArgumentHelp("Also let the server read PATH (repeatable).", valueName: "PATH"))
    var readOnly: [String] = []

    @Option(name: .customLong("rw"), help: ArgumentHelp("Also let the server read and write PATH (repeatable).", valueName: "PATH"))
    var readWrite: [String] = []

    @Option(
        name: .customLong("unix"),
        help: ArgumentHelp(
            "Also let the server connect and send to the UNIX socket PATH, or to sockets below the directory PATH (repeatable).",
            valueName: "PATH"))
    var unixSockets: [String] = []

    @Option(
        name: .customLong("net"),
        help: ArgumentHelp(
            "Network: none, all, TCP ports to connect to (443,80), or an allow-list of hosts reached through brig's egress proxy "
                + "(api.github.com,*.githubusercontent.com:443,10.0.0.5:5432; !HOST denies; +HOSTS adds to the profile's list). "
                + "A name that resolves to a local address (loopback, private, link-local) passes only when that address is listed too.",
            valueName: "none|all|PORTS|HOSTS"))
    var network: String?

    @Option(
        name: .customLong("env"),
        help: ArgumentHelp(
            "Pass variable NAME from brig's environment, or set NAME=VALUE (repeatable). Beyond the profile's env.allow; "
                + "default passes SSL_CERT_FILE and the other TLS trust-anchor variables and grants read on what they name.",
            valueName: "NAME[=VALUE]"))
    var env: [String] = []

    @Option(
        name: .customLong("workdir"),
        help: ArgumentHelp(
            "The server's working directory and $WORKDIR (default: the current directory, granted only when it is a "
                + "project: never /, $HOME or above it, a system directory, or one holding brig's state).", valueName: "DIR"))
    var workdir: String?

    @Flag(
        name: .customLong("allow-broad-grant"),
        help: ArgumentHelp(
            "Let --workdir, --rw and --ro name /, $HOME or a directory above it (brig check flags it)."))
    var allowBroadGrant = false

    @Flag(
        name: .customLong("no-argument-grants"),
        help: ArgumentHelp(
            "Do not grant the paths the server command's arguments name (sandbox.filesystem.arguments: false)."))
    var noArgumentGrants = false

    @Option(
        name: .customLong("memory"),
        help: ArgumentHelp(
            "Memory the server's processes may use together (a memory cgroup as root, else RLIMIT_AS): 2GiB, 2G, 1.5GiB, 2GB, or unlimited.",
            valueName: "SIZE"))
    var memory: String?

    @Flag(
        name: .customLong("no-view"),
        help: ArgumentHelp(
            "No namespace view: the server sees the host's tree, limited by Landlock alone (sandbox.view: landlock)."))
    var noView = false

    public init() {}

    /// A --workdir that is not a directory is a usage error, named as such.
    func validateWorkdir() throws {
        guard let workdir else { return }
        let path = resolvedWorkdir()
        var st = stat()
        guard stat(path, &st) == 0, (st.st_mode & S_IFMT) == S_IFDIR else {
            throw ValidationError("--workdir \(workdir): no such directory")
        }
    }

    var overrides: ProfileOverrides {
        var o = ProfileOverrides()
        o.readPaths = readOnly
        o.writePaths = readWrite
        o.unixPaths = unixSockets
        o.network = network
        o.env = env
        o.noArgumentGrants = noArgumentGrants
        o.noView = noView
        if let memory {
            o.memory = ByteSize.parse(memory)
        }
        return o
    }

    /// A --memory that is not a size, and broad --rw/--ro without --allow-broad-grant, are usage errors.
    func validateGrants() throws {
        if let memory, memory != "unlimited" {
            guard let size = ByteSize.parse(memory), size >= 1 << 20 else {
                throw ValidationError("--memory: '\(memory)' is not a size of at least 1MiB (e.g. 2GiB) or unlimited")
            }
        }
        guard !allowBroadGrant else { return }
        let safety = grantSafety(environment: ProcessEnvironment.snapshot())
        for (flag, paths) in [("--rw", readWrite), ("--ro", readOnly)] {
            for path in paths {
                let absolute = path.hasPrefix("/") ? path : resolvedWorkdirOfProcess() + "/" + path
                if let refusal = safety.refusal(for: absolute), refusal.isBroad {
                    throw ValidationError("\(flag) \(path): \(refusal); pass --allow-broad-grant to grant it anyway")
                }
            }
        }
    }

    /// The user's home and brig's own state directories, which no grant may cover.
    func grantSafety(environment: [String: String], auditLog: String? = nil) -> GrantSafety {
        let home = ProcessEnvironment.home(environment)
        var state = [ContentGuard.defaultStateDirectory(environment: environment)]
        if let auditLog, auditLog != "-" { state.append(FileSystem.parent(of: auditLog.hasPrefix("/") ? auditLog : resolvedWorkdirOfProcess() + "/" + auditLog)) }
        return GrantSafety(home: home, stateDirectories: state)
    }

    /// Whether the working directory is granted; throws brig's own errors (125).
    func workingDirectoryDecision(environment: [String: String], auditLog: String? = nil) throws(BrigCLIError) -> WorkingDirectoryDecision {
        do {
            return try WorkingDirectoryDecision.decide(
                path: resolvedWorkdir(), explicit: workdir != nil,
                allowBroad: allowBroadGrant,
                safety: grantSafety(environment: environment, auditLog: auditLog))
        } catch {
            throw .brig(error.description)
        }
    }

    /// The directory relative paths in the profile are read from (keys, JWKS), if it is a file.
    func profileDirectory() -> String? {
        guard profile.contains("/") || profile.hasSuffix(".yaml") || profile.hasSuffix(".yml") else { return nil }
        let absolute = profile.hasPrefix("/") ? profile : resolvedWorkdirOfProcess() + "/" + profile
        guard let slash = absolute.lastIndex(of: "/") else { return nil }
        return String(absolute[..<slash])
    }

    func resolvedWorkdirOfProcess() -> String { FileSystem.currentDirectory() }

    /// The absolute working directory.
    func resolvedWorkdir() -> String {
        let cwd = FileSystem.currentDirectory()
        guard let workdir else { return cwd }
        let absolute = workdir.hasPrefix("/") ? workdir : cwd + "/" + workdir
        return FileSystem.realpath(absolute)
    }

    /// Loads the profile for this run; throws brig's own errors (125), the profile's naming its
    /// file, line and key.
    func loadProfile(
        tmpdir: String, environment: [String: String], policy: PolicyOptions? = nil, workdirGranted: Bool = true
    ) throws(BrigCLIError) -> (Profile, ProfileContext) {
        let home = ProcessEnvironment.home(environment)
        var context = ProfileContext(home: home, workdir: resolvedWorkdir(), tmpdir: tmpdir, environment: environment)
        context.workdirGranted = workdirGranted
        do {
            var o = overrides
            policy?.apply(to: &o)
            return (try ProfileLoader.load(profile, context: context, overrides: o), context)
        } catch {
            throw .brig(error.description)
        }
    }
}

/// brig's own environment as a dictionary and as "NAME=VALUE" strings.
