import BrigSystem

#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#endif

public enum ProfileLoader {
    /// Loads NAME (a built-in) or a path (contains "/" or ends in .yaml/.yml; relative paths are
    /// resolved against the current directory), resolves `extends`, applies `overrides`.
    public static func load(
        _ nameOrPath: String, context: ProfileContext,
        overrides: ProfileOverrides = .init()
    ) throws(ProfileError) -> Profile {
        let cwd = FileSystem.currentDirectory()
        if isPath(nameOrPath) {
            let path = normalizePath(nameOrPath.hasPrefix("/") ? nameOrPath : cwd + "/" + nameOrPath)
            let text: String
            switch readTextFile(path) {
            case .success(let t): text = t
            case .failure(let e): throw ProfileError(file: path, line: 0, key: "", message: "cannot read profile: \(e.message)")
            }
            return try load(yaml: text, source: path, context: context, overrides: overrides)
        }
        guard let text = builtinText(nameOrPath) else {
            throw ProfileError(file: "builtin:\(nameOrPath)", line: 0, key: "", message: unknownBuiltin(nameOrPath))
        }
        return try load(yaml: text, source: "builtin:\(nameOrPath)", context: context, overrides: overrides)
    }

    /// Loads YAML text. `source` names it in errors and in `Profile.source`; it is a path
    /// (relative `extends` paths are resolved against its directory) or `builtin:NAME`.
    public static func load(
        yaml: String, source: String, context: ProfileContext,
        overrides: ProfileOverrides = .init()
    ) throws(ProfileError) -> Profile {
        let cwd = FileSystem.currentDirectory()
        let resolver = Resolver(variables: Variables(context: context, cwd: cwd), cwd: cwd)
        let (layer, sections, chain) = try resolver.resolve(text: yaml, source: source, visiting: [])
        var profile = Profile(
            name: layer.name ?? stem(source), description: layer.description,
            source: source, chain: chain, sandbox: sections.sandbox)
        profile.mcp = sections.mcp
        profile.mcp.workdir = resolver.variables.workdir.isEmpty ? nil : resolver.variables.workdir
        profile.audit = sections.audit
        try applyOverrides(overrides, to: &profile.sandbox, variables: resolver.variables, cwd: cwd)
        try applyMCPOverrides(overrides, to: &profile.mcp)
        return profile
    }

    /// The built-in profile names, sorted.
    public static var builtinNames: [String] { BuiltinProfiles.texts.keys.sorted() }

    /// The YAML text of a built-in profile.
    public static func builtinText(_ name: String) -> String? { BuiltinProfiles.texts[name] }

    // MARK: Internals

    static func isPath(_ s: String) -> Bool {
        s.contains("/") || s.hasSuffix(".yaml") || s.hasSuffix(".yml")
    }

    static func unknownBuiltin(_ name: String) -> String {
        var msg = "unknown built-in profile \"\(name)\""
        if let s = suggest(name, builtinNames) { msg += " (did you mean \(s)?)" }
        return msg + "; built-ins: " + builtinNames.joined(separator: ", ")
            + " (a file path must contain / or end in .yaml)"
    }

    /// The file's stem: `/a/b/my-server.yaml` -> `my-server`, `builtin:default` -> `default`.
    static func stem(_ source: String) -> String {
        if source.hasPrefix("builtin:") { return String(source.dropFirst("builtin:".count)) }
        var base = source.split(separator: "/").last.map(String.init) ?? source
        for ext in [".yaml", ".yml"] where base.hasSuffix(ext) && base.count > ext.count {
            base.removeLast(ext.count)
            break
        }
        return base
    }

    static func applyOverrides(
        _ o: ProfileOverrides, to s: inout SandboxProfile,
        variables: Variables, cwd: String
    ) throws(ProfileError) {
        func flagError(_ flag: String, _ message: String) -> ProfileError {
            ProfileError(file: "", line: 0, key: flag, message: message)
        }
        func path(_ flag: String, _ text: String) throws(ProfileError) -> String? {
            guard !text.isEmpty else { throw flagError(flag, "empty path") }
            do {
                switch try variables.path(text, relativeTo: cwd) {
                case .value(let p): return p
                case .dropped: return nil
                }
            } catch {
                throw flagError(flag, error.message)
            }
        }
        for p in o.readPaths {
            if let p = try path("--ro", p) { appendUnique(&s.readPaths, [p]) }
        }
        for p in o.writePaths {
            if let p = try path("--rw", p) {
                appendUnique(&s.readPaths, [p])
                appendUnique(&s.writePaths, [p])
            }
        }
        for p in o.unixPaths {
            if let p = try path("--unix", p) { appendUnique(&s.unixPaths, [p]) }
        }
        if let net = o.network {
            s.network = try parseNetworkFlag(net, current: s.network)
        }
        if o.noArgumentGrants { s.grantArguments = .off }
        if let memory = o.memory { s.memory = memory == UInt64.max ? nil : memory }
        if o.noView { s.view = .landlock }
        for e in o.env {
            if let eq = e.firstIndex(of: "=") {
                let name = String(e[..<eq]), value = String(e[e.index(after: eq)...])
                guard isEnvName(name) else {
                    throw flagError("--env", "\"\(name)\" is not a variable name (expected NAME or NAME=VALUE)")
                }
                s.envSet[name] = value
            } else {
                guard isEnvGlob(e) else {
                    throw flagError("--env", "\"\(e)\" is not a variable name or * glob (expected NAME or NAME=VALUE)")
                }
                appendUnique(&s.envAllow, [e])
            }
        }
    }

    /// `--net none|all|PORTS|HOSTS|+HOSTS`: PORTS like `443,80` (connect ports); HOSTS a comma
    /// list of allow-list rules, `!RULE` for a deny rule; a leading `+` adds to the profile's own
    /// allow-list instead of replacing the network.
    static func parseNetworkFlag(_ text: String, current: NetworkPolicy = .none) throws(ProfileError) -> NetworkPolicy {
        var t = text.trimmingWhitespace
        func flagError(_ message: String) -> ProfileError { ProfileError(file: "", line: 0, key: "--net", message: message) }
        if t == "none" { return .none }
        if t == "all" { return .all }
        let adding = t.hasPrefix("+")
        if adding { t.removeFirst() }
        let parts = t.split(separator: ",", omittingEmptySubsequences: false).map { String($0).trimmingWhitespace }
        if !adding, parts.allSatisfy({ !$0.isEmpty && $0.allSatisfy(\.isNumber) }) {
            var ports: [UInt16] = []
            for p in parts {
                guard let n = Int(p), (1...65535).contains(n) else { throw flagError("port \(p) is not 1-65535") }
                appendUnique(&ports, [UInt16(n)])
            }
            return .ports(connect: ports, bind: [])
        }
        var rules = EgressRules(allow: [], deny: [])
        if adding {
            guard case .hosts(let existing) = current else {
                throw flagError("+\(t) adds to the profile's allow-list, and this profile has none (its network is \(current.summary)); drop the + to replace it")
            }
            rules = existing
        }
        for p in parts {
            let deny = p.hasPrefix("!")
            let spelled = deny ? String(p.dropFirst()) : p
            guard !spelled.isEmpty else { throw flagError("an empty entry in \"\(text)\" (expected none, all, ports like 443,80, or hosts like api.github.com,10.0.0.5:5432)") }
            do {
                let rule = try HostRule.parse(spelled)
                if deny { appendUnique(&rules.deny, [rule]) } else { appendUnique(&rules.allow, [rule]) }
            } catch {
                throw flagError(error.message.hasPrefix(spelled) ? error.message : "\(spelled): \(error.message)")
            }
        }
        guard !rules.allow.isEmpty else { throw flagError("only deny rules in \"\(text)\": name what the server may reach (\"*\" for every host name)") }
        return .hosts(rules)
    }
}

/// The resolved sections of a profile: each layer applied on top of its parent's.
struct Sections {
    var sandbox = SandboxProfile()
    var mcp = MCPPolicy()
    var audit = AuditSettings()

    init() {}

    init(layer: ProfileLayer, parent: Sections) {
        sandbox = layer.apply(to: parent.sandbox)
        mcp = layer.mcp.apply(to: parent.mcp)
        audit = layer.audit.apply(to: parent.audit)
    }
}

/// Follows `extends` chains. Sources already on the chain (`visiting`) make a cycle.
struct Resolver {
    let variables: Variables
    let cwd: String
    static let maxDepth = 32

    func resolve(
        text: String, source: String,
        visiting: [String]
    ) throws(ProfileError) -> (ProfileLayer, Sections, [String]) {
        let parser = DocumentParser(file: source, variables: variables)
        let layer = try parser.parse(text)
        guard let (target, line) = layer.extends else {
            return (layer, Sections(layer: layer, parent: Sections()), [source])
        }
        func fail(_ message: String) -> ProfileError {
            ProfileError(file: source, line: line, key: "extends", message: message)
        }
        let parentSource: String, parentText: String
        if ProfileLoader.isPath(target) {
            let outcome: Variables.Outcome
            do { outcome = try variables.expand(target) } catch { throw fail(error.message) }
            guard case .value(var expanded) = outcome else {
                throw fail("\"\(target)\" uses $XDG_RUNTIME_DIR, which is not set")
            }
            if !expanded.hasPrefix("/") { expanded = directory(of: source) + "/" + expanded }
            parentSource = normalizePath(expanded)
            switch readTextFile(parentSource) {
            case .success(let t): parentText = t
            case .failure(let e): throw fail("cannot read \(parentSource): \(e.message)")
            }
        } else {
            guard let t = ProfileLoader.builtinText(target) else { throw fail(ProfileLoader.unknownBuiltin(target)) }
            parentSource = "builtin:\(target)"
            parentText = t
        }
        let onChain = visiting + [source]
        if let start = onChain.firstIndex(of: parentSource) {
            let cycle = onChain[start...] + [parentSource]
            throw fail("extends cycle: " + cycle.joined(separator: " -> "))
        }
        if onChain.count >= Resolver.maxDepth {
            throw fail("extends chain deeper than \(Resolver.maxDepth) profiles")
        }
        let (_, parent, chain) = try resolve(text: parentText, source: parentSource, visiting: onChain)
        return (layer, Sections(layer: layer, parent: parent), chain + [source])
    }

    /// Where relative `extends` paths start: the source file's directory, else the current one.
    func directory(of source: String) -> String {
        guard !source.hasPrefix("builtin:"), let slash = source.lastIndex(of: "/") else { return cwd }
        let dir = String(source[..<slash])
        if source.hasPrefix("/") { return dir.isEmpty ? "/" : dir }
        return cwd + "/" + dir
    }
}

struct ReadError: Error {
    var message: String
}

func readTextFile(_ path: String) -> Result<String, ReadError> {
    let bytes: [UInt8]
    do {
        bytes = try FileSystem.contents(of: path, limit: 4 << 20)
    } catch {
        return .failure(ReadError(message: error.code == EFBIG ? "file larger than 4 MiB" : SystemError.text(error.code)))
    }
    guard let text = String(validating: bytes, as: UTF8.self) else {
        return .failure(ReadError(message: "not UTF-8 text"))
    }
    return .success(text)
}
