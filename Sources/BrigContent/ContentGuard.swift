public import BrigJSONRPC
public import BrigProfile
import BrigSecrets
import BrigSystem
import Crypto
import Synchronization

#if canImport(Glibc)
@preconcurrency import Glibc
#endif

/// What the content defenses do for one session with one server.
public struct ContentSettings: Sendable {
    /// Pinned definitions: `block` removes a changed tool/prompt/resource (and changed
    /// instructions) until accepted; `warn` reports and forwards.
    public var pins: PinMode
    /// Remove terminal escapes, control characters, tag, zero-width and bidi characters from
    /// everything the server sends.
    public var sanitize: Bool
    /// Poisoning markers in definitions and instructions: `block` removes the item.
    public var poisoning: PoisoningMode
    /// Secrets in results: `redact` replaces them, `block` turns a `tools/call` result into an
    /// `isError` result (other results are redacted).
    public var leaks: LeakMode
    /// Secrets injected into the server, name → value, found by exact value.
    public var secretValues: [String: String]
    /// The server's identity, the key of its pins (see `ContentGuard.identity`).
    public var serverIdentity: String
    /// The identity in words, saved with the pins for `brig pins` (see `ContentGuard.label`).
    public var serverLabel: String?
    /// brig's state directory; pins go in `<it>/pins`. nil: `$XDG_STATE_HOME/brig`, else
    /// `~/.local/state/brig`.
    public var stateDirectory: String?

    public init(
        pins: PinMode = .warn, sanitize: Bool = true, poisoning: PoisoningMode = .warn,
        leaks: LeakMode = .redact, secretValues: [String: String] = [:], serverIdentity: String = "",
        stateDirectory: String? = nil, serverLabel: String? = nil
    ) {
        self.serverLabel = serverLabel
        self.pins = pins
        self.sanitize = sanitize
        self.poisoning = poisoning
        self.leaks = leaks
        self.secretValues = secretValues
        self.serverIdentity = serverIdentity
        self.stateDirectory = stateDirectory
    }
}

/// One thing the content defenses found in one result.
public struct ContentFinding: Sendable, Equatable {
    /// What was found; each is an audit action of its own (`pin-new`, `pin-changed`, ...; the
    /// relay maps them to `AuditAction`).
    public enum Action: Sendable, Equatable, CaseIterable {
        /// A definition seen for the first time, and pinned.
        case pinNew
        /// A pinned definition that changed.
        case pinChanged
        /// A pinned definition no longer listed.
        case pinRemoved
        /// The pins could not be read or saved.
        case pinError
        /// Hidden or control characters removed.
        case sanitized
        /// A poisoning marker in a definition or the instructions.
        case poisoning
        /// A secret in a result.
        case leak
    }

    public var action: Action
    /// `tool:read_file`, `prompt:NAME`, `resource:URI`, `template:URI-TEMPLATE`, `instructions`, `result`.
    public var item: String
    /// Readable: the diff of a changed pin, the kind and excerpt of a poisoning marker, what was
    /// removed and where, the kind of secret and where.
    public var detail: String
    /// The item (or the whole result, for a leak under `block`) was withheld from the host.
    public var blocked: Bool

    public init(action: Action, item: String, detail: String, blocked: Bool) {
        self.action = action
        self.item = item
        self.detail = detail
        self.blocked = blocked
    }
}

public struct ContentError: Error, Sendable, CustomStringConvertible {
    public var message: String
    public init(_ message: String) { self.message = message }
    public var description: String { message }
}

/// The content defenses for one session: pins, sanitizing, poisoning markers, secret leaks.
/// The relay calls `needsInspection` on every result's bytes and `inspect` on those it says yes to.
public final class ContentGuard: Sendable {
    public let settings: ContentSettings
    /// nil when `pins` is `off`.
    public let pinStore: PinStore?
    let leakScanner: LeakScanner
    /// Injected secret values as bytes and as JSON-escaped bytes (see `SecretScan.needles`).
    let secretNeedles: [[UInt8]]
    private let state: Mutex<State>

    struct State {
        /// Built on first use: compiling its patterns costs milliseconds that a session whose
        /// server never lists a definition (or a profile with poisoning off) should not pay.
        var detectorStorage: PoisoningDetector?
        var detector: PoisoningDetector {
            mutating get {
                if let d = detectorStorage { return d }
                let d = PoisoningDetector()
                detectorStorage = d
                return d
            }
        }
        /// Items of earlier pages of a listing still being paged through, by kind.
        var pages: [PinStore.ItemKind: Set<String>] = [:]
        /// Removed items already reported in this session.
        var reportedRemoved = Set<String>()
        /// Items hidden from the host (changed under `pins: block`, flagged under
        /// `poisoning: block`): calls to them are refused too, not only their listing.
        var withheld = Set<String>()
    }

    /// Methods whose results carry definitions (always inspected when any defense is on).
    public static let definitionMethods: Set<String> = [
        MCPMethod.initialize, "server/discover", MCPMethod.toolsList, MCPMethod.promptsList, MCPMethod.resourcesList, MCPMethod.resourcesTemplatesList,
    ]

    /// - Throws: `ContentError` when pins are on and the identity is empty or the pins directory
    ///   cannot be created.
    public init(settings: ContentSettings) throws(ContentError) {
        self.settings = settings
        if settings.pins != .off {
            guard !settings.serverIdentity.isEmpty else { throw ContentError("pins need a server identity") }
            let dir = (settings.stateDirectory ?? ContentGuard.defaultStateDirectory()) + "/pins"
            do {
                pinStore = try PinStore(identity: settings.serverIdentity, directory: dir, label: settings.serverLabel)
            } catch {
                throw ContentError(error.message)
            }
        } else {
            pinStore = nil
        }
        leakScanner = LeakScanner(secretValues: settings.secretValues)
        secretNeedles = SecretScan.needles(leakScanner.secretValues.values.sorted())
        state = Mutex(State())
    }

    /// `$XDG_STATE_HOME/brig` when that is an absolute path, else `$HOME/.local/state/brig`.
    public static func defaultStateDirectory(environment: [String: String]? = nil) -> String {
        StateDirectory.brig(environment: environment ?? ProcessEnvironment.snapshot())
    }

    /// The identity that keys a server's pins: `profileName` when given (a profile written for
    /// this server), else the SHA-256 (hex) of the executable's SHA-256 and its arguments, each
    /// followed by a NUL byte. Built-in profile names (`default`, `python`, ...) are shared by
    /// many servers and are not used as identities.
    public static func identity(profileName: String?, executableSHA256: String, arguments: [String]) -> String {
        if let name = profileName, !name.isEmpty, !ProfileLoader.builtinNames.contains(name) { return name }
        var bytes = Array(executableSHA256.utf8)
        bytes.append(0)
        for a in arguments {
            bytes += Array(a.utf8)
            bytes.append(0)
        }
        return sha256Hex(bytes)
    }

    /// A server's identity in words, for `brig pins`: the command's name and its first argument
    /// that is not an option (`uvx mcp-server-time`); later arguments, where secrets are passed,
    /// are left out.
    public static func label(command argv: [String]) -> String? {
        guard let first = argv.first else { return nil }
        let name = first.split(separator: "/").last.map(String.init) ?? first
        guard let operand = argv.dropFirst().first(where: { !$0.hasPrefix("-") }) else { return name }
        return name + " " + operand
    }

    // MARK: Per message

    /// Cheap pre-check on a result's bytes: false when the result can be forwarded untouched
    /// (no control character, nothing that could be invisible or bidi, no secret pattern prefix,
    /// no injected secret value, and the method is not one whose definitions are pinned). The
    /// checks read the text as the host will decode it (`JSONEscapes.withDecoded`): however a
    /// server escapes a secret or a hidden character, it is seen.
    public func needsInspection(method: String, result: UnsafeBufferPointer<UInt8>) -> Bool {
        let s = settings
        if ContentGuard.definitionMethods.contains(method) {
            return s.pins != .off || s.poisoning != .off || s.sanitize || s.leaks != .off
        }
        guard s.sanitize || s.leaks != .off else { return false }
        return JSONEscapes.withDecoded(result) { text in
            if s.sanitize, ByteScan.mayHideText(text) { return true }
            if s.leaks != .off {
                if SecretScan.hasSecretPrefix(text) { return true }
                for needle in secretNeedles where ByteSearch.contains(text, needle) { return true }
            }
            return false
        }
    }

    /// Whether `item` (`tool:NAME`, `prompt:NAME`, `resource:URI`) was withheld from the host in
    /// this session: a call to it must not reach the server either.
    public func isWithheld(_ item: String) -> Bool {
        state.withLock { $0.withheld.contains(item) }
    }

    /// Whether anything can be withheld at all (pins or poisoning in block mode) and something
    /// is: the relay asks before it reads a call's params.
    public var withholdsAnything: Bool {
        guard settings.pins == .block || settings.poisoning == .block else { return false }
        return state.withLock { !$0.withheld.isEmpty }
    }

    /// Inspects a result of `method`. Returns the result to forward (nil: unchanged) and what was found.
    public func inspect(method: String, result: JSONValue) -> (result: JSONValue?, findings: [ContentFinding]) {
        switch method {
        case MCPMethod.initialize, "server/discover":
            return inspectInstructions(result)
        default:
            if let kind = PinStore.ItemKind(listMethod: method) { return inspectList(result, kind: kind) }
            return inspectContent(result, method: method)
        }
    }

    // MARK: Definitions

    private func inspectInstructions(_ result: JSONValue) -> (result: JSONValue?, findings: [ContentFinding]) {
        var findings: [ContentFinding] = []
        let instructions = result["instructions"]?.stringValue
        var remove = false
        if let store = pinStore {
            let items: [(item: String, value: JSONValue)] = instructions.map { [("instructions", .string($0))] } ?? []
            do {
                let statuses = try store.compare(items, removalScope: "instructions")
                for (item, status) in statuses {
                    if let f = pinFinding(item, status) {
                        if case .changed = status, settings.pins == .block { remove = true }
                        findings.append(f)
                    }
                }
            } catch {
                findings.append(ContentFinding(action: .pinError, item: "instructions", detail: error.message, blocked: false))
            }
        }
        guard let text = instructions else { return (nil, findings) }
        if settings.poisoning != .off {
            let hits = state.withLock { $0.detector.check(text, location: "instructions") }
            if !hits.isEmpty, settings.poisoning == .block { remove = true }
            findings += hits.map { poisoningFinding("instructions", $0) }
        }
        if remove {
            for k in findings.indices where findings[k].action == .pinChanged || findings[k].action == .poisoning {
                findings[k].blocked = true
            }
            guard case .object(let members) = result else { return (nil, findings) }
            return (.object(members.filter { $0.0 != "instructions" }), findings)
        }
        var cleaned = result
        var changed = false
        let (v, more) = cleanStrings(.string(text), item: "instructions", location: "instructions")
        if v != .string(text) {
            cleaned = cleaned.setting("instructions", v)
            changed = true
        }
        findings += more
        return (changed ? cleaned : nil, findings)
    }

    private func inspectList(_ result: JSONValue, kind: PinStore.ItemKind) -> (result: JSONValue?, findings: [ContentFinding]) {
        guard let entries = result[kind.listMember]?.arrayValue else { return (nil, []) }
        var findings: [ContentFinding] = []
        let keyed = entries.map { PinStore.item(kind: kind, definition: $0) }
        var withheld = Set<String>()

        if let store = pinStore {
            let partial: Bool
            if case .string? = result["nextCursor"] { partial = true } else { partial = false }
            let fresh = keyed.compactMap { $0 }
            let earlier: Set<String> = state.withLock { st in
                let before = st.pages[kind] ?? []
                if partial {
                    st.pages[kind] = before.union(fresh.map(\.item))
                } else {
                    st.pages[kind] = nil
                }
                return before
            }
            do {
                let statuses = try store.compare(fresh, removalScope: partial ? nil : kind.prefix, alsoListed: earlier)
                let removedNow: Set<String> = state.withLock { st in
                    let removed = Set(statuses.filter { $0.status == .removed }.map(\.item))
                    let unreported = removed.subtracting(st.reportedRemoved)
                    st.reportedRemoved.formUnion(unreported)
                    // An item listed again may be reported again if it goes away again.
                    st.reportedRemoved.subtract(statuses.filter { $0.status != .removed }.map(\.item))
                    return unreported
                }
                for (item, status) in statuses {
                    if status == .removed, !removedNow.contains(item) { continue }
                    if case .changed = status, settings.pins == .block { withheld.insert(item) }
                    if let f = pinFinding(item, status) { findings.append(f) }
                }
            } catch {
                findings.append(ContentFinding(action: .pinError, item: kind.listMember, detail: error.message, blocked: false))
            }
        }

        var out: [JSONValue] = []
        var changed = false
        for (index, entry) in entries.enumerated() {
            let item = keyed[index]?.item ?? "\(kind.rawValue):#\(index)"
            if settings.poisoning != .off {
                let hits = state.withLock { $0.detector.check(definition: entry) }
                if !hits.isEmpty, settings.poisoning == .block { withheld.insert(item) }
                findings += hits.map { poisoningFinding(item, $0) }
            }
            if withheld.contains(item) {
                changed = true
                continue
            }
            let (v, more) = cleanStrings(entry, item: item, location: "")
            if v != entry { changed = true }
            findings += more
            out.append(v)
        }
        for k in findings.indices
        where withheld.contains(findings[k].item)
            && (findings[k].action == .pinChanged || findings[k].action == .poisoning)
        {
            findings[k].blocked = true
        }
        let listed = Set(keyed.compactMap { $0?.item })
        state.withLock { st in
            st.withheld.subtract(listed.subtracting(withheld))
            st.withheld.formUnion(withheld)
        }
        return (changed ? result.setting(kind.listMember, .array(out)) : nil, findings)
    }

    private func pinFinding(_ item: String, _ status: PinStatus) -> ContentFinding? {
        switch status {
        case .unchanged: return nil
        case .new: return ContentFinding(action: .pinNew, item: item, detail: "pinned on first use", blocked: false)
        case .removed:
            return ContentFinding(
                action: .pinRemoved, item: item,
                detail: "pinned but no longer listed (brig pins accept \(item) forgets it)", blocked: false)
        case .changed(let diff):
            return ContentFinding(action: .pinChanged, item: item, detail: diff, blocked: false)
        }
    }

    private func poisoningFinding(_ item: String, _ p: PoisoningFinding) -> ContentFinding {
        ContentFinding(action: .poisoning, item: item, detail: "\(p.kind.rawValue) in \(p.location): \(p.excerpt)", blocked: false)
    }

    // MARK: Results

    private func inspectContent(_ result: JSONValue, method: String) -> (result: JSONValue?, findings: [ContentFinding]) {
        var findings: [ContentFinding] = []
        var value = result
        var changed = false
        // Secrets are looked for before sanitizing (a control character inside an injected value
        // must not hide it by being removed) and again after (a token split by a zero-width
        // character is whole once the character is gone, and that is what the host shows).
        var leaks: [LeakFinding] = []
        if settings.leaks != .off {
            let (v, found) = leakScanner.scan(value)
            if !found.isEmpty {
                value = v
                leaks = found
            }
        }
        if settings.sanitize {
            let (v, f) = sanitizeStrings(value, location: "")
            if !f.isEmpty {
                value = v
                changed = true
                findings += f.map { ContentFinding(action: .sanitized, item: "result", detail: $0, blocked: false) }
            }
        }
        if settings.leaks != .off {
            let (v, more) = leakScanner.scan(value)
            if !more.isEmpty { value = v }
            leaks += more
            if !leaks.isEmpty {
                let block = settings.leaks == .block
                findings += leaks.map {
                    ContentFinding(action: .leak, item: "result", detail: leakDetail($0), blocked: block)
                }
                if block, method == MCPMethod.toolsCall {
                    let names = leaks.map(leakDetail).joined(separator: "; ")
                    var members: [(String, JSONValue)] = [
                        (
                            "content",
                            .array([
                                .object([
                                    ("type", .string("text")),
                                    ("text", .string("brig withheld this result: it carried a secret (\(names))")),
                                ])
                            ])
                        ),
                        ("isError", .bool(true)),
                    ]
                    if let rt = result["resultType"] { members.append(("resultType", rt)) }
                    return (.object(members), findings)
                }
                value = v
                changed = true
            }
        }
        return (changed ? value : nil, findings)
    }

    private func leakDetail(_ l: LeakFinding) -> String {
        "\(l.kind) in \(l.location)" + (l.count > 1 ? " (\(l.count) times)" : "")
    }

    /// Sanitizing and leak scanning of a definition's strings (or instructions).
    private func cleanStrings(_ value: JSONValue, item: String, location: String) -> (JSONValue, [ContentFinding]) {
        var v = value
        var findings: [ContentFinding] = []
        // As for results: secrets before sanitizing and after (see `inspectContent`).
        var leaks: [LeakFinding] = []
        if settings.leaks != .off {
            let (s, found) = leakScanner.scan(v, location: location)
            if !found.isEmpty {
                v = s
                leaks = found
            }
        }
        if settings.sanitize {
            let (s, f) = sanitizeStrings(v, location: location)
            v = s
            findings += f.map { ContentFinding(action: .sanitized, item: item, detail: $0, blocked: false) }
        }
        if settings.leaks != .off {
            let (s, more) = leakScanner.scan(v, location: location)
            if !more.isEmpty { v = s }
            leaks += more
            if !leaks.isEmpty {
                findings += leaks.map {
                    ContentFinding(action: .leak, item: item, detail: leakDetail($0), blocked: settings.leaks == .block)
                }
            }
        }
        return (v, findings)
    }

    /// Every string sanitized (base64 payloads left alone); one detail line per changed string:
    /// `content[0].text: removed 3 ansi, 12 tag (hidden text: "...")`.
    private func sanitizeStrings(_ value: JSONValue, location: String) -> (JSONValue, [String]) {
        var details: [String] = []
        func walk(_ v: JSONValue, _ path: String) -> JSONValue {
            switch v {
            case .string(let s):
                if Sanitizer.isClean(s) { return v }
                let r = Sanitizer.sanitize(s)
                guard r.changed else { return v }
                let parts = r.removals.map { rm -> String in
                    var t = "\(rm.count) \(rm.kind.rawValue)"
                    if let h = rm.hiddenText { t += " (hidden text: \(clip(JSONWriter.quoted(h))))" }
                    return t
                }
                details.append("\(path.isEmpty ? "." : path): removed " + parts.joined(separator: ", "))
                return .string(r.text)
            case .array(let items):
                return .array(items.enumerated().map { walk($1, "\(path)[\($0)]") })
            case .object(let members):
                let binary = v["mimeType"] != nil
                return .object(
                    members.map { key, m in
                        if key == "blob" || (binary && key == "data") { return (key, m) }
                        return (key, walk(m, path.isEmpty ? key : path + "." + key))
                    })
            default:
                return v
            }
        }
        let out = walk(value, location)
        return (out, details)
    }
}
