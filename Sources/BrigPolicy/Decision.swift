/// Who is calling: scopes granted on the command line (`--grant`), roles (`--role`, mapped to
/// scopes by `mcp.roles`), the environment (where `mcp.auth.token_env` is read), and the
/// profile's directory (for relative key paths a built-in profile could not resolve).
public struct PolicyContext: Sendable {
    public var scopes: Set<String>
    public var roles: [String]
    public var environment: [String: String]
    public var profileDirectory: String?

    public init(
        scopes: Set<String> = [], roles: [String] = [], environment: [String: String] = [:],
        profileDirectory: String? = nil
    ) {
        self.scopes = scopes
        self.roles = roles
        self.environment = environment
        self.profileDirectory = profileDirectory
    }
}

/// The verdict on one message, with the rule that made it.
public struct Decision: Sendable, Equatable {
    public enum Category: String, Sendable {
        case method, tool, arguments, scope, rate, protocolVersion, resource, prompt, auth, allowed
        /// A call whose rule asks the user first, denied for the answer (or for the lack of one).
        case ask
    }

    /// The verdict as computed (also in permissive mode).
    public var allowed: Bool
    /// False in permissive mode: the relay forwards anyway.
    public var enforced: Bool
    public var category: Category
    /// Which rule decided, e.g. `profiles/x.yaml:12 mcp.tools.rules[0] (read_*)`, `mcp.default`, `built-in allow`.
    public var rule: String
    /// One sentence naming the rule.
    public var reason: String
    /// The tool name, resource URI or prompt name, when the message has one.
    public var subject: String?
    /// The scopes the caller had, sorted.
    public var scopes: [String]
    /// Set on an allowed call whose rule says `ask: true`: it waits for the user's answer.
    public var ask: AskRequirement?

    public init(
        allowed: Bool, enforced: Bool, category: Category, rule: String, reason: String,
        subject: String? = nil, scopes: [String] = [], ask: AskRequirement? = nil
    ) {
        self.allowed = allowed
        self.enforced = enforced
        self.category = category
        self.rule = rule
        self.reason = reason
        self.subject = subject
        self.scopes = scopes
        self.ask = ask
    }

    /// Whether the relay must answer the message itself instead of forwarding it.
    public var blocks: Bool { !allowed && enforced }
}

/// What an allowed call that asks first needs: how long it may wait for the answer.
public struct AskRequirement: Sendable, Equatable {
    /// Seconds: the rule's `ask_timeout`, else `--ask-timeout`, else `mcp.ask_timeout`, else 120.
    public var timeoutSeconds: Double

    public init(timeoutSeconds: Double) {
        self.timeoutSeconds = timeoutSeconds
    }
}

/// A policy that cannot start: an unknown role, a bad or expired token, an unreadable key.
public struct PolicyError: Error, Sendable, CustomStringConvertible, Equatable {
    public var message: String

    public init(_ message: String) {
        self.message = message
    }

    /// One line.
    public var description: String {
        String(message.map { $0 == "\n" || $0 == "\r" ? " " : $0 })
    }
}

extension Decision {
    /// For a denial: the flag or profile line that would let the same message through on a
    /// rerun, for the one-line report and the record's `mcp.decision.suggestion`. nil for an
    /// allowed message and for what no setting should wave through (a bad token, the user's own
    /// answer to a question, a call without a tool name).
    ///
    /// Command-line rules come before the profile's (`--allow-tool` beats a profile's deny rule
    /// and its argument checks), so a flag is the suggestion wherever one exists.
    public var howToAllow: String? {
        guard !allowed else { return nil }
        switch category {
        case .tool:
            guard let name = subject else { return nil }
            if rule.hasPrefix("--deny-tool") { return "leave out \(rule)" }
            return "--allow-tool \(Decision.shellWord(name))"
        case .arguments:
            guard let name = subject else { return nil }
            return "widen the argument in \(rule), or --allow-tool \(Decision.shellWord(name)) (no argument checks)"
        case .scope:
            guard let needed = Decision.between(reason, "needs scope ", ", not granted") else { return nil }
            return needed.split(separator: ",").map { "--grant \(Decision.shellWord($0.filter { $0 != " " }))" }
                .joined(separator: " ")
        case .method:
            // The reason names it: `method tools/call is denied (rule ...)`.
            guard let method = Decision.between(reason, "method ", " is ") else { return nil }
            return "mcp: {methods: {\(Decision.yamlQuoted(method)): allow}}"
        case .rate:
            return "a higher rate in \(rule)"
        case .resource, .prompt:
            let key = category == .resource ? "resources" : "prompts"
            guard let subject else { return nil }
            if reason.contains(" is denied ") { return "take it out of mcp.\(key).deny (\(rule); deny wins over allow)" }
            return "mcp: {\(key): {allow: [\(Decision.yamlQuoted(subject))]}}"
        case .protocolVersion:
            return "add the version to mcp.protocol_versions (\(rule))"
        case .auth, .ask, .allowed:
            return nil
        }
    }

    /// `word` as one shell word: as it is when it holds only safe characters, else single-quoted.
    static func shellWord(_ word: some StringProtocol) -> String {
        let safe = word.unicodeScalars.allSatisfy { c in
            (c >= "a" && c <= "z") || (c >= "A" && c <= "Z") || (c >= "0" && c <= "9") || "_-.:/@%+=,".unicodeScalars.contains(c)
        }
        if safe && !word.isEmpty { return String(word) }
        return "'" + word.map { $0 == "'" ? "'\\''" : String($0) }.joined() + "'"
    }

    /// A double-quoted YAML scalar (a suggestion the user pastes into a profile): backslash and
    /// quote escaped, control characters as `\xHH`.
    public static func yamlQuoted(_ text: String) -> String {
        var out = "\""
        for c in text.unicodeScalars {
            switch c {
            case "\"": out += "\\\""
            case "\\": out += "\\\\"
            case _ where c.value < 0x20: out += "\\x" + (c.value < 0x10 ? "0" : "") + String(c.value, radix: 16)
            default: out.unicodeScalars.append(c)
            }
        }
        return out + "\""
    }

    /// The text of `s` between `start` and the following `end`.
    static func between(_ s: String, _ start: String, _ end: String) -> String? {
        guard let a = s.firstRange(of: start) else { return nil }
        let rest = s[a.upperBound...]
        guard let b = rest.firstRange(of: end) else { return nil }
        return String(rest[..<b.lowerBound])
    }
}
