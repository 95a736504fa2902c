public import BrigJSONRPC
public import BrigProfile
import BrigSystem
import Synchronization

/// Decides, message by message, what the `mcp:` section of a profile allows.
///
/// Order of checks for one message (the first failure decides):
/// 1. method rules (`mcp.methods`: an exact name beats any glob; among globs the longest pattern
///    wins, ties go to the one written first; then `mcp.default`), both directions;
/// 2. protocol versions (`initialize`'s `params.protocolVersion`, and any message's
///    `params._meta["io.modelcontextprotocol/protocolVersion"]`);
/// 3. the token, when `mcp.auth` is configured: host-to-server requests (not notifications) are
///    refused with category `.auth` once it has expired;
/// 4. per method kind: `tools/call` by `params.name` through `mcp.tools.rules` (first match wins:
///    a deny rule -> `.tool`, missing scopes -> `.scope`, arguments -> `.arguments`; no rule ->
///    `mcp.tools.default`); `resources/read|subscribe|unsubscribe` by `params.uri`;
///    `prompts/get` by `params.name`;
/// 5. rates, host-to-server only: a tool rule's bucket, the most specific `mcp.rate` key other
///    than `*` that matches the method, and the `*` bucket; every applicable bucket must have a
///    token. Buckets are spent only by messages that pass 1-4 (or by every message in
///    permissive mode, since those are forwarded).
///
/// ## Concurrency model
/// Everything is immutable after `init` except the token buckets (one `Mutex` for all of them, in
/// `RateLimiter`) and a small cache of method lookups for names outside the specification (one `Mutex`).
public final class PolicyEngine: Sendable {
    /// One method's resolved rule, built once for every known method and cached for others.
    /// A class: every message reads one, and a reference is one retain where the fields were five.
    final class MethodEntry: Sendable {
        enum Kind: Sendable { case other, toolCall, resource, prompt }
        let kind: Kind
        let allowed: Bool
        let rule: String
        let reason: String
        let buckets: [TokenBucket]

        init(kind: Kind, allowed: Bool, rule: String, reason: String, buckets: [TokenBucket]) {
            self.kind = kind
            self.allowed = allowed
            self.rule = rule
            self.reason = reason
            self.buckets = buckets
        }
    }

    /// A class for the same reason as `MethodEntry`: a call reads its rule whole.
    final class ToolRule: Sendable {
        let spec: MCPToolRule
        let glob: NameGlob
        let args: [(name: String, constraint: CompiledConstraint)]
        /// The names of `args`, ready to be found in a call's `arguments` without a tree.
        let argumentKeys: [JSONScanner.KeyBytes]
        let bucket: TokenBucket?
        /// `FILE:LINE mcp.tools.rules[0] (read_*)`.
        let label: String
        /// `mcp.tools.rules[0]`.
        let short: String
        /// The reason an allowed call cites, built once (the per-call path builds no string).
        let allowedReason: String

        init(spec: MCPToolRule, args: [(name: String, constraint: CompiledConstraint)], bucket: TokenBucket?) {
            self.spec = spec
            glob = NameGlob(spec.name)
            self.args = args
            argumentKeys = args.map { JSONScanner.KeyBytes($0.name) }
            self.bucket = bucket
            let commandLine = spec.source.hasPrefix("--")
            label = commandLine ? spec.source : "\(spec.source) (\(spec.name))"
            short = commandLine ? spec.source : spec.source.split(separator: " ", maxSplits: 1).last.map(String.init) ?? spec.source
            allowedReason = spec.ask ? "tool allowed once the user confirms (rule \(short))" : "tool allowed (rule \(short))"
        }
    }

    struct Access: Sendable {
        var allow: [(glob: URIGlob?, name: NameGlob?, source: String)]
        var deny: [(glob: URIGlob?, name: NameGlob?, source: String)]
    }

    let permissive: Bool
    let versions: [String]?
    let versionsSource: String
    let methodTable: [String: MethodEntry]
    /// `methodTable["tools/call"]`: most messages are calls, and this spares hashing the name.
    let toolCallEntry: MethodEntry
    let methodRules: [(glob: NameGlob, rule: MCPMethodRule)]
    let defaultAllowed: Bool
    let defaultSource: String
    let rateRules: [(glob: NameGlob, bucket: TokenBucket)]
    let starBucket: TokenBucket?
    let rateLimiter: RateLimiter
    let toolRules: [ToolRule]
    /// The rules' globs, filed for first-match lookup.
    let toolGlobs: NameGlobList
    let toolDefaultAllowed: Bool
    let toolDefaultSource: String
    /// The wait for an answer when the asking rule gives none.
    let askTimeout: Double
    let resources: Access
    let prompts: Access
    let workdir: String?
    let staticGrants: Set<String>
    let staticGrantList: [String]
    let token: VerifiedToken?
    let tokenGrants: Set<String>
    let tokenGrantList: [String]
    let authSource: String
    let clock: @Sendable () -> Double
    let cache = Mutex<[String: MethodEntry]>([:])

    /// The byte limit from `mcp.max_message_bytes`, if any.
    public let maxMessageBytes: UInt64?

    /// Compiles `policy`, maps `context.roles` to scopes and, when `mcp.auth` is configured,
    /// reads and verifies the token.
    public convenience init(policy: MCPPolicy, context: PolicyContext) throws(PolicyError) {
        try self.init(policy: policy, context: context, clock: { wallClock() })
    }

    /// As above with a clock (seconds since 1970) for tokens and rates; tests move it.
    init(policy: MCPPolicy, context: PolicyContext, clock: @escaping @Sendable () -> Double) throws(PolicyError) {
        self.clock = clock
        permissive = policy.mode == .permissive
        versions = policy.protocolVersions
        versionsSource = policy.protocolVersionsSource
        workdir = policy.workdir
        maxMessageBytes = policy.maxMessageBytes

        // Grants.
        var grants = context.scopes
        for role in context.roles {
            guard let scopes = policy.roles[role] else {
                let known = policy.roles.keys.sorted()
                throw PolicyError(
                    "unknown role \"\(role)\""
                        + (known.isEmpty
                            ? " (mcp.roles defines none)"
                            : "; mcp.roles defines: " + known.joined(separator: ", ")))
            }
            grants.formUnion(scopes)
        }
        staticGrants = grants
        staticGrantList = grants.sorted()
        if let auth = policy.auth {
            authSource = auth.source
            guard let text = context.environment[auth.tokenEnv], !text.isEmpty else {
                throw PolicyError("mcp.auth: $\(auth.tokenEnv) is not set (it must hold the caller's JWT)")
            }
            let keys = try KeySet.load(auth.jwt, profileDirectory: context.profileDirectory)
            let t: VerifiedToken
            do {
                t = try JWT.verify(text.trimmingWhitespace, settings: auth.jwt, keys: keys, now: clock())
            } catch {
                throw PolicyError("mcp.auth: $\(auth.tokenEnv): " + error.message.dropFirst("token: ".count))
            }
            token = t
            let all = grants.union(t.scopes)
            tokenGrants = all
            tokenGrantList = all.sorted()
        } else {
            authSource = ""
            token = nil
            tokenGrants = grants
            tokenGrantList = staticGrantList
        }

        // Methods and rates.
        methodRules = policy.methods.map { (NameGlob($0.pattern), $0) }
        defaultAllowed = policy.defaultAction == .allow
        defaultSource = policy.defaultSource
        // Every bucket's state lives in one `RateLimiter`, at the bucket's slot.
        var slots: [MCPRate] = []
        func bucket(_ rate: MCPRate, _ source: String) -> TokenBucket {
            slots.append(rate)
            return TokenBucket(rate: rate, source: source, slot: slots.count - 1)
        }
        var rates: [(glob: NameGlob, bucket: TokenBucket)] = []
        var star: TokenBucket?
        for r in policy.rates {
            let bucket = bucket(r.rate, r.source)
            if r.pattern == "*" { star = bucket } else { rates.append((NameGlob(r.pattern), bucket)) }
        }
        rateRules = rates
        starBucket = star

        // Tools.
        var tools: [ToolRule] = []
        for spec in policy.toolRules {
            var args: [(name: String, constraint: CompiledConstraint)] = []
            for a in spec.args {
                do {
                    args.append((a.name, try CompiledConstraint(a.constraint)))
                } catch {
                    throw PolicyError("\(a.source): \(error.message)")
                }
            }
            tools.append(ToolRule(spec: spec, args: args, bucket: spec.rate.map { bucket($0, spec.source) }))
        }
        toolRules = tools
        rateLimiter = RateLimiter(slots)
        toolGlobs = NameGlobList(tools.map(\.glob))
        toolDefaultAllowed = policy.toolDefault == .allow
        toolDefaultSource = policy.toolDefaultSource
        askTimeout = policy.askTimeout ?? AskTimeout.defaultSeconds
        resources = Access(
            allow: policy.resources.allow.map { (URIGlob($0.pattern), nil, $0.source) },
            deny: policy.resources.deny.map { (URIGlob($0.pattern), nil, $0.source) })
        prompts = Access(
            allow: policy.prompts.allow.map { (nil, NameGlob($0.pattern), $0.source) },
            deny: policy.prompts.deny.map { (nil, NameGlob($0.pattern), $0.source) })

        // Every method the specification names, resolved once.
        var table: [String: MethodEntry] = [:]
        for m in PolicyEngine.knownMethods + policy.methods.map(\.pattern) where !m.contains("*") {
            table[m] = PolicyEngine.resolve(
                m, methodRules: methodRules, defaultAllowed: defaultAllowed,
                defaultSource: defaultSource, rateRules: rateRules, star: star)
        }
        methodTable = table
        toolCallEntry =
            table[MCPMethod.toolsCall]
            ?? PolicyEngine.resolve(
                MCPMethod.toolsCall, methodRules: methodRules, defaultAllowed: defaultAllowed,
                defaultSource: defaultSource, rateRules: rateRules, star: star)
    }

    /// True in permissive mode: decisions carry `enforced: false`.
    public var isPermissive: Bool { permissive }

    /// Whether any tool rule asks the user before its calls (the relay then tracks the host's
    /// elicitation capability and answers).
    public var asksAnything: Bool { toolRules.contains { $0.spec.ask } }

    /// `mcp.protocol_versions`; nil = any.
    public var acceptedProtocolVersions: [String]? { versions }

    // MARK: Evaluation

    /// A request or notification, in either direction. `params` may be nil.
    public func evaluate(method: String, params: JSONValue?, direction: Direction) -> Decision {
        decide(method: method, params: params, direction: direction)
    }

    /// The same, reading `params` from the message's line (see `lineParams(method:line:range:)`).
    public func evaluate(method: String, reading params: LineParams?, direction: Direction) -> Decision {
        decide(method: method, params: params, direction: direction)
    }

    /// One implementation for both sources of params, specialized for each.
    func decide<Params: PolicyParams>(method: String, params: Params?, direction: Direction) -> Decision {
        let entry = methodEntry(method)
        var now: Double?
        func time() -> Double {
            if let now { return now }
            let t = clock()
            now = t
            return t
        }
        var tokenProblem: String?
        if let token { tokenProblem = token.timeProblem(at: time()) }
        let grantList = token != nil && tokenProblem == nil ? tokenGrantList : staticGrantList

        func decide(
            _ allowed: Bool, _ category: Decision.Category, _ rule: String, _ reason: String,
            _ subject: String?
        ) -> Decision {
            Decision(
                allowed: allowed, enforced: !permissive, category: category, rule: rule, reason: reason,
                subject: subject, scopes: grantList)
        }

        var subject: String?
        switch entry.kind {
        case .other: break
        case .toolCall, .prompt: subject = params?.string(of: .name)
        case .resource: subject = params?.string(of: .uri)
        }

        // 1-4: the verdict without rates.
        var verdict: Decision
        var toolBucket: TokenBucket?
        if !entry.allowed {
            verdict = decide(false, .method, entry.rule, entry.reason, subject)
        } else if let problem = versionProblem(method: method, params: params) {
            verdict = decide(
                false, .protocolVersion, versionsSource.isEmpty ? "mcp.protocol_versions" : versionsSource,
                problem, subject)
        } else if let tokenProblem, direction == .hostToServer, !method.hasPrefix("notifications/") {
            verdict = decide(false, .auth, authSource, "\(tokenProblem) (rule mcp.auth)", subject)
        } else {
            switch entry.kind {
            case .other:
                verdict = decide(true, .allowed, entry.rule, entry.reason, nil)
            case .toolCall:
                let index = subject.flatMap(firstToolRuleIndex)
                toolBucket = index.flatMap { toolRules[$0].bucket }
                verdict = toolDecision(
                    name: subject, ruleIndex: index, params: params, tokenProblem: tokenProblem,
                    decide: decide)
                if verdict.allowed, let index, toolRules[index].spec.ask {
                    verdict.ask = AskRequirement(timeoutSeconds: toolRules[index].spec.askTimeout ?? askTimeout)
                }
            case .resource:
                verdict = accessDecision(
                    resources, what: "resource", key: "mcp.resources", subject: subject,
                    category: .resource, decide: decide)
            case .prompt:
                verdict = accessDecision(
                    prompts, what: "prompt", key: "mcp.prompts", subject: subject,
                    category: .prompt, decide: decide)
            }
        }

        // 5: rates.
        guard direction == .hostToServer, verdict.allowed || permissive else { return verdict }
        if entry.kind == .toolCall, toolBucket == nil, permissive, let name = subject {
            // Permissive mode spends the rule's bucket even when an earlier check failed.
            toolBucket = firstToolRuleIndex(name).flatMap { toolRules[$0].bucket }
        }
        guard !entry.buckets.isEmpty || toolBucket != nil else { return verdict }
        let t = time()
        // The tool rule's bucket first, then the method's; a refusal refunds what was taken.
        guard let b = rateLimiter.take(toolBucket, then: entry.buckets, now: t), verdict.allowed else { return verdict }
        let short = b.source.split(separator: " ", maxSplits: 1).last.map(String.init) ?? b.source
        return decide(false, .rate, b.source, "rate \(b.rate) exceeded (rule \(short))", subject)
    }

    func toolDecision<Params: PolicyParams>(
        name: String?, ruleIndex: Int?, params: Params?, tokenProblem: String?,
        decide: (Bool, Decision.Category, String, String, String?) -> Decision
    ) -> Decision {
        guard let name else {
            return decide(false, .tool, "mcp.tools", "tools/call without a tool name in params.name", nil)
        }
        guard let ruleIndex else {
            if toolDefaultAllowed {
                return decide(true, .allowed, toolDefaultSource, "tool \(name) allowed by mcp.tools.default", name)
            }
            return decide(false, .tool, toolDefaultSource, "tool \(name) is not allowed (no rule names it; mcp.tools.default is deny)", name)
        }
        let rule = toolRules[ruleIndex]
        guard rule.spec.allow else {
            return decide(false, .tool, rule.label, "tool \(name) is denied (rule \(rule.short))", name)
        }
        let granted = tokenProblem == nil ? tokenGrants : staticGrants
        let missing = rule.spec.scopes.filter { !granted.contains($0) }
        if !missing.isEmpty {
            var reason = "tool \(name) needs scope \(missing.joined(separator: ", ")), not granted (rule \(rule.short))"
            if let tokenProblem { reason += "; \(tokenProblem)" }
            return decide(false, .scope, rule.label, reason, name)
        }
        guard !rule.args.isEmpty else { return decide(true, .allowed, rule.label, rule.allowedReason, name) }
        func firstProblem(_ check: (Int) -> ArgumentCheck) -> Decision {
            for (i, (argName, constraint)) in rule.args.enumerated() {
                switch check(i) {
                case .passes:
                    continue
                case .missing:
                    if constraint.spec.optional { continue }
                    return decide(false, .arguments, rule.label, "argument \(argName) is missing (rule \(rule.short))", name)
                case .fails(let problem):
                    return decide(false, .arguments, rule.label, "argument \(argName) \(problem) (rule \(rule.short))", name)
                }
            }
            return decide(true, .allowed, rule.label, rule.allowedReason, name)
        }
        guard let params else { return firstProblem { _ in .missing } }
        return params.checkingArguments(of: rule, workdir: workdir, firstProblem)
    }

    func accessDecision(
        _ access: Access, what: String, key: String, subject: String?, category: Decision.Category,
        decide: (Bool, Decision.Category, String, String, String?) -> Decision
    ) -> Decision {
        let field = what == "resource" ? "params.uri" : "params.name"
        guard let subject else { return decide(false, category, key, "\(what) request without \(field)", nil) }
        switch accessVerdict(access, subject) {
        case .allowed(let source):
            return decide(true, .allowed, source ?? "built-in allow", "\(what) \(subject) allowed" + (source.map { " (rule \(short($0)))" } ?? ""), subject)
        case .denied(let source):
            return decide(false, category, source, "\(what) \(subject) is denied (rule \(short(source)))", subject)
        case .notAllowed:
            return decide(false, category, key + ".allow", "\(what) \(subject) matches nothing in \(key).allow", subject)
        case .refused(let text):
            return decide(false, category, key, "\(what) URI \(text)", subject)
        }
    }

    enum AccessVerdict { case allowed(String?), denied(String), notAllowed, refused(String) }

    func accessVerdict(_ access: Access, _ subject: String) -> AccessVerdict {
        var value = subject
        if access.allow.first?.glob != nil || access.deny.first?.glob != nil {
            switch PathCheck.canonicalURI(subject) {
            case .success(let canonical): value = canonical
            case .failure(let refusal): return .refused(refusal.text)
            }
        }
        func hit(_ e: (glob: URIGlob?, name: NameGlob?, source: String)) -> Bool {
            e.glob?.matches(value) ?? e.name?.matches(value) ?? false
        }
        if let d = access.deny.first(where: hit) { return .denied(d.source) }
        if access.allow.isEmpty { return .allowed(nil) }
        if let a = access.allow.first(where: hit) { return .allowed(a.source) }
        return .notAllowed
    }

    func short(_ source: String) -> String {
        source.split(separator: " ", maxSplits: 1).last.map(String.init) ?? source
    }

    func firstToolRuleIndex(_ name: String) -> Int? {
        toolGlobs.firstMatch(name)
    }

    func versionProblem<Params: PolicyParams>(method: String, params: Params?) -> String? {
        guard let versions, let params else { return nil }
        if method == MCPMethod.initialize, let v = params.value(of: .protocolVersion) {
            guard let s = v.stringValue, versions.contains(s) else {
                return "protocol version \(v.jsonText) is not accepted (accepted: \(versions.joined(separator: ", ")))"
            }
        }
        if let v = params.value(of: .meta)?["io.modelcontextprotocol/protocolVersion"] {
            guard let s = v.stringValue, versions.contains(s) else {
                return "protocol version \(v.jsonText) is not accepted (accepted: \(versions.joined(separator: ", ")))"
            }
        }
        return nil
    }

    func methodEntry(_ method: String) -> MethodEntry {
        if method == MCPMethod.toolsCall { return toolCallEntry }
        if let e = methodTable[method] { return e }
        if let e = cache.withLock({ $0[method] }) { return e }
        let e = PolicyEngine.resolve(
            method, methodRules: methodRules, defaultAllowed: defaultAllowed,
            defaultSource: defaultSource, rateRules: rateRules, star: starBucket)
        cache.withLock { c in
            if c.count < 1024 { c[method] = e }
        }
        return e
    }

    static func resolve(
        _ method: String, methodRules: [(glob: NameGlob, rule: MCPMethodRule)], defaultAllowed: Bool,
        defaultSource: String, rateRules: [(glob: NameGlob, bucket: TokenBucket)],
        star: TokenBucket?
    ) -> MethodEntry {
        let kind: MethodEntry.Kind
        switch method {
        case MCPMethod.toolsCall: kind = .toolCall
        case MCPMethod.resourcesRead, MCPMethod.resourcesSubscribe, MCPMethod.resourcesUnsubscribe: kind = .resource
        case MCPMethod.promptsGet: kind = .prompt
        default: kind = .other
        }
        let chosen = mostSpecific(method, methodRules.map { ($0.glob, $0.rule) })
        var buckets: [TokenBucket] = []
        if let r = mostSpecific(method, rateRules.map { ($0.glob, $0.bucket) }) { buckets.append(r) }
        if let star { buckets.append(star) }
        if let rule = chosen {
            let allowed = rule.action == .allow
            let short = rule.source.split(separator: " ", maxSplits: 1).last.map(String.init) ?? rule.source
            return MethodEntry(
                kind: kind, allowed: allowed, rule: rule.source,
                reason: "method \(method) is \(allowed ? "allowed" : "denied") (rule \(short))", buckets: buckets)
        }
        let short = defaultSource.split(separator: " ", maxSplits: 1).last.map(String.init) ?? defaultSource
        return MethodEntry(
            kind: kind, allowed: defaultAllowed, rule: defaultSource,
            reason: "method \(method) is \(defaultAllowed ? "allowed" : "denied") by \(short)", buckets: buckets)
    }

    /// Exact beats glob; among globs the longest pattern wins; ties go to the first.
    static func mostSpecific<T>(_ method: String, _ candidates: [(NameGlob, T)]) -> T? {
        if let exact = candidates.first(where: { $0.0.isExact && $0.0.pattern == method }) { return exact.1 }
        var best: (Int, T)?
        for (glob, value) in candidates where !glob.isExact && glob.matches(method) {
            let length = glob.pattern.utf8.count
            if best == nil || length > best!.0 { best = (length, value) }
        }
        return best?.1
    }

    // MARK: Visibility (list filtering)

    /// Whether `tools/list` should show the tool: `tools/call` is allowed, the first matching rule
    /// allows it (or `mcp.tools.default` does), and its scopes are granted now.
    public func toolVisible(_ name: String) -> Bool {
        guard methodEntry(MCPMethod.toolsCall).allowed else { return false }
        guard let index = firstToolRuleIndex(name) else { return toolDefaultAllowed }
        let rule = toolRules[index]
        guard rule.spec.allow else { return false }
        let valid = token.map { $0.timeProblem(at: clock()) == nil } ?? true
        let granted = valid ? tokenGrants : staticGrants
        return rule.spec.scopes.allSatisfy(granted.contains)
    }

    /// Whether `resources/list` (and templates) should show the URI: `resources/read` is allowed
    /// and the URI passes `mcp.resources`.
    public func resourceVisible(_ uri: String) -> Bool {
        guard methodEntry(MCPMethod.resourcesRead).allowed else { return false }
        if case .allowed = accessVerdict(resources, uri) { return true }
        return false
    }

    /// Whether `prompts/list` should show the prompt.
    public func promptVisible(_ name: String) -> Bool {
        guard methodEntry(MCPMethod.promptsGet).allowed else { return false }
        if case .allowed = accessVerdict(prompts, name) { return true }
        return false
    }

    /// Every method of 2024-11-05 through 2026-07-28, both directions (resolved at init): the
    /// specification's table, spelled as it is (`MCPMethod` names the ones brig acts on).
    static let knownMethods = [
        "initialize", "ping", "server/discover", "completion/complete", "logging/setLevel",
        "prompts/get", "prompts/list", "resources/list", "resources/templates/list", "resources/read",
        "resources/subscribe", "resources/unsubscribe", "subscriptions/listen", "tools/call", "tools/list",
        "tasks/get", "tasks/result", "tasks/list", "tasks/cancel",
        "sampling/createMessage", "roots/list", "elicitation/create",
        "notifications/initialized", "notifications/cancelled", "notifications/progress",
        "notifications/roots/list_changed", "notifications/tasks/status", "notifications/message",
        "notifications/resources/updated", "notifications/resources/list_changed",
        "notifications/tools/list_changed", "notifications/prompts/list_changed", "notifications/elicitation/complete",
    ]
}
