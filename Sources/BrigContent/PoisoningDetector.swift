public import BrigJSONRPC

/// One marker of tool poisoning in a definition.
public struct PoisoningFinding: Sendable, Equatable {
    public enum Kind: String, Sendable, CaseIterable {
        /// `<IMPORTANT>`, `<system>`, `[INST]` blocks, HTML comments that give orders.
        case markup
        /// Orders to the model: ignore previous instructions, do not tell the user, read X first.
        case instruction
        /// A reference to a file or value that holds secrets (~/.ssh, id_rsa, .env, mcp.json, ...).
        case secretFile = "secret-file"
        /// A reference to another tool's behaviour (shadowing).
        case shadowing
        /// Sending to a URL or address together with secret words.
        case exfiltration
        /// Text hidden by tag characters or bidirectional overrides.
        case hiddenText = "hidden-text"
    }

    public var kind: Kind
    /// The matching text (at most 120 characters, invisible characters shown as `<U+XXXX>`).
    public var excerpt: String
    /// Where: `description`, `inputSchema.properties.a.description`, ...
    public var location: String

    public init(kind: Kind, excerpt: String, location: String) {
        self.kind = kind
        self.excerpt = excerpt
        self.location = location
    }
}

/// Looks for the known markers of tool poisoning in what a server says about itself: tool,
/// prompt and resource definitions and `initialize` instructions. The patterns aim at what
/// published attacks write (hidden orders, secret files, other tools' behaviour, exfiltration),
/// and are checked against real servers' definitions to keep false positives low.
///
/// Not `Sendable` (compiled `Regex` values are not); make one per thread or keep it under a lock.
public struct PoisoningDetector {
    private let rules: [(PoisoningFinding.Kind, Regex<AnyRegexOutput>)]
    private let sendVerb: Regex<AnyRegexOutput>
    private let secretWord: Regex<AnyRegexOutput>

    static let patterns: [(PoisoningFinding.Kind, String)] = [
        (.markup, #"<\s*/?\s*(important|system|instructions?|secret|hidden|admin|critical)\s*>"#),
        (.markup, #"\[/?inst\]|<\|im_start\|>|<<\s*sys\s*>>"#),
        (.markup, #"<!--((?!-->).){0,2000}?\b(must|should|ignore|do not|don't|always|never|read|send|call|instead|assistant|model|ai)\b((?!-->).){0,2000}?-->"#),
        (
            .instruction,
            #"\b(ignore|disregard|forget|override)\s+(all\s+|any\s+)?(the\s+|your\s+)?(previous|prior|above|earlier|preceding|other|system)\s+(instructions|prompts?|rules|directions|messages)"#
        ),
        (.instruction, #"\b(do\s+not|don'?t|never)\s+(tell|mention|inform|notify|alert|reveal|say|show|disclose)\b[^.\n]{0,40}?\b(the\s+)?user"#),
        (.instruction, #"\bwithout\s+(telling|informing|notifying|alerting|asking)\s+the\s+user"#),
        (.instruction, #"\b(the\s+)?user\s+(must|should)\s+not\s+(know|see|be\s+told|notice)"#),
        (.instruction, #"\bbefore\s+(using|calling|invoking|running)\s+(this|the|any)\s+tool\b[^\n]{0,200}?\b(read|send|include|pass|call|fetch|upload|cat|open)\b"#),
        (.instruction, #"\byou\s+(must|have\s+to|need\s+to)\s+(first\s+|always\s+)?(read|call|send|include|pass|upload|forward|fetch)\b"#),
        (.instruction, #"\b(otherwise|or\s+else)\s+(the|this)\s+tool\s+(will\s+not|won'?t|cannot|can'?t)\s+work"#),
        (
            .secretFile,
            #"~/\.ssh\b|\.ssh/|\bid_(rsa|dsa|ecdsa|ed25519)\b|\.aws/credentials|\.netrc\b|/etc/shadow\b|\bcredentials\.json\b|\bprivate[\s_-]+keys?\b|\.git-credentials\b|\.docker/config\.json|\.kube/config\b|\.config/gcloud\b|\.npmrc\b|\.pypirc\b|\bmcp\.json\b|\.cursor/|claude_desktop_config\.json"#
        ),
        (.secretFile, #"(^|[\s"'`(/~=])\.env(\.[a-z]+)?\b(?![-\w])"#),
        (.shadowing, #"\bwhen\s+(the\s+)?(user|you|assistant|agent|model)\s+(uses?|calls?|invokes?|runs?)\s+(the\s+)?`?[\w.-]+`?\s+tool"#),
        (.shadowing, #"\binstead\s+of\s+(using\s+|calling\s+)?the\s+`?[\w.-]+`?\s+tool"#),
        (.shadowing, #"\b(side\s+effects?|effect)\s+on\s+(the\s+)?(also\s+present\s+|other\s+)?`?[\w.-]+`?\s+tool"#),
        (
            .shadowing,
            #"\b(the\s+)?`?(?!(this|the|that|a|an|each|any|every|which|same)\b)[\w.-]+`?\s+tool\s+(must|should|shall)\s+(always\s+|also\s+)?(send|forward|cc|bcc|redirect|include|use)\b"#
        ),
        // Visible exfiltration: a URL that carries an environment variable (`$AWS_SECRET_ACCESS_KEY`,
        // `${TOKEN}`, `%APPDATA%`, `{{api_key}}`), which only a model told to fill it in would expand.
        (.exfiltration, #"https?://[^\s"'`<>)]*(\$\{?[A-Za-z_][A-Za-z0-9_]*\}?|%[A-Za-z_][A-Za-z0-9_]*%|\{\{\s*[\w.]+\s*\}\})"#),
        // An order to reach a URL whose query names a secret (`?k=`, `&token=`, `?password=`).
        (
            .exfiltration,
            #"\b(send|post|fetch|call|visit|open|request|get|load|upload|forward|submit|append|include)\b[^\n]{0,200}?https?://[^\s"'`<>)]*[?&](k|key|api[_-]?key|apikey|token|secret|password|passwd|pwd|auth|session|cookie|creds?|data)="#
        ),
        // Concealment: keep it from the user, do it silently.
        (.instruction, #"\b(keep|leave)\s+(this|it|these(\s+\w+)?)\s+(secret|hidden|confidential|private|between\s+(us|you\s+and\s+me))\b"#),
        (.instruction, #"\b(silently|quietly|covertly|secretly|discreetly)\s+(send|forward|upload|include|call|read|copy|post|fetch|attach|append|pass)\b"#),
    ]

    public init() {
        // The patterns are constants checked by the tests: a failure here is a programming error.
        rules = PoisoningDetector.patterns.map { kind, p in (kind, (try! Regex(p)).ignoresCase()) }
        sendVerb =
            (try! Regex(
                #"\b(send|sends|post|posts|upload|transmit|forward|exfiltrate|leak|pass|email|submit|fetch|include|append|attach|share|report)\b[^\n]{0,160}?(https?://[^\s"'`)]+|\b[\w.+-]+@[\w-]+\.[\w.-]+)"#
            )).ignoresCase()
        // Secret words, and environment-variable names that hold one (AWS_SECRET_ACCESS_KEY, GITHUB_TOKEN).
        secretWord =
            (try! Regex(
                #"\b(secrets?|tokens?|api[\s_-]?keys?|keys?|passwords?|passwd|credentials?|ssh|cookies?)\b|\b[A-Za-z][A-Za-z0-9_]*_(SECRET|TOKEN|KEY|PASSWORD|PASS|CREDENTIALS?)[A-Za-z0-9_]*\b|\b(SECRET|TOKEN|PASSWORD)_[A-Za-z0-9_]+\b"#
            )).ignoresCase()
    }

    /// Findings in one text (a description, instructions, a schema string).
    /// - Parameters:
    ///   - location: where the text is, copied into each finding.
    public func check(_ text: String, location: String) -> [PoisoningFinding] {
        var findings: [PoisoningFinding] = []
        // Text hidden from a human: tag characters, bidi embeddings/overrides/isolates.
        if let hidden = Sanitizer.tagText(text) {
            findings.append(PoisoningFinding(kind: .hiddenText, excerpt: clip("tag characters spell: " + hidden), location: location))
            findings += match(hidden, location: location + " (tag characters)")
        }
        if text.unicodeScalars.contains(where: { (0x202A...0x202E).contains($0.value) || (0x2066...0x2069).contains($0.value) }) {
            findings.append(PoisoningFinding(kind: .hiddenText, excerpt: clip("bidi override: " + visible(text)), location: location))
        }
        // Patterns run on the text as a model reads it: invisible characters removed.
        return findings + match(Sanitizer.isClean(text) ? text : Sanitizer.sanitize(text).text, location: location)
    }

    /// The pattern findings in visible text (one per kind).
    private func match(_ plain: String, location: String) -> [PoisoningFinding] {
        var findings: [PoisoningFinding] = []
        guard plain.utf8.count >= 4 else { return findings }
        var seenKinds = Set<PoisoningFinding.Kind>()
        for (kind, regex) in rules where !seenKinds.contains(kind) {
            if let m = try? regex.firstMatch(in: plain) {
                seenKinds.insert(kind)
                findings.append(PoisoningFinding(kind: kind, excerpt: clip(String(plain[m.range])), location: location))
            }
        }
        if let m = try? sendVerb.firstMatch(in: plain), (try? secretWord.firstMatch(in: plain)) != nil {
            findings.append(PoisoningFinding(kind: .exfiltration, excerpt: clip(String(plain[m.range])), location: location))
        }
        return findings
    }

    /// Findings in a definition: every string value and every object key, each with its path.
    /// - Parameters:
    ///   - prefix: the path of `value` (empty for a whole definition).
    public func check(definition value: JSONValue, location prefix: String = "") -> [PoisoningFinding] {
        var findings: [PoisoningFinding] = []
        walk(value, prefix) { text, path in findings += check(text, location: path) }
        return findings
    }

    private func walk(_ value: JSONValue, _ path: String, _ visit: (String, String) -> Void) {
        switch value {
        case .string(let s): visit(s, path.isEmpty ? "." : path)
        case .array(let items):
            for (i, item) in items.enumerated() { walk(item, "\(path)[\(i)]", visit) }
        case .object(let members):
            for (key, v) in members {
                let p = path.isEmpty ? key : path + "." + key
                if key.utf8.count > 24 || !Sanitizer.isClean(key) { visit(key, p + " (key)") }
                walk(v, p, visit)
            }
        default: break
        }
    }
}

/// At most 120 characters, one line, invisible characters named.
func clip(_ s: String) -> String {
    let v = visible(s).map { $0 == "\n" || $0 == "\r" || $0 == "\t" ? " " : $0 }
    return v.count <= 120 ? String(v) : String(v.prefix(119)) + "…"
}

/// The text with removable characters shown as `<U+XXXX>` (tag runs shortened).
func visible(_ s: String) -> String {
    if Sanitizer.isClean(s) { return s }
    var out = ""
    var lastTag = false
    for u in s.unicodeScalars {
        if Sanitizer.classify(u.value) != nil || u.value == 0x1B {
            let isTag = (0xE0000...0xE007F).contains(u.value)
            if isTag && lastTag { continue }
            let h = String(u.value, radix: 16, uppercase: true)
            out += "<U+" + String(repeating: "0", count: max(0, 4 - h.count)) + h + (isTag ? "…>" : ">")
            lastTag = isTag
        } else {
            out.unicodeScalars.append(u)
            lastTag = false
        }
    }
    return out
}
