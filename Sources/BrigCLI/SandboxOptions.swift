public import ArgumentParser
import BrigProfile
import BrigRelay
import BrigSandbox

#if canImport(Glibc)
@preconcurrency import Glibc
#endif

/// The options that choose and adjust a profile, shared by `run` and `check`.
public struct SandboxOptions: ParsableArguments {
    @Option(name: .customLong("profile"), help: ArgumentHelp(
        "A built-in profile name (see `brig profiles`) or a YAML file.", valueName: "NAME|FILE"))
    var profile: String = "default"

    @Option(name: .customLong("ro"), help: ArgumentHelp("Also let the server read PATH (repeatable).", valueName: "PATH"))
    var readOnly: [String] = []

    @Option(name: .customLong("rw"), help: ArgumentHelp("Also let the server read and write PATH (repeatable).", valueName: "PATH"))
    var readWrite: [String] = []

    @Option(name: .customLong("unix"), help: ArgumentHelp(
        "Also let the server connect and send to the UNIX socket PATH, or to sockets below the directory PATH (repeatable).",
        valueName: "PATH"))
    var unixSockets: [String] = []

    @Option(name: .customLong("net"), help: ArgumentHelp(
        "Network: none, all, or TCP ports to connect to (e.g. 443,80).", valueName: "none|all|PORTS"))
    var network: String?

    @Option(name: .customLong("env"), help: ArgumentHelp(
        "Pass variable NAME from brig's environment, or set NAME=VALUE (repeatable).", valueName: "NAME[=VALUE]"))
    var env: [String] = []

    @Option(name: .customLong("workdir"), help: ArgumentHelp(
        "The server's working directory and $WORKDIR (default: the current directory).", valueName: "DIR"))
    var workdir: String?

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
        return o
    }

    /// The directory relative paths in the profile are read from (keys, JWKS), if it is a file.
    func profileDirectory() -> String? {
        guard profile.contains("/") || profile.hasSuffix(".yaml") || profile.hasSuffix(".yml") else { return nil }
        let absolute = profile.hasPrefix("/") ? profile : resolvedWorkdirOfProcess() + "/" + profile
        guard let slash = absolute.lastIndex(of: "/") else { return nil }
        return String(absolute[..<slash])
    }

    func resolvedWorkdirOfProcess() -> String {
        var buf = [CChar](repeating: 0, count: 4096)
        return getcwd(&buf, buf.count) != nil ? String(decoding: buf.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self) : "/"
    }

    /// The absolute working directory.
    func resolvedWorkdir() -> String {
        var buf = [CChar](repeating: 0, count: 4096)
        let cwd = getcwd(&buf, buf.count) != nil ? String(decoding: buf.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self) : "/"
        guard let workdir else { return cwd }
        let absolute = workdir.hasPrefix("/") ? workdir : cwd + "/" + workdir
        return FileSystem.realpath(absolute)
    }


    /// Loads the profile for this run; brig's own errors end the process (125).
    func loadProfile(tmpdir: String, environment: [String: String], policy: PolicyOptions? = nil) -> (Profile, ProfileContext) {
        let home = environment["HOME"] ?? String(cString: getpwuid(geteuid())?.pointee.pw_dir ?? strdup("/"))
        let context = ProfileContext(home: home, workdir: resolvedWorkdir(), tmpdir: tmpdir, environment: environment)
        do {
            var o = overrides
            policy?.apply(to: &o)
            return (try ProfileLoader.load(profile, context: context, overrides: o), context)
        } catch {
            Brig.fail(error.description)
        }
    }
}

/// brig's own environment as a dictionary and as "NAME=VALUE" strings.
enum HostEnvironment {
    static func entries() -> [String] {
        var result: [String] = []
        var p = environ
        while let entry = p.pointee {
            result.append(String(cString: entry))
            p += 1
        }
        return result
    }

    static func dictionary() -> [String: String] {
        var d: [String: String] = [:]
        for e in entries() {
            guard let eq = e.firstIndex(of: "=") else { continue }
            d[String(e[..<eq])] = String(e[e.index(after: eq)...])
        }
        return d
    }
}
