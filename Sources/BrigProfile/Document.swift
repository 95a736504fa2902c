import BrigSystem
import Yams

/// One profile file, validated and with variables expanded, before `extends` merging.
struct ProfileLayer {
    var name: String?
    var description: String?
    var extends: (value: String, line: Int)?

    var syscallDefault: SyscallDefault?
    var denySyscalls: [String] = []
    var allowSyscalls: [String] = []
    var denyAction: DenyAction?
    var capabilities: [Capability] = []
    var readPaths: [String] = []
    var writePaths: [String] = []
    var execPaths: [String] = []
    var unixPaths: [String] = []
    var network: NetworkPolicy?
    var rlimits: [ResourceLimit: UInt64] = [:]
    var envAllow: [String] = []
    var envSet: [String: String] = [:]
    var secrets: [String: String] = [:]
    var require: [KernelRequirement] = []
    var namespaces: [Namespace] = []
    var user: UserSpec?
    var executableSHA256: String?
    /// The `mcp:` section (MCPSection.swift) and the `audit:` section (AuditSection.swift).
    var mcp = MCPLayer()
    var audit = AuditLayer()
    /// `sandbox.filesystem.inherit: false`: start from no grants instead of the parent's
    /// (how a learned profile is narrower than the profile it extends).
    var inheritFilesystem = true
    var grantArguments: ArgumentGrantMode?
    var writableExec: Bool?
    var memory: UInt64??
    var view: FilesystemView?

    /// This layer on top of `base`: scalars override, lists append without duplicates,
    /// maps merge key by key, network replaces as a whole.
    func apply(to base: SandboxProfile) -> SandboxProfile {
        var s = base
        if !inheritFilesystem {
            s.readPaths = []
            s.writePaths = []
            s.execPaths = []
            s.unixPaths = []
        }
        if let syscallDefault { s.syscallDefault = syscallDefault }
        if let denyAction { s.denyAction = denyAction }
        if let network { s.network = network }
        if let user { s.user = user }
        if let executableSHA256 { s.executableSHA256 = executableSHA256 }
        if let grantArguments { s.grantArguments = grantArguments }
        if let writableExec { s.writableExec = writableExec }
        if let memory { s.memory = memory }
        if let view { s.view = view }
        appendUnique(&s.denySyscalls, denySyscalls)
        appendUnique(&s.allowSyscalls, allowSyscalls)
        appendUnique(&s.capabilities, capabilities)
        appendUnique(&s.readPaths, readPaths)
        appendUnique(&s.writePaths, writePaths)
        appendUnique(&s.execPaths, execPaths)
        appendUnique(&s.unixPaths, unixPaths)
        appendUnique(&s.envAllow, envAllow)
        appendUnique(&s.require, require)
        appendUnique(&s.namespaces, namespaces)
        s.rlimits.merge(rlimits) { _, new in new }
        s.envSet.merge(envSet) { _, new in new }
        s.secrets.merge(secrets) { _, new in new }
        return s
    }
}

func appendUnique<T: Equatable>(_ list: inout [T], _ items: [T]) {
    for item in items where !list.contains(item) { list.append(item) }
}

enum Vocabulary {
    static let topKeys = ["version", "name", "description", "extends", "sandbox", "mcp", "audit"]
    static let sandboxKeys = [
        "syscalls", "capabilities", "filesystem", "network", "rlimits", "env",
        "require", "namespaces", "user", "executable_sha256", "memory", "view",
    ]
    static let syscallKeys = ["default_action", "deny", "allow", "on_deny"]
    static let filesystemKeys = ["inherit", "read", "write", "exec", "unix", "arguments", "writable_exec"]
    static let networkKeys = ["connect", "bind", "allow", "deny"]
    static let rlimitKeys = ResourceLimit.allCases.map(\.rawValue)
    static let envKeys = ["allow", "set", "secrets"]
    static let secretKeys = ["file"]
    static let capabilities = Capability.allCases.map(\.rawValue)
    static let networkMessage = "expected none, all, {allow: [hosts], deny: [hosts]}, or {connect: [ports], bind: [ports]}"
}

/// Validates one YAML document into a `ProfileLayer`; every error names file, line and key.
struct DocumentParser {
    let file: String
    let variables: Variables

    func fail(_ node: Node?, _ key: String, _ message: String) -> ProfileError {
        ProfileError(file: file, line: node?.mark?.line ?? 0, key: key, message: message)
    }

    func failLine(_ line: Int, _ key: String, _ message: String) -> ProfileError {
        ProfileError(file: file, line: line, key: key, message: message)
    }

    // MARK: YAML

    func compose(_ text: String) throws(ProfileError) -> Node {
        let root: Node?
        do {
            // The basic resolver: brig reads every scalar as text itself, and the default one
            // compiles a dozen ICU regular expressions at start-up (a few milliseconds per run).
            root = try Yams.compose(yaml: text, .basic)
        } catch let error as YamlError {
            throw yamlError(error, text)
        } catch {
            throw failLine(0, "", "YAML error: \(error)")
        }
        guard let root else {
            throw failLine(1, "version", "missing (the file is empty; a profile starts with version: 1)")
        }
        return root
    }

    func yamlError(_ error: YamlError, _ text: String) -> ProfileError {
        func context(_ c: YamlError.Context?) -> String {
            guard let c else { return "" }
            return " (\(c.text) at line \(c.mark.line))"
        }
        switch error {
        case .scanner(let c, let problem, let mark, _), .parser(let c, let problem, let mark, _),
            .composer(let c, let problem, let mark, _):
            return failLine(mark.line, "", "YAML syntax error: \(problem)\(context(c))")
        case .reader(let problem, let offset, _, _):
            var line = 1
            if let offset { line += text.prefix(offset).filter { $0 == "\n" }.count }
            return failLine(line, "", "YAML error: \(problem)")
        case .duplicatedKeysInMapping(let duplicates, let c):
            return failLine(
                c.mark.line, duplicates.first ?? "",
                "duplicate key"
                    + (duplicates.count > 1 ? "s " + duplicates.joined(separator: ", ") : ""))
        default:
            return failLine(0, "", "YAML error: \(error)")
        }
    }

    // MARK: Shapes

    func kind(_ node: Node) -> String {
        switch node {
        case .mapping: return "a mapping"
        case .sequence: return "a list"
        case .alias: return "an alias"
        case .scalar(let s): return isNull(node) ? "nothing (null)" : "\"\(s.string)\""
        }
    }

    func isNull(_ node: Node) -> Bool {
        guard case .scalar(let s) = node, s.style == .plain else { return false }
        return ["", "~", "null", "Null", "NULL"].contains(s.string)
    }

    /// The entries of a mapping; unknown keys (when `allowed` is given) are errors with a suggestion.
    func entries(
        _ node: Node, _ path: String, allowed: [String]?,
        nullIsEmpty: Bool = false
    ) throws(ProfileError) -> [(key: String, keyNode: Node, value: Node)] {
        if nullIsEmpty, isNull(node) { return [] }
        guard case .mapping(let mapping) = node else {
            throw fail(node, path, "expected a mapping, got \(kind(node))")
        }
        var out: [(key: String, keyNode: Node, value: Node)] = []
        for (keyNode, value) in mapping {
            guard case .scalar(let k) = keyNode, !isNull(keyNode) else {
                throw fail(keyNode, path, "expected a name as key, got \(kind(keyNode))")
            }
            let key = k.string
            if let allowed, !allowed.contains(key) {
                let full = path.isEmpty ? key : path + "." + key
                var msg = "unknown key"
                if let s = suggest(key, allowed) { msg += " (did you mean \(s)?)" }
                msg += "; expected one of: " + allowed.joined(separator: ", ")
                throw fail(keyNode, full, msg)
            }
            out.append((key, keyNode, value))
        }
        return out
    }

    func string(_ node: Node, _ path: String) throws(ProfileError) -> String {
        guard case .scalar(let s) = node, !isNull(node) else {
            throw fail(node, path, "expected a string, got \(kind(node))")
        }
        return s.string
    }

    func list(_ node: Node, _ path: String) throws(ProfileError) -> [Node] {
        if isNull(node) { return [] }
        guard case .sequence(let seq) = node else {
            throw fail(node, path, "expected a list, got \(kind(node))")
        }
        return Array(seq)
    }

    func strings(_ node: Node, _ path: String) throws(ProfileError) -> [(String, Node)] {
        var out: [(String, Node)] = []
        for item in try list(node, path) { out.append((try string(item, path), item)) }
        return out
    }

    func choice<T: RawRepresentable>(
        _ node: Node, _ path: String, _ type: T.Type,
        _ values: [String]
    ) throws(ProfileError) -> T where T.RawValue == String {
        let s = try string(node, path)
        guard let v = T(rawValue: s) else {
            throw fail(node, path, "expected \(oneOf(values)), got \"\(s)\"")
        }
        return v
    }

    func oneOf(_ values: [String]) -> String {
        values.count == 2
            ? values.joined(separator: " or ")
            : values.dropLast().joined(separator: ", ") + ", or " + values.last!
    }

    // MARK: Variables

    func path(_ node: Node, _ path: String) throws(ProfileError) -> String? {
        let text = try string(node, path)
        do {
            switch try variables.path(text) {
            case .value(let p): return p
            case .dropped: return nil
            }
        } catch {
            throw fail(node, path, error.message)
        }
    }

    func expanded(_ node: Node, _ path: String) throws(ProfileError) -> String? {
        let text = try string(node, path)
        do {
            switch try variables.expand(text) {
            case .value(let p): return p
            case .dropped: return nil
            }
        } catch {
            throw fail(node, path, error.message)
        }
    }

    // MARK: Document

    func parse(_ text: String) throws(ProfileError) -> ProfileLayer {
        let root = try compose(text)
        guard case .mapping = root else {
            throw fail(root, "", "expected a mapping with version: 1 at the top of the profile, got \(kind(root))")
        }
        let top = try entries(root, "", allowed: nil)
        // The version comes first: a newer format's keys would otherwise read as typos.
        guard let version = top.first(where: { $0.key == "version" }) else {
            throw fail(root, "version", "missing (required, must be \(ProfileFormat.version))")
        }
        guard case .scalar(let v) = version.value, Int(v.string) == ProfileFormat.version else {
            throw fail(version.value, "version", "unsupported version \(kind(version.value)); this brig reads version \(ProfileFormat.version)")
        }
        var layer = ProfileLayer()
        for (key, keyNode, value) in try entries(root, "", allowed: Vocabulary.topKeys) {
            switch key {
            case "version": break
            case "name":
                let name = try string(value, key)
                guard isProfileName(name) else {
                    throw fail(value, key, "\"\(name)\" is not a valid name (letters, digits, . _ -)")
                }
                layer.name = name
            case "description":
                layer.description = try string(value, key)
            case "extends":
                let target = try string(value, key)
                guard !target.isEmpty else { throw fail(value, key, "empty value") }
                layer.extends = (target, value.mark?.line ?? keyNode.mark?.line ?? 0)
            case "sandbox":
                try parseSandbox(value, into: &layer)
            case "mcp":
                try parseMCP(value, into: &layer.mcp)
            case "audit":
                try parseAudit(value, into: &layer.audit)
            default: break
            }
        }
        return layer
    }

    func parseSandbox(_ node: Node, into layer: inout ProfileLayer) throws(ProfileError) {
        for (key, _, value) in try entries(node, "sandbox", allowed: Vocabulary.sandboxKeys, nullIsEmpty: true) {
            let path = "sandbox." + key
            switch key {
            case "syscalls": try parseSyscalls(value, into: &layer)
            case "capabilities":
                for (s, item) in try strings(value, path) {
                    guard let cap = Capability(profileWord: s) else {
                        var msg = "unknown capability \"\(s)\""
                        var word = s.lowercased()
                        if word.hasPrefix("cap_") { word.removeFirst(4) }
                        if let sug = suggest(word, Vocabulary.capabilities) { msg += " (did you mean \(sug)?)" }
                        throw fail(item, path, msg)
                    }
                    appendUnique(&layer.capabilities, [cap])
                }
            case "filesystem":
                for (fsKey, _, list) in try entries(value, path, allowed: Vocabulary.filesystemKeys, nullIsEmpty: true) {
                    let fsPath = path + "." + fsKey
                    if fsKey == "arguments" {
                        layer.grantArguments = try choice(list, fsPath, ArgumentGrantMode.self, ["true", "read", "false"])
                        continue
                    }
                    if ["inherit", "writable_exec"].contains(fsKey) {
                        guard case .scalar(let v) = list, ["true", "false"].contains(v.string) else {
                            throw fail(list, fsPath, "expected true or false")
                        }
                        switch fsKey {
                        case "inherit": layer.inheritFilesystem = v.string == "true"
                        default: layer.writableExec = v.string == "true"
                        }
                        continue
                    }
                    var paths: [String] = []
                    for item in try self.list(list, fsPath) {
                        if let p = try self.path(item, fsPath) { appendUnique(&paths, [p]) }
                    }
                    switch fsKey {
                    case "read": appendUnique(&layer.readPaths, paths)
                    case "write": appendUnique(&layer.writePaths, paths)
                    case "unix": appendUnique(&layer.unixPaths, paths)
                    default: appendUnique(&layer.execPaths, paths)
                    }
                }
            case "network": layer.network = try parseNetwork(value, path)
            case "executable_sha256":
                let hex = try string(value, path).lowercased()
                guard hex.count == 64, hex.allSatisfy({ $0.isHexDigit }) else {
                    throw fail(value, path, "expected 64 hexadecimal digits (a SHA-256)")
                }
                layer.executableSHA256 = hex
            case "rlimits":
                for (name, _, v) in try entries(value, path, allowed: Vocabulary.rlimitKeys, nullIsEmpty: true) {
                    // `entries` allowed only the vocabulary's keys.
                    guard let limit = ResourceLimit(rawValue: name) else { continue }
                    layer.rlimits[limit] = try parseLimit(v, path + "." + name)
                }
            case "env": try parseEnv(value, into: &layer)
            case "memory":
                let limit = try parseLimit(value, path)
                layer.memory = .some(limit == UInt64.max ? nil : limit)
            case "view":
                layer.view = try choice(value, path, FilesystemView.self, ["auto", "landlock"])
            case "require":
                layer.require = try words(value, path, KernelRequirement.self, what: "requirement")
            case "namespaces":
                layer.namespaces = try words(value, path, Namespace.self, what: "namespace")
            case "user":
                let u = try string(value, path)
                guard let spec = UserSpec(u) else {
                    throw fail(value, path, "expected auto, keep, a user name, or UID[:GID], got \"\(u)\"")
                }
                layer.user = spec
            default: break
            }
        }
    }

    func words<Word: RawRepresentable & CaseIterable & Equatable>(_ node: Node, _ path: String, _: Word.Type, what: String)
        throws(ProfileError) -> [Word] where Word.RawValue == String
    {
        let vocabulary = Word.allCases.map(\.rawValue)
        var out: [Word] = []
        for (s, item) in try strings(node, path) {
            guard let word = Word(rawValue: s) else {
                var msg = "unknown \(what) \"\(s)\""
                if let sug = suggest(s, vocabulary) { msg += " (did you mean \(sug)?)" }
                msg += "; expected one of: " + vocabulary.joined(separator: ", ")
                throw fail(item, path, msg)
            }
            appendUnique(&out, [word])
        }
        return out
    }

    func parseSyscalls(_ node: Node, into layer: inout ProfileLayer) throws(ProfileError) {
        let base = "sandbox.syscalls"
        for (key, _, value) in try entries(node, base, allowed: Vocabulary.syscallKeys, nullIsEmpty: true) {
            let path = base + "." + key
            switch key {
            case "default_action":
                layer.syscallDefault = try choice(value, path, SyscallDefault.self, ["allow", "deny"])
            case "on_deny":
                layer.denyAction = try choice(value, path, DenyAction.self, ["errno", "kill"])
            default:
                var names: [String] = []
                for (s, item) in try strings(value, path) {
                    guard isSyscallName(s) else {
                        throw fail(item, path, "\"\(s)\" is not a syscall name or @group (expected ^@?[a-z0-9_]+$; groups may also use -)")
                    }
                    appendUnique(&names, [s])
                }
                if key == "deny" { appendUnique(&layer.denySyscalls, names) } else { appendUnique(&layer.allowSyscalls, names) }
            }
        }
    }

    func parseNetwork(_ node: Node, _ path: String) throws(ProfileError) -> NetworkPolicy {
        switch node {
        case .scalar(let s) where !isNull(node):
            switch s.string {
            case "none": return .none
            case "all": return .all
            default: throw fail(node, path, Vocabulary.networkMessage + ", got \"\(s.string)\"")
            }
        case .mapping:
            var connect: [UInt16] = [], bind: [UInt16] = []
            var allow: [HostRule] = [], deny: [HostRule] = []
            var hostsAt: Node?, portsAt: Node?
            let items = try entries(node, path, allowed: Vocabulary.networkKeys)
            for (key, _, value) in items {
                let sub = path + "." + key
                if key == "allow" || key == "deny" {
                    hostsAt = hostsAt ?? value
                    var rules: [HostRule] = []
                    for item in try list(value, sub) {
                        guard case .scalar(let s) = item, !isNull(item) else { throw fail(item, sub, "expected a host, IP or CIDR with an optional :port, got \(kind(item))") }
                        do {
                            appendUnique(&rules, [try HostRule.parse(s.string)])
                        } catch {
                            throw fail(item, sub, error.message)
                        }
                    }
                    if key == "allow" { allow = rules } else { deny = rules }
                    continue
                }
                portsAt = portsAt ?? value
                var ports: [UInt16] = []
                for item in try list(value, sub) {
                    guard case .scalar(let s) = item, let n = Int(s.string), (1...65535).contains(n) else {
                        throw fail(item, sub, "expected a port number 1-65535, got \(kind(item))")
                    }
                    appendUnique(&ports, [UInt16(n)])
                }
                if key == "connect" { connect = ports } else { bind = ports }
            }
            if let hostsAt {
                if let portsAt {
                    throw fail(portsAt, path, "connect/bind port lists and an allow-list of hosts do not mix: write ports in the hosts (\"host:port\")")
                }
                guard !allow.isEmpty else {
                    throw fail(hostsAt, path + ".allow", "an allow-list is needed with deny (\"*\" allows every name, \"0.0.0.0/0:*\" every IPv4 address)")
                }
                return .hosts(EgressRules(allow: allow, deny: deny))
            }
            return .ports(connect: connect, bind: bind)
        default:
            throw fail(node, path, Vocabulary.networkMessage + ", got \(kind(node))")
        }
    }

    func parseLimit(_ node: Node, _ path: String) throws(ProfileError) -> UInt64 {
        guard case .scalar(let s) = node, !isNull(node) else {
            throw fail(node, path, "expected a number, a size like 512MiB, or unlimited, got \(kind(node))")
        }
        guard let value = ByteSize.parse(s.string) else {
            throw fail(node, path, "expected a number, a size like 512MiB, 64K, 1.5GiB or 8MB, or unlimited, got \"\(s.string)\"")
        }
        return value
    }

    func parseEnv(_ node: Node, into layer: inout ProfileLayer) throws(ProfileError) {
        let base = "sandbox.env"
        for (key, _, value) in try entries(node, base, allowed: Vocabulary.envKeys, nullIsEmpty: true) {
            let path = base + "." + key
            switch key {
            case "allow":
                for (s, item) in try strings(value, path) {
                    guard isEnvGlob(s) else {
                        throw fail(item, path, "\"\(s)\" is not a variable name or * glob")
                    }
                    appendUnique(&layer.envAllow, [s])
                }
            case "set":
                for (name, keyNode, v) in try entries(value, path, allowed: nil, nullIsEmpty: true) {
                    guard isEnvName(name) else { throw fail(keyNode, path, "\"\(name)\" is not a variable name") }
                    // Any scalar: `PYTHONUNBUFFERED: 1` means the text "1".
                    let sub = path + "." + name
                    guard case .scalar = v, !isNull(v) else {
                        throw fail(v, sub, "expected a string, got \(kind(v))")
                    }
                    if let expanded = try expanded(v, sub) { layer.envSet[name] = expanded }
                }
            default:  // secrets
                for (name, keyNode, v) in try entries(value, path, allowed: nil, nullIsEmpty: true) {
                    guard isEnvName(name) else { throw fail(keyNode, path, "\"\(name)\" is not a variable name") }
                    let sub = path + "." + name
                    guard case .mapping = v else {
                        throw fail(v, sub, "expected {file: PATH}, got \(kind(v))")
                    }
                    var file: String?? = nil
                    for (k, _, fv) in try entries(v, sub, allowed: Vocabulary.secretKeys) where k == "file" {
                        file = .some(try self.path(fv, sub + ".file"))
                    }
                    guard let file else { throw fail(v, sub, "missing file: PATH") }
                    if let file { layer.secrets[name] = file }
                }
            }
        }
    }
}

// MARK: Lexical checks

func isProfileName(_ s: String) -> Bool {
    guard let f = s.unicodeScalars.first, f != "." && f != "-" else { return false }
    return s.unicodeScalars.allSatisfy { isAlnum($0) || $0 == "." || $0 == "_" || $0 == "-" }
}

func isSyscallName(_ s: String) -> Bool {
    var body = Substring(s)
    let group = body.hasPrefix("@")
    if group { body = body.dropFirst() }
    guard !body.isEmpty else { return false }
    return body.unicodeScalars.allSatisfy {
        ("a"..."z").contains($0) || ("0"..."9").contains($0) || $0 == "_" || (group && $0 == "-")
    }
}

func isEnvName(_ s: String) -> Bool {
    guard let f = s.unicodeScalars.first, !("0"..."9").contains(f) else { return false }
    return s.unicodeScalars.allSatisfy { isAlnum($0) || $0 == "_" }
}

func isEnvGlob(_ s: String) -> Bool {
    guard let f = s.unicodeScalars.first, !("0"..."9").contains(f) else { return false }
    return s.unicodeScalars.allSatisfy { isAlnum($0) || $0 == "_" || $0 == "*" }
}

private func isAlnum(_ c: Unicode.Scalar) -> Bool {
    ("a"..."z").contains(c) || ("A"..."Z").contains(c) || ("0"..."9").contains(c)
}
