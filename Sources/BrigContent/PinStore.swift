public import BrigJSONRPC
import BrigSystem
import Crypto
import Synchronization

#if canImport(Glibc)
@preconcurrency import Glibc
#endif

/// How a fresh definition compares with its pin.
public enum PinStatus: Sendable, Equatable {
    /// Never seen for this server: now pinned (trust on first use).
    case new
    case unchanged
    /// Differs from the pin; the new definition is kept pending until accepted.
    case changed(diff: String)
    /// Pinned but absent from a complete listing.
    case removed
}

/// One pinned item, as stored.
public struct PinEntry: Sendable, Equatable {
    /// `instructions`, `tool:NAME`, `prompt:NAME`, `resource:URI`, `template:URI-TEMPLATE`.
    public var item: String
    public var sha256: String
    /// Canonical JSON (keys sorted, compact) of the accepted definition.
    public var canonical: String
    /// UTC time the accepted definition was pinned.
    public var pinnedAt: String
    /// A changed definition waiting to be accepted.
    public var pendingSHA256: String?
    public var pendingCanonical: String?
    public var pendingSeenAt: String?
    /// UTC time a complete listing first lacked the item, nil while it is listed.
    public var removedAt: String?
    /// UTC time the item first appeared in a listing after the server's first one (a tool the
    /// server added later is worth a look too); nil for the first listing's items and once accepted.
    public var addedAt: String?

    /// `changed` (pending), `removed`, `new` (added after the first listing, not yet accepted) or `pinned`.
    public var state: String {
        pendingSHA256 != nil ? "changed" : removedAt != nil ? "removed" : addedAt != nil ? "new" : "pinned"
    }

    /// The pinned definition, pretty-printed.
    public var prettyDefinition: String {
        (try? JSONValue.parse(canonical)).map(CanonicalJSON.pretty) ?? canonical
    }

    /// The readable diff of the pending definition against the pin, nil when none is pending.
    public var diff: String? {
        guard let pendingCanonical else { return nil }
        return PinStore.diff(
            old: canonical, new: pendingCanonical, oldLabel: "pinned \(pinnedAt)",
            newLabel: "seen \(pendingSeenAt ?? "")")
    }
}

public struct PinError: Error, Sendable, CustomStringConvertible {
    public var message: String
    public init(_ message: String) { self.message = message }
    public var description: String { message }
}

/// Trust-on-first-use pins of one server's definitions, in
/// `DIRECTORY/<sanitized identity>.json` (directory 0700, file 0600, replaced atomically). Every
/// operation reads the file afresh under an exclusive `flock` of the directory, so `brig pins
/// accept` in a terminal and a running session do not lose each other's changes.
public final class PinStore: Sendable {
    public let identity: String
    public let directory: String
    public let path: String
    /// What the identity was made from, in words (`uvx mcp-server-time`), saved with the pins so
    /// that `brig pins` can name a server whose identity is a hash; nil keeps the saved one.
    public let label: String?
    private let lock = Mutex(())

    /// Opens (creating the directory, mode 0700, when missing) the pins of `identity`.
    public init(identity: String, directory: String, label: String? = nil) throws(PinError) {
        self.identity = identity
        self.label = label
        self.directory = directory
        self.path = directory + "/" + PinStore.fileName(for: identity)
        try PinStore.makeDirectory(directory)
    }

    /// A file name for any identity: the identity itself when it is made of `[A-Za-z0-9._-]`
    /// (not starting with a dot, at most 100 bytes), else those characters with `_` for the rest
    /// plus 12 hex digits of the identity's SHA-256 (so two identities never share a file).
    public static func fileName(for identity: String) -> String {
        let ok = { (c: UInt8) in
            (c >= 0x30 && c <= 0x39) || (c >= 0x41 && c <= 0x5A) || (c >= 0x61 && c <= 0x7A) || c == 0x2E || c == 0x5F || c == 0x2D
        }
        let bytes = Array(identity.utf8)
        if !bytes.isEmpty, bytes.count <= 100, bytes[0] != 0x2E, bytes.allSatisfy(ok) { return identity + ".json" }
        let cleaned = String(decoding: bytes.prefix(80).map { ok($0) ? $0 : UInt8(ascii: "_") }, as: UTF8.self)
        return cleaned + "-" + String(sha256Hex(bytes).prefix(12)) + ".json"
    }

    // MARK: Items

    /// The pinned part of a list entry and its item name: `tool:NAME` (name, description,
    /// inputSchema, outputSchema, annotations, title), `prompt:NAME` (name, description,
    /// arguments), `resource:URI` and `template:URI-TEMPLATE` (uri/uriTemplate, name,
    /// description, mimeType). nil when the entry lacks its key member.
    public static func item(kind: ItemKind, definition: JSONValue) -> (item: String, value: JSONValue)? {
        guard let key = definition[kind.keyMember]?.stringValue else { return nil }
        let members = kind.pinnedMembers.compactMap { m in definition[m].map { (m, $0) } }
        return (kind.prefix + key, .object(members))
    }

    public enum ItemKind: String, Sendable, CaseIterable {
        case tool, prompt, resource, template

        public var prefix: String { rawValue + ":" }
        /// The list method and the member of its result that holds the entries.
        public var listMethod: String {
            switch self {
            case .tool: return MCPMethod.toolsList
            case .prompt: return MCPMethod.promptsList
            case .resource: return MCPMethod.resourcesList
            case .template: return MCPMethod.resourcesTemplatesList
            }
        }
        public var listMember: String {
            switch self {
            case .tool: return "tools"
            case .prompt: return "prompts"
            case .resource: return "resources"
            case .template: return "resourceTemplates"
            }
        }
        var keyMember: String {
            switch self {
            case .tool, .prompt: return "name"
            case .resource: return "uri"
            case .template: return "uriTemplate"
            }
        }
        var pinnedMembers: [String] {
            switch self {
            case .tool: return ["name", "description", "inputSchema", "outputSchema", "annotations", "title"]
            case .prompt: return ["name", "description", "arguments"]
            case .resource: return ["uri", "name", "description", "mimeType"]
            case .template: return ["uriTemplate", "name", "description", "mimeType"]
            }
        }
        public init?(listMethod: String) {
            guard let k = ItemKind.allCases.first(where: { $0.listMethod == listMethod }) else { return nil }
            self = k
        }
    }

    // MARK: Operations

    /// Compares fresh definitions with the pins: new items are pinned, changed ones kept pending
    /// (the latest change replaces an earlier pending one; a definition back to its pin clears
    /// it). With `removalScope` (an item prefix such as `tool:`), pinned items of that prefix
    /// missing from `items` and from `alsoListed` (items of earlier pages of the same listing)
    /// are marked removed; pass nil for a partial listing.
    /// - Returns: one status per item of `items`, in order, then one `.removed` per missing item.
    public func compare(
        _ items: [(item: String, value: JSONValue)], removalScope: String?,
        alsoListed: Set<String> = []
    ) throws(PinError) -> [(item: String, status: PinStatus)] {
        try transaction { entries in
            let now = utcNow()
            var result: [(item: String, status: PinStatus)] = []
            var seen = Set<String>()
            // Kinds (`tool:`...) already pinned before this listing began: a fresh item of one of
            // them was added later. The pages of the same listing do not count.
            let kindsPinnedBefore = Set(entries.keys.filter { !alsoListed.contains($0) }.compactMap(PinStore.kindPrefix))
            for (item, value) in items {
                guard seen.insert(item).inserted else { continue }
                let canonical = CanonicalJSON.text(value)
                let sha = sha256Hex(Array(canonical.utf8))
                guard var e = entries[item] else {
                    let later = PinStore.kindPrefix(item).map(kindsPinnedBefore.contains) ?? false
                    entries[item] = PinEntry(
                        item: item, sha256: sha, canonical: canonical, pinnedAt: now,
                        addedAt: later ? now : nil)
                    result.append((item, .new))
                    continue
                }
                e.removedAt = nil
                if sha == e.sha256 {
                    e.pendingSHA256 = nil
                    e.pendingCanonical = nil
                    e.pendingSeenAt = nil
                    result.append((item, .unchanged))
                } else {
                    if e.pendingSHA256 != sha {
                        e.pendingSHA256 = sha
                        e.pendingCanonical = canonical
                        e.pendingSeenAt = now
                    }
                    result.append((item, .changed(diff: e.diff ?? "")))
                }
                entries[item] = e
            }
            if let scope = removalScope {
                for key in entries.keys.sorted() where key.hasPrefix(scope) && !seen.contains(key) && !alsoListed.contains(key) {
                    if entries[key]?.removedAt == nil { entries[key]?.removedAt = now }
                    result.append((key, .removed))
                }
            }
            return result
        }
    }

    /// Accepts the pending definition of `item` (or forgets a removed item).
    /// - Returns: false when the item had nothing to accept.
    @discardableResult
    public func accept(_ item: String) throws(PinError) -> Bool {
        try transaction { entries in PinStore.accept(item, in: &entries) }
    }

    /// Accepts every pending change and forgets every removed item.
    /// - Returns: the items accepted, sorted.
    @discardableResult
    public func acceptAll() throws(PinError) -> [String] {
        try transaction { entries in entries.keys.sorted().filter { PinStore.accept($0, in: &entries) } }
    }

    /// Forgets every pin of this server (the next listing is a first use again).
    public func reset() throws(PinError) {
        try transaction { entries in entries.removeAll() }
    }

    /// Every pin, sorted by item.
    public func list() throws(PinError) -> [PinEntry] {
        try transaction { entries in entries.values.sorted { $0.item < $1.item } }
    }

    /// The label saved with the pins (see `label`), nil when none was.
    public func savedLabel() throws(PinError) -> String? {
        try transaction(readingLabel: { _, saved in saved })
    }

    /// The readable line diff of two canonical texts, pretty-printed.
    public static func diff(old: String, new: String, oldLabel: String = "pinned", newLabel: String = "now") -> String {
        func pretty(_ text: String) -> String {
            (try? JSONValue.parse(text)).map(CanonicalJSON.pretty) ?? text
        }
        return LineDiff.unified(old: pretty(old), new: pretty(new), oldLabel: oldLabel, newLabel: newLabel)
    }

    /// `tool:` of `tool:NAME`; nil for `instructions`.
    static func kindPrefix(_ item: String) -> String? {
        item.firstIndex(of: ":").map { String(item[...$0]) }
    }

    private static func accept(_ item: String, in entries: inout [String: PinEntry]) -> Bool {
        guard var e = entries[item] else { return false }
        if e.removedAt != nil, e.pendingSHA256 == nil {
            entries[item] = nil
            return true
        }
        if e.addedAt != nil, e.pendingSHA256 == nil {
            e.addedAt = nil
            entries[item] = e
            return true
        }
        guard let sha = e.pendingSHA256, let canonical = e.pendingCanonical else { return false }
        e.sha256 = sha
        e.canonical = canonical
        e.pinnedAt = utcNow()
        e.pendingSHA256 = nil
        e.pendingCanonical = nil
        e.pendingSeenAt = nil
        e.removedAt = nil
        e.addedAt = nil
        entries[item] = e
        return true
    }

    // MARK: File

    /// Runs `body` on the entries read from the file under the locks, and writes them back
    /// when it changed them.
    private func transaction<T>(_ body: (inout [String: PinEntry]) -> T) throws(PinError) -> T {
        try transaction(readingLabel: { entries, _ in body(&entries) })
    }

    /// The same, with the label saved in the file; the file is also rewritten when this store's
    /// `label` differs from it.
    private func transaction<T>(readingLabel body: (inout [String: PinEntry], String?) -> T) throws(PinError) -> T {
        let outcome: Result<T, PinError> = lock.withLock { _ in
            let dirFD = open(directory, O_RDONLY | O_DIRECTORY | O_CLOEXEC)
            guard dirFD >= 0 else { return .failure(PinError("\(directory): \(SystemError.text())")) }
            defer { close(dirFD) }
            if retryingInterrupted({ flock(dirFD, LOCK_EX) }) != 0 { return .failure(PinError("\(directory): lock: \(SystemError.text())")) }
            let original: [String: PinEntry], savedLabel: String?
            do throws(PinError) { (original, savedLabel) = try load() } catch { return .failure(error) }
            var entries = original
            let value = body(&entries, savedLabel)
            if entries != original || (label != nil && label != savedLabel && !entries.isEmpty) {
                do throws(PinError) { try save(entries, label: label ?? savedLabel) } catch { return .failure(error) }
            }
            return .success(value)
        }
        return try outcome.get()
    }

    private func load() throws(PinError) -> (entries: [String: PinEntry], label: String?) {
        let bytes: [UInt8]
        do {
            bytes = try FileSystem.contents(of: path)
        } catch {
            if error.code == ENOENT { return ([:], nil) }
            throw PinError(error.description)
        }
        let doc: JSONValue
        do {
            doc = try bytes.withUnsafeBufferPointer { buf throws(JSONScanner.Failure) in try JSONValue.parse(buf) }
        } catch {
            throw PinError("\(path): not a pin file (\(error)); move it away or run `brig pins reset`")
        }
        guard case .object(let members)? = doc["items"] else {
            throw PinError("\(path): not a pin file (no \"items\" object)")
        }
        var entries: [String: PinEntry] = [:]
        for (item, v) in members {
            guard let sha = v["sha256"]?.stringValue, let canonical = v["canonical"]?.stringValue else {
                throw PinError("\(path): item \(item): missing sha256 or canonical")
            }
            entries[item] = PinEntry(
                item: item, sha256: sha, canonical: canonical,
                pinnedAt: v["pinnedAt"]?.stringValue ?? "",
                pendingSHA256: v["pending"]?["sha256"]?.stringValue,
                pendingCanonical: v["pending"]?["canonical"]?.stringValue,
                pendingSeenAt: v["pending"]?["seenAt"]?.stringValue,
                removedAt: v["removedAt"]?.stringValue, addedAt: v["addedAt"]?.stringValue)
        }
        return (entries, doc["label"]?.stringValue)
    }

    private func save(_ entries: [String: PinEntry], label: String?) throws(PinError) {
        var items: [(String, JSONValue)] = []
        for e in entries.values.sorted(by: { $0.item < $1.item }) {
            var m: [(String, JSONValue)] = [
                ("sha256", .string(e.sha256)), ("canonical", .string(e.canonical)),
                ("pinnedAt", .string(e.pinnedAt)),
            ]
            if let s = e.pendingSHA256, let c = e.pendingCanonical {
                m.append(
                    (
                        "pending",
                        .object([
                            ("sha256", .string(s)), ("canonical", .string(c)),
                            ("seenAt", .string(e.pendingSeenAt ?? "")),
                        ])
                    ))
            }
            if let r = e.removedAt { m.append(("removedAt", .string(r))) }
            if let a = e.addedAt { m.append(("addedAt", .string(a))) }
            items.append((e.item, .object(m)))
        }
        var members: [(String, JSONValue)] = [("version", .number("1")), ("identity", .string(identity))]
        if let label { members.append(("label", .string(label))) }
        members.append(("items", .object(items)))
        let doc = JSONValue.object(members)
        let text = Array((CanonicalJSON.pretty(doc) + "\n").utf8)
        // Replaced by rename (the caller holds the pins directory's lock).
        do { try FileSystem.replace(path, with: text, mode: 0o600) } catch { throw PinError(error.description) }
    }

    /// `mkdir -p` with mode 0700 for what it creates; the last component is made 0700 if it
    /// was looser.
    static func makeDirectory(_ path: String) throws(PinError) {
        guard path.hasPrefix("/") else { throw PinError("\(path): the pins directory must be an absolute path") }
        do { try FileSystem.makeDirectories(path, mode: 0o700) } catch { throw PinError(error.description) }
        var st = stat()
        guard stat(path, &st) == 0, (st.st_mode & S_IFMT) == S_IFDIR else {
            throw PinError("\(path): not a directory")
        }
        if st.st_mode & 0o077 != 0, st.st_uid == geteuid() {
            if chmod(path, 0o700) != 0 { throw PinError("\(path): chmod: \(SystemError.text())") }
        }
    }
}

// MARK: Helpers

func sha256Hex(_ bytes: [UInt8]) -> String { Hex.encode(SHA256.hash(data: bytes)) }

/// The current UTC time as `YYYY-MM-DDTHH:MM:SSZ`.
func utcNow() -> String {
    var t = time(nil)
    var tm = tm()
    gmtime_r(&t, &tm)
    func two(_ v: Int32) -> String { v < 10 ? "0\(v)" : "\(v)" }
    return "\(tm.tm_year + 1900)-\(two(tm.tm_mon + 1))-\(two(tm.tm_mday))T\(two(tm.tm_hour)):\(two(tm.tm_min)):\(two(tm.tm_sec))Z"
}
