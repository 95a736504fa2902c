import BrigSystem
import Yams

// MARK: Model

/// What a rule or a default does with a message.
public enum MCPAction: String, Sendable {
    case allow, deny
}

/// `enforce` answers denials; `permissive` computes every decision but forwards anyway.
public enum MCPMode: String, Sendable {
    case enforce, permissive
}

/// A rate like `30/min`: `count` messages per `seconds`.
public struct MCPRate: Sendable, Equatable, CustomStringConvertible {
    public var count: Int
    /// 1, 60 or 3600.
    public var seconds: Int

    public init(count: Int, seconds: Int) {
        self.count = count
        self.seconds = seconds
    }

    public var description: String {
        "\(count)/" + (seconds == 1 ? "sec" : seconds == 60 ? "min" : seconds == 3600 ? "hour" : "\(seconds)s")
    }

    /// Parses `N/sec|s|min|m|hour|h` (spaces around `/` allowed); nil when malformed or N < 1.
    public static func parse(_ text: String) -> MCPRate? {
        let parts = text.split(separator: "/", omittingEmptySubsequences: false)
        guard parts.count == 2 else { return nil }
        let n = String(parts[0]).trimmingWhitespace, unit = String(parts[1]).trimmingWhitespace
        guard !n.isEmpty, n.allSatisfy({ $0.isASCII && $0.isNumber }), let count = Int(n), count >= 1 else { return nil }
        switch unit {
        case "sec", "s": return MCPRate(count: count, seconds: 1)
        case "min", "m": return MCPRate(count: count, seconds: 60)
        case "hour", "h": return MCPRate(count: count, seconds: 3600)
        default: return nil
        }
    }
}

/// `mcp.methods` entry: an exact method name or a `*` glob.
public struct MCPMethodRule: Sendable, Equatable {
    public var pattern: String
    public var action: MCPAction
    /// `FILE:LINE mcp.methods["tools/call"]`.
    public var source: String

    public init(pattern: String, action: MCPAction, source: String) {
        self.pattern = pattern
        self.action = action
        self.source = source
    }
}

/// `mcp.rate` entry: a method name or glob (`*` = every method) and its rate.
public struct MCPRateRule: Sendable, Equatable {
    public var pattern: String
    public var rate: MCPRate
    public var source: String

    public init(pattern: String, rate: MCPRate, source: String) {
        self.pattern = pattern
        self.rate = rate
        self.source = source
    }
}

/// A glob in a resources or prompts allow/deny list, variables expanded.
public struct MCPPattern: Sendable, Equatable {
    public var pattern: String
    public var source: String

    public init(pattern: String, source: String) {
        self.pattern = pattern
        self.source = source
    }
}

/// `mcp.resources` / `mcp.prompts`: an empty `allow` allows everything not denied; deny wins.
public struct MCPAccessList: Sendable, Equatable {
    public var allow: [MCPPattern] = []
    public var deny: [MCPPattern] = []

    public init(allow: [MCPPattern] = [], deny: [MCPPattern] = []) {
        self.allow = allow
        self.deny = deny
    }
}

/// The JSON types an argument constraint can require.
public enum MCPValueType: String, Sendable, CaseIterable {
    case string, number, integer, boolean, array, object
}

/// The constraint on one tool argument. Every field that is set must hold.
public struct MCPConstraint: Sendable, Equatable {
    /// Explicit `type:`; when nil, the type follows from the constraint kinds used (see `impliedType`).
    public var type: MCPValueType?
    /// Strings: a regular expression searched in the value (anchor it with `^`/`$`).
    public var pattern: String?
    /// Strings: the maximum length in characters.
    public var maxLength: Int?
    /// Strings (or numbers, compared numerically): the accepted values.
    public var enumValues: [String]?
    /// Strings: a required prefix (variables expanded).
    public var prefix: String?
    /// Paths (strings or `file://` URIs): absolute, normalized directories the path must be under.
    public var under: [String]?
    /// Numbers: inclusive bounds.
    public var min: Double?
    public var max: Double?
    /// Booleans: the only accepted value.
    public var equals: Bool?
    /// Arrays: the maximum number of items.
    public var maxItems: Int?
    /// Arrays: the constraint every item meets (zero or one element; an array keeps the type finite).
    public var eachStorage: [MCPConstraint] = []
    /// `optional: true`: a missing argument passes (a present one must still meet the constraint).
    public var optional: Bool = false

    public init() {}

    public var each: MCPConstraint? {
        get { eachStorage.first }
        set { eachStorage = newValue.map { [$0] } ?? [] }
    }

    /// The type the constraint kinds imply, when `type` is not given: string kinds -> string,
    /// min/max -> number, equals -> boolean, max_items/each -> array; nil when none (enum alone
    /// accepts strings and numbers).
    public var impliedType: MCPValueType? {
        if let type { return type }
        if pattern != nil || maxLength != nil || prefix != nil || under != nil { return .string }
        if min != nil || max != nil { return .number }
        if equals != nil { return .boolean }
        if maxItems != nil || !eachStorage.isEmpty { return .array }
        return nil
    }
}

/// `mcp.tools.rules[i].args.NAME`.
public struct MCPArgumentRule: Sendable, Equatable {
    public var name: String
    public var constraint: MCPConstraint
    /// `FILE:LINE mcp.tools.rules[0].args.path`.
    public var source: String

    public init(name: String, constraint: MCPConstraint, source: String) {
        self.name = name
        self.constraint = constraint
        self.source = source
    }
}

/// `mcp.tools.rules[i]`: the first rule whose `name` glob matches a tool decides.
public struct MCPToolRule: Sendable, Equatable {
    public var name: String
    public var allow: Bool
    /// Every scope listed must be granted.
    public var scopes: [String]
    public var args: [MCPArgumentRule]
    /// One bucket per rule, shared by every tool the rule matches.
    public var rate: MCPRate?
    /// `ask: true`: an allowed call waits until the host's user confirms it (MCP elicitation).
    public var ask: Bool
    /// `ask_timeout`: this rule's wait for the answer, in seconds; nil = the session's.
    public var askTimeout: Double?
    /// `FILE:LINE mcp.tools.rules[0]`, or the flag (`--allow-tool`, `--deny-tool`, `--ask-tool`).
    public var source: String

    public init(
        name: String, allow: Bool, scopes: [String] = [], args: [MCPArgumentRule] = [],
        rate: MCPRate? = nil, ask: Bool = false, askTimeout: Double? = nil, source: String
    ) {
        self.name = name
        self.allow = allow
        self.scopes = scopes
        self.args = args
        self.rate = rate
        self.ask = ask
        self.askTimeout = askTimeout
        self.source = source
    }
}

/// How long brig waits for the user's answer when no rule says (`ask_timeout`).
public enum AskTimeout {
    public static let defaultSeconds = 120.0
    /// Longer waits are refused: a call held for a day is a call forgotten.
    public static let maximumSeconds = 86_400.0

    /// Seconds from `120`, `120s`, `2m` or `0.5`; nil when malformed, not positive or over the maximum.
    public static func parse(_ text: String) -> Double? {
        var number = Substring(text.trimmingWhitespace)
        var scale = 1.0
        if number.hasSuffix("m") {
            scale = 60
            number = number.dropLast()
        } else if number.hasSuffix("s") {
            number = number.dropLast()
        }
        guard !number.isEmpty, number.allSatisfy({ $0.isASCII && ($0.isNumber || $0 == ".") }),
            let value = Double(number), value.isFinite
        else { return nil }
        let seconds = value * scale
        guard seconds > 0, seconds <= maximumSeconds else { return nil }
        return seconds
    }

    public static let message = "expected a time like 120, 30s, 2m or 0.5 (seconds; more than 0, at most 24 hours)"
}

/// `mcp.auth.jwt`. Key paths are absolute when the profile is a file (relative ones are
/// resolved against its directory); a built-in profile's relative paths stay relative and
/// the engine resolves them against `PolicyContext.profileDirectory`.
public struct MCPJWTSettings: Sendable, Equatable {
    public var publicKey: String?
    public var jwks: String?
    public var issuer: String
    public var audience: String
    /// The claim holding scopes: a space-separated string or an array of strings.
    public var scopesClaim: String

    public init(
        publicKey: String? = nil, jwks: String? = nil, issuer: String, audience: String,
        scopesClaim: String = "scope"
    ) {
        self.publicKey = publicKey
        self.jwks = jwks
        self.issuer = issuer
        self.audience = audience
        self.scopesClaim = scopesClaim
    }
}

/// `mcp.auth`.
public struct MCPAuth: Sendable, Equatable {
    /// The environment variable holding the token (read by brig, not passed to the server).
    public var tokenEnv: String
    public var jwt: MCPJWTSettings
    /// `FILE:LINE mcp.auth`.
    public var source: String

    public init(tokenEnv: String, jwt: MCPJWTSettings, source: String) {
        self.tokenEnv = tokenEnv
        self.jwt = jwt
        self.source = source
    }
}

/// The `mcp:` section of a profile: message policy. The default (no `mcp:` anywhere) allows
/// everything in enforce mode.
public struct MCPPolicy: Sendable, Equatable {
    /// For methods no `methods` entry names.
    public var defaultAction: MCPAction = .allow
    /// `FILE:LINE mcp.default`, or `built-in allow`.
    public var defaultSource: String = "built-in allow"
    /// Child layers' entries first; one entry per pattern.
    public var methods: [MCPMethodRule] = []
    /// For tools no rule matches.
    public var toolDefault: MCPAction = .allow
    public var toolDefaultSource: String = "built-in allow"
    /// First match wins; command-line rules first, then the profile's, a child's before its parent's.
    public var toolRules: [MCPToolRule] = []
    /// `mcp.ask_timeout` (or `--ask-timeout`): the wait for an answer when the rule gives none.
    public var askTimeout: Double?
    public var resources = MCPAccessList()
    public var prompts = MCPAccessList()
    /// nil = any version.
    public var protocolVersions: [String]?
    public var protocolVersionsSource: String = ""
    public var maxMessageBytes: UInt64?
    public var rates: [MCPRateRule] = []
    /// Role name -> scopes.
    public var roles: [String: [String]] = [:]
    public var auth: MCPAuth?
    public var mode: MCPMode = .enforce
    /// Content defenses (issue #6): `pins` block|warn|off, `sanitize`, `poisoning` block|warn|off,
    /// `leaks` redact|block|off. nil = brig's default (warn, true, warn, redact).
    public var pins: PinMode?
    public var sanitize: Bool?
    public var poisoning: PoisoningMode?
    public var leaks: LeakMode?
    /// `$WORKDIR` as the profile expanded it: relative argument paths are taken against it.
    public var workdir: String?

    public init() {}
}

// MARK: Layer

/// One file's `mcp:` section before `extends` merging.
struct MCPLayer {
    var defaultAction: (MCPAction, String)?
    var methods: [MCPMethodRule] = []
    var toolDefault: (MCPAction, String)?
    var toolRules: [MCPToolRule] = []
    var askTimeout: Double?
    var resources = MCPAccessList()
    var prompts = MCPAccessList()
    var protocolVersions: ([String], String)?
    var maxMessageBytes: UInt64?
    var rates: [MCPRateRule] = []
    var roles: [String: [String]] = [:]
    var auth: MCPAuth?
    var mode: MCPMode?
    var pins: PinMode?
    var sanitize: Bool?
    var poisoning: PoisoningMode?
    var leaks: LeakMode?

    /// Maps (methods, rate, roles) merge per key, tool rules go before the parent's,
    /// allow/deny lists append, scalars override.
    func apply(to base: MCPPolicy) -> MCPPolicy {
        var p = base
        if let (a, s) = defaultAction { p.defaultAction = a; p.defaultSource = s }
        if let (a, s) = toolDefault { p.toolDefault = a; p.toolDefaultSource = s }
        p.methods = methods + base.methods.filter { old in !methods.contains { $0.pattern == old.pattern } }
        p.rates = rates + base.rates.filter { old in !rates.contains { $0.pattern == old.pattern } }
        p.toolRules = toolRules + base.toolRules
        if let askTimeout { p.askTimeout = askTimeout }
        p.resources.allow += resources.allow
        p.resources.deny += resources.deny
        p.prompts.allow += prompts.allow
        p.prompts.deny += prompts.deny
        if let (v, s) = protocolVersions { p.protocolVersions = v; p.protocolVersionsSource = s }
        if let maxMessageBytes { p.maxMessageBytes = maxMessageBytes }
        p.roles.merge(roles) { _, new in new }
        if let auth { p.auth = auth }
        if let mode { p.mode = mode }
        if let pins { p.pins = pins }
        if let sanitize { p.sanitize = sanitize }
        if let poisoning { p.poisoning = poisoning }
        if let leaks { p.leaks = leaks }
        return p
    }
}

// MARK: Parsing

extension DocumentParser {
    /// One of a mode's words (`block`, `warn`, `off`...), or an error listing them.
    func mode<Mode: RawRepresentable & CaseIterable>(_ node: Node, _ path: String, _: Mode.Type) throws(ProfileError) -> Mode
    where Mode.RawValue == String {
        let word = try string(node, path)
        guard let mode = Mode(rawValue: word) else {
            throw fail(node, path, "expected \(Mode.allCases.map(\.rawValue).joined(separator: ", ")), got \"\(word)\"")
        }
        return mode
    }
}

enum MCPVocabulary {
    static let keys = [
        "default", "methods", "tools", "resources", "prompts", "protocol_versions",
        "max_message_bytes", "rate", "roles", "auth", "mode", "pins", "sanitize", "poisoning", "leaks",
        "ask_timeout",
    ]
    static let toolKeys = ["default", "rules"]
    static let ruleKeys = ["name", "allow", "scopes", "args", "rate", "ask", "ask_timeout"]
    static let constraintKeys = [
        "type", "pattern", "max_length", "enum", "prefix", "under", "min", "max",
        "equals", "max_items", "each", "optional",
    ]
    static let accessKeys = ["allow", "deny"]
    static let authKeys = ["token_env", "jwt"]
    static let jwtKeys = ["public_key", "jwks", "issuer", "audience", "scopes_claim"]
    static let rateMessage = "expected a rate like 30/min (N/sec, N/s, N/min, N/m, N/hour or N/h, N >= 1)"
}

extension DocumentParser {
    func parseMCP(_ node: Node, into layer: inout MCPLayer) throws(ProfileError) {
        for (key, keyNode, value) in try entries(node, "mcp", allowed: MCPVocabulary.keys, nullIsEmpty: true) {
            let path = "mcp." + key
            switch key {
            case "default":
                layer.defaultAction = (try choice(value, path, MCPAction.self, ["allow", "deny"]), mcpSource(keyNode, path))
            case "methods":
                for (pattern, patternNode, v) in try entries(value, path, allowed: nil, nullIsEmpty: true) {
                    let sub = path + "[\"\(pattern)\"]"
                    try checkNameGlob(pattern, patternNode, sub, what: "method")
                    let action = try choice(v, sub, MCPAction.self, ["allow", "deny"])
                    layer.methods.removeAll { $0.pattern == pattern }
                    layer.methods.append(MCPMethodRule(pattern: pattern, action: action, source: mcpSource(patternNode, sub)))
                }
            case "tools":
                for (tk, tkNode, tv) in try entries(value, path, allowed: MCPVocabulary.toolKeys, nullIsEmpty: true) {
                    let sub = path + "." + tk
                    if tk == "default" {
                        layer.toolDefault = (try choice(tv, sub, MCPAction.self, ["allow", "deny"]), mcpSource(tkNode, sub))
                    } else {
                        for (i, item) in try list(tv, sub).enumerated() {
                            layer.toolRules.append(try parseToolRule(item, sub + "[\(i)]"))
                        }
                    }
                }
            case "resources", "prompts":
                var access = MCPAccessList()
                for (ak, _, av) in try entries(value, path, allowed: MCPVocabulary.accessKeys, nullIsEmpty: true) {
                    let sub = path + "." + ak
                    var patterns: [MCPPattern] = []
                    for (i, item) in try list(av, sub).enumerated() {
                        let itemPath = sub + "[\(i)]"
                        guard let text = try expanded(item, sub) else { continue }
                        if key == "resources" { try checkURIGlob(text, item, sub) } else { try checkNameGlob(text, item, sub, what: "prompt") }
                        patterns.append(MCPPattern(pattern: text, source: mcpSource(item, itemPath)))
                    }
                    if ak == "allow" { access.allow += patterns } else { access.deny += patterns }
                }
                if key == "resources" { layer.resources = access } else { layer.prompts = access }
            case "protocol_versions":
                var versions: [String] = []
                for (v, item) in try strings(value, path) {
                    guard isProtocolVersion(v) else {
                        throw fail(item, path, "\"\(v)\" is not a protocol version (expected YYYY-MM-DD, e.g. 2025-11-25)")
                    }
                    appendUnique(&versions, [v])
                }
                guard !versions.isEmpty else { throw fail(value, path, "empty list (omit the key to accept any version)") }
                layer.protocolVersions = (versions, mcpSource(keyNode, path))
            case "max_message_bytes":
                let text = try string(value, path)
                guard let n = ByteSize.parse(text), n != UInt64.max, n > 0 else {
                    throw fail(value, path, "expected a size like 16MiB, 16M or 16MB, got \"\(text)\"")
                }
                layer.maxMessageBytes = n
            case "rate":
                for (pattern, patternNode, v) in try entries(value, path, allowed: nil, nullIsEmpty: true) {
                    let sub = path + "[\"\(pattern)\"]"
                    try checkNameGlob(pattern, patternNode, sub, what: "method")
                    let rate = try parseRate(v, sub)
                    layer.rates.removeAll { $0.pattern == pattern }
                    layer.rates.append(MCPRateRule(pattern: pattern, rate: rate, source: mcpSource(patternNode, sub)))
                }
            case "roles":
                for (role, roleNode, v) in try entries(value, path, allowed: nil, nullIsEmpty: true) {
                    let sub = path + "." + role
                    guard isScope(role) else { throw fail(roleNode, sub, "\"\(role)\" is not a role name (no spaces)") }
                    layer.roles[role] = try mcpScopes(v, sub)
                }
            case "auth":
                layer.auth = try parseAuth(value, path, keyNode)
            case "mode":
                layer.mode = try choice(value, path, MCPMode.self, ["enforce", "permissive"])
            case "pins": layer.pins = try mode(value, path, PinMode.self)
            case "poisoning": layer.poisoning = try mode(value, path, PoisoningMode.self)
            case "leaks": layer.leaks = try mode(value, path, LeakMode.self)
            case "sanitize":
                let word = try string(value, path)
                guard word == "true" || word == "false" else { throw fail(value, path, "expected true or false") }
                layer.sanitize = word == "true"
            case "ask_timeout":
                layer.askTimeout = try parseAskTimeout(value, path)
            default: break
            }
        }
    }

    /// `FILE:LINE KEY`, the way decisions name the rule that made them.
    func mcpSource(_ node: Node, _ path: String) -> String {
        "\(file):\(node.mark?.line ?? 0) \(path)"
    }

    func parseRate(_ node: Node, _ path: String) throws(ProfileError) -> MCPRate {
        let text = try string(node, path)
        guard let rate = MCPRate.parse(text) else {
            throw fail(node, path, MCPVocabulary.rateMessage + ", got \"\(text)\"")
        }
        return rate
    }

    func mcpScopes(_ node: Node, _ path: String) throws(ProfileError) -> [String] {
        var out: [String] = []
        for (s, item) in try strings(node, path) {
            guard isScope(s) else { throw fail(item, path, "\"\(s)\" is not a scope (non-empty, no spaces)") }
            appendUnique(&out, [s])
        }
        return out
    }

    func parseToolRule(_ node: Node, _ path: String) throws(ProfileError) -> MCPToolRule {
        var rule = MCPToolRule(name: "", allow: true, source: mcpSource(node, path))
        var sawName = false, sawAllow = false
        for (key, _, value) in try entries(node, path, allowed: MCPVocabulary.ruleKeys) {
            let sub = path + "." + key
            switch key {
            case "name":
                rule.name = try string(value, sub)
                try checkNameGlob(rule.name, value, sub, what: "tool")
                sawName = true
            case "allow":
                rule.allow = try mcpBool(value, sub)
                sawAllow = true
            case "scopes":
                rule.scopes = try mcpScopes(value, sub)
            case "args":
                for (name, nameNode, v) in try entries(value, sub, allowed: nil, nullIsEmpty: true) {
                    let argPath = sub + "." + name
                    rule.args.append(
                        MCPArgumentRule(
                            name: name, constraint: try parseConstraint(v, argPath),
                            source: mcpSource(nameNode, argPath)))
                }
            case "rate":
                rule.rate = try parseRate(value, sub)
            case "ask":
                rule.ask = try mcpBool(value, sub)
            case "ask_timeout":
                rule.askTimeout = try parseAskTimeout(value, sub)
            default: break
            }
        }
        guard sawName else { throw fail(node, path + ".name", "missing (every rule names a tool or a * glob)") }
        if !sawAllow, !rule.ask, rule.args.isEmpty, rule.scopes.isEmpty, rule.rate == nil {
            throw fail(node, path + ".allow", "missing (a rule without conditions must say allow: true or allow: false)")
        }
        if rule.ask, !rule.allow {
            throw fail(node, path + ".ask", "a denied tool is never asked about (ask: true needs allow: true)")
        }
        if rule.askTimeout != nil, !rule.ask {
            throw fail(node, path + ".ask_timeout", "set without ask: true (only a rule that asks waits for an answer)")
        }
        return rule
    }

    func parseAskTimeout(_ node: Node, _ path: String) throws(ProfileError) -> Double {
        let text = try string(node, path)
        guard let seconds = AskTimeout.parse(text) else { throw fail(node, path, AskTimeout.message + ", got \"\(text)\"") }
        return seconds
    }

    func mcpBool(_ node: Node, _ path: String) throws(ProfileError) -> Bool {
        let s = try string(node, path)
        switch s {
        case "true", "True", "TRUE", "yes": return true
        case "false", "False", "FALSE", "no": return false
        default: throw fail(node, path, "expected true or false, got \"\(s)\"")
        }
    }

    func mcpCount(_ node: Node, _ path: String) throws(ProfileError) -> Int {
        let s = try string(node, path)
        guard !s.isEmpty, s.allSatisfy({ $0.isASCII && $0.isNumber }), let n = Int(s) else {
            throw fail(node, path, "expected a whole number >= 0, got \"\(s)\"")
        }
        return n
    }

    func mcpNumber(_ node: Node, _ path: String) throws(ProfileError) -> Double {
        let s = try string(node, path)
        guard let d = Double(s), d.isFinite else { throw fail(node, path, "expected a number, got \"\(s)\"") }
        return d
    }

    func parseConstraint(_ node: Node, _ path: String) throws(ProfileError) -> MCPConstraint {
        var c = MCPConstraint()
        for (key, _, value) in try entries(node, path, allowed: MCPVocabulary.constraintKeys) {
            let sub = path + "." + key
            switch key {
            case "type":
                c.type = try choice(value, sub, MCPValueType.self, MCPValueType.allCases.map(\.rawValue))
            case "pattern":
                let p = try string(value, sub)
                do {
                    _ = try Regex(p)
                } catch {
                    throw fail(value, sub, "invalid regular expression \"\(p)\": \(String(describing: error).split(separator: "\n").first ?? "")")
                }
                c.pattern = p
            case "max_length": c.maxLength = try mcpCount(value, sub)
            case "enum":
                let values = try strings(value, sub).map(\.0)
                guard !values.isEmpty else { throw fail(value, sub, "empty list (nothing would be accepted)") }
                c.enumValues = values
            case "prefix":
                c.prefix = try expanded(value, sub) ?? ""
            case "under":
                var dirs: [String] = []
                for item in try list(value, sub) {
                    if let d = try self.path(item, sub) { appendUnique(&dirs, [d]) }
                }
                c.under = dirs
            case "min": c.min = try mcpNumber(value, sub)
            case "max": c.max = try mcpNumber(value, sub)
            case "equals": c.equals = try mcpBool(value, sub)
            case "max_items": c.maxItems = try mcpCount(value, sub)
            case "each": c.each = try parseConstraint(value, sub)
            case "optional": c.optional = try mcpBool(value, sub)
            default: break
            }
        }
        // Kinds that need different JSON types can never all hold.
        var kinds: [(String, MCPValueType)] = []
        if c.pattern != nil { kinds.append(("pattern", .string)) }
        if c.maxLength != nil { kinds.append(("max_length", .string)) }
        if c.prefix != nil { kinds.append(("prefix", .string)) }
        if c.under != nil { kinds.append(("under", .string)) }
        if c.min != nil { kinds.append(("min", .number)) }
        if c.max != nil { kinds.append(("max", .number)) }
        if c.equals != nil { kinds.append(("equals", .boolean)) }
        if c.maxItems != nil { kinds.append(("max_items", .array)) }
        if c.each != nil { kinds.append(("each", .array)) }
        func compatible(_ declared: MCPValueType, _ needed: MCPValueType) -> Bool {
            declared == needed || (declared == .integer && needed == .number)
        }
        let anchor = c.type ?? kinds.first?.1
        if let anchor {
            for (name, needed) in kinds where !compatible(anchor, needed) && !compatible(needed, anchor) {
                throw fail(
                    node, path + "." + name,
                    "applies to \(needed.rawValue) values, but this argument is \(anchor.rawValue)"
                        + (c.type == nil ? " (from \(kinds[0].0))" : ""))
            }
        }
        if let t = c.type, c.enumValues != nil, ![.string, .number, .integer].contains(t) {
            throw fail(node, path + ".enum", "applies to string and number values, but this argument is \(t.rawValue)")
        }
        if let lo = c.min, let hi = c.max, lo > hi {
            throw fail(node, path + ".min", "min \(lo) is greater than max \(hi)")
        }
        return c
    }

    func parseAuth(_ node: Node, _ path: String, _ keyNode: Node) throws(ProfileError) -> MCPAuth {
        var tokenEnv: String?
        var jwt: MCPJWTSettings?
        for (key, _, value) in try entries(node, path, allowed: MCPVocabulary.authKeys) {
            let sub = path + "." + key
            if key == "token_env" {
                let name = try string(value, sub)
                guard isEnvName(name) else { throw fail(value, sub, "\"\(name)\" is not a variable name") }
                tokenEnv = name
                continue
            }
            var publicKey: String?, jwks: String?, issuer: String?, audience: String?, claim = "scope"
            for (jk, _, jv) in try entries(value, sub, allowed: MCPVocabulary.jwtKeys) {
                let jp = sub + "." + jk
                switch jk {
                case "public_key": publicKey = try keyPath(jv, jp)
                case "jwks": jwks = try keyPath(jv, jp)
                case "issuer": issuer = try string(jv, jp)
                case "audience": audience = try string(jv, jp)
                default:
                    claim = try string(jv, jp)
                    guard !claim.isEmpty else { throw fail(jv, jp, "empty claim name") }
                }
            }
            if publicKey != nil, jwks != nil {
                throw fail(value, sub, "give public_key or jwks, not both")
            }
            guard publicKey != nil || jwks != nil else { throw fail(value, sub + ".public_key", "missing (or jwks: FILE)") }
            guard let issuer, !issuer.isEmpty else { throw fail(value, sub + ".issuer", "missing (the token's iss must match it)") }
            guard let audience, !audience.isEmpty else {
                throw fail(value, sub + ".audience", "missing (tokens minted for another service must not be accepted)")
            }
            jwt = MCPJWTSettings(publicKey: publicKey, jwks: jwks, issuer: issuer, audience: audience, scopesClaim: claim)
        }
        guard let tokenEnv else { throw fail(node, path + ".token_env", "missing (the variable that holds the token)") }
        guard let jwt else { throw fail(node, path + ".jwt", "missing ({public_key: FILE, issuer: ..., audience: ...})") }
        return MCPAuth(tokenEnv: tokenEnv, jwt: jwt, source: mcpSource(keyNode, path))
    }

    /// A key file: variables expanded; a relative path is taken against the profile's directory
    /// (kept relative for built-in profiles).
    func keyPath(_ node: Node, _ path: String) throws(ProfileError) -> String {
        guard let p = try expanded(node, path), !p.isEmpty else { throw fail(node, path, "empty path or unset variable") }
        if p.hasPrefix("/") { return normalizePath(p) }
        if file.hasPrefix("/"), let slash = file.lastIndex(of: "/") {
            return normalizePath(String(file[..<slash]) + "/" + p)
        }
        return p
    }

    /// Method, tool and prompt globs: `*` is the only special character.
    func checkNameGlob(_ s: String, _ node: Node, _ path: String, what: String) throws(ProfileError) {
        guard !s.isEmpty else { throw fail(node, path, "empty \(what) name or glob") }
        if let bad = s.unicodeScalars.first(where: { $0.value < 0x21 || $0.value == 0x7f || "?[]{}".unicodeScalars.contains($0) }) {
            let shown = bad.value < 0x21 || bad.value == 0x7f ? "a space or control character" : "\"\(bad)\""
            throw fail(node, path, "bad \(what) glob \"\(s)\": \(shown) is not allowed (only * is special)")
        }
    }

    /// Resource URI globs: `**` crosses `/`, `*` stays within a segment; `***` is an error.
    func checkURIGlob(_ s: String, _ node: Node, _ path: String) throws(ProfileError) {
        guard !s.isEmpty else { throw fail(node, path, "empty URI glob") }
        if s.contains("***") { throw fail(node, path, "bad URI glob \"\(s)\": *** (use ** to match across /)") }
        if s.unicodeScalars.contains(where: { $0.value < 0x21 || $0.value == 0x7f }) {
            throw fail(node, path, "bad URI glob \"\(s)\": spaces and control characters are not allowed")
        }
    }
}

func isScope(_ s: String) -> Bool {
    !s.isEmpty && !s.unicodeScalars.contains { $0.value < 0x21 || $0.value == 0x7f }
}

func isProtocolVersion(_ s: String) -> Bool {
    let u = Array(s.utf8)
    guard u.count == 10, u[4] == UInt8(ascii: "-"), u[7] == UInt8(ascii: "-") else { return false }
    return u.enumerated().allSatisfy { i, c in i == 4 || i == 7 || (c >= 0x30 && c <= 0x39) }
}

// MARK: Command-line overrides

extension ProfileLoader {
    /// `--deny-tool` rules, then `--ask-tool` rules, then `--allow-tool` rules, go before every
    /// profile rule (so --deny wins over both, and asking wins over a plain allow); `--ask-timeout`
    /// replaces `mcp.ask_timeout`; `--permissive` sets the mode.
    static func applyMCPOverrides(_ o: ProfileOverrides, to p: inout MCPPolicy) throws(ProfileError) {
        var front: [MCPToolRule] = []
        for (flag, globs, allow, ask) in [
            ("--deny-tool", o.denyTools, false, false), ("--ask-tool", o.askTools, true, true),
            ("--allow-tool", o.allowTools, true, false),
        ] {
            for g in globs {
                guard !g.isEmpty, !g.unicodeScalars.contains(where: { $0.value < 0x21 || $0.value == 0x7f || "?[]{}".unicodeScalars.contains($0) }) else {
                    throw ProfileError(file: "", line: 0, key: flag, message: "\"\(g)\" is not a tool name or * glob")
                }
                front.append(MCPToolRule(name: g, allow: allow, ask: ask, source: "\(flag) \(g)"))
            }
        }
        p.toolRules = front + p.toolRules
        if let seconds = o.askTimeout { p.askTimeout = seconds }
        if o.permissive { p.mode = .permissive }
    }
}
