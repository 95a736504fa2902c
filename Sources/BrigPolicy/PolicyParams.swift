public import BrigJSONRPC

/// What the engine reads of a message's `params`: a few top-level members and the arguments a
/// tool rule constrains, each the first member with its name (as `JSONValue`'s subscript finds it).
///
/// Two sources answer alike: a `JSONValue` tree (tests, input requests inside a result) and
/// `LineParams`, which reads the bytes of the line. A `tools/call` carries the tool's arguments,
/// often large, of which a rule constrains a few or none: decoding all of them into a tree cost
/// more than the rest of the decision.
protocol PolicyParams {
    /// The first top-level member named `member`.
    func value(of member: ParamsMember) -> JSONValue?
    /// Its text, when that member is a string.
    func string(of member: ParamsMember) -> String?
    /// The first member named `name` of the first `arguments` member, when that is an object.
    func argument(_ name: JSONScanner.KeyBytes) -> JSONValue?
    /// Calls `body` with a function that checks the rule's argument `i` (`rule.args[i]`, found as
    /// `argument` finds it) against its constraint; the function is valid only inside `body`.
    func checkingArguments<R>(
        of rule: PolicyEngine.ToolRule, workdir: String?,
        _ body: (_ check: (Int) -> ArgumentCheck) -> R
    ) -> R
}

/// How one constrained argument fared.
enum ArgumentCheck: Equatable {
    case missing
    case passes
    case fails(String)
}

/// The top-level members of `params` that a decision or a denial reads (raw value: the key).
enum ParamsMember: String, CaseIterable, Sendable {
    case name, uri, protocolVersion
    case meta = "_meta"
}

extension JSONValue: PolicyParams {
    func value(of member: ParamsMember) -> JSONValue? { self[member.rawValue] }

    func string(of member: ParamsMember) -> String? { self[member.rawValue]?.stringValue }

    func argument(_ name: JSONScanner.KeyBytes) -> JSONValue? { self["arguments"]?[name.text] }

    func checkingArguments<R>(
        of rule: PolicyEngine.ToolRule, workdir: String?,
        _ body: (_ check: (Int) -> ArgumentCheck) -> R
    ) -> R {
        let arguments = self["arguments"]
        return body { i in
            guard let value = arguments?[rule.args[i].name] else { return .missing }
            return rule.args[i].constraint.check(value, workdir: workdir).map(ArgumentCheck.fails) ?? .passes
        }
    }
}

/// A message's `params`, read from its line when asked, without building its tree.
///
/// `init` walks the top-level members once and keeps where the ones the policy reads begin and
/// end; values are decoded on demand, and a rule's arguments are found in one walk of `arguments`.
/// (Keeping the members of `arguments` from the first walk, to spare the second, measured slower:
/// the larger value costs more to carry than the walk it spares.) It points into the line: use it
/// only while the line's buffer is alive.
public struct LineParams: PolicyParams {
    private let line: UnsafeBufferPointer<UInt8>
    /// Where the value of the first member of each slot begins and ends; -1 when there is none.
    /// Slots 0-3 are `ParamsMember`'s cases in order, slot 4 is `arguments`.
    private var starts = InlineArray<5, Int>(repeating: -1)
    private var ends = InlineArray<5, Int>(repeating: -1)
    private static let argumentsSlot = 4

    /// Reads `params`, the byte range `range` of `line` (a range from `MessageView`, so valid JSON).
    /// A value that is not an object has no members: every read then finds nothing, as in the tree.
    public init(line: UnsafeBufferPointer<UInt8>, range: Range<Int>) {
        self.init(line: line, range: range, onlyNameAndArguments: false)
    }

    /// With `onlyNameAndArguments`, only `name` and `arguments` are read (a call decided without
    /// pinned protocol versions reads nothing else), and the walk ends at `arguments` once `name`
    /// is known: the arguments, often the bulk of the line, are then walked once, when checked.
    init(line: UnsafeBufferPointer<UInt8>, range: Range<Int>, onlyNameAndArguments: Bool) {
        self.line = line
        guard let first = range.first, line[first] == UInt8(ascii: "{") else { return }
        let reader = JSONScanner(line)
        var scanner = reader
        var starts = InlineArray<5, Int>(repeating: -1), ends = starts
        do {
            let argumentsStart = try scanner.forEachMember(
                ofValidObjectAt: first,
                stoppingBefore: { key in
                    onlyNameAndArguments && starts[0] >= 0 && starts[LineParams.argumentsSlot] < 0
                        && LineParams.slot(of: key, reader) == LineParams.argumentsSlot
                }
            ) { key, value in
                if let slot = LineParams.slot(of: key, reader), starts[slot] < 0 {
                    starts[slot] = value.lowerBound
                    ends[slot] = value.upperBound
                }
                return !onlyNameAndArguments || starts[0] < 0 || starts[LineParams.argumentsSlot] < 0
            }
            if let argumentsStart {
                // Only its start is read (`arguments` is walked from there).
                starts[LineParams.argumentsSlot] = argumentsStart
                ends[LineParams.argumentsSlot] = argumentsStart + 1
            }
        } catch {
            // Not reachable for a line MessageView accepted.
            return
        }
        self.starts = starts
        self.ends = ends
    }

    /// The slot of the member a key names, if the policy reads it; keys compare as Swift strings
    /// (the tree's subscript), which for an unescaped ASCII key is comparing bytes.
    private static func slot(of key: JSONScanner.StringToken, _ reader: JSONScanner) -> Int? {
        if !key.escaped {
            switch key.range.count - 2 {
            case 4 where reader.keyIs(key, "name"): return 0
            case 3 where reader.keyIs(key, "uri"): return 1
            case 15 where reader.keyIs(key, "protocolVersion"): return 2
            case 5 where reader.keyIs(key, "_meta"): return 3
            case 9 where reader.keyIs(key, "arguments"): return argumentsSlot
            default: if reader.isASCII(key) { return nil }
            }
        }
        switch reader.decodeString(key) {
        case "name": return 0
        case "uri": return 1
        case "protocolVersion": return 2
        case "_meta": return 3
        case "arguments": return argumentsSlot
        default: return nil
        }
    }

    private func range(_ slot: Int) -> Range<Int>? {
        starts[slot] < 0 ? nil : starts[slot]..<ends[slot]
    }

    private func range(of member: ParamsMember) -> Range<Int>? {
        switch member {
        case .name: range(0)
        case .uri: range(1)
        case .protocolVersion: range(2)
        case .meta: range(3)
        }
    }

    func value(of member: ParamsMember) -> JSONValue? {
        guard let r = range(of: member) else { return nil }
        return JSONScanner(line).validValue(r)
    }

    func string(of member: ParamsMember) -> String? {
        guard let r = range(of: member) else { return nil }
        return JSONScanner(line).validString(at: r.lowerBound)
    }

    func argument(_ name: JSONScanner.KeyBytes) -> JSONValue? {
        withArgumentRanges([name]) { $0[0] }.flatMap(JSONScanner(line).validValue)
    }

    /// One walk of `arguments` finds every constrained argument.
    func checkingArguments<R>(
        of rule: PolicyEngine.ToolRule, workdir: String?,
        _ body: (_ check: (Int) -> ArgumentCheck) -> R
    ) -> R {
        withArgumentRanges(rule.argumentKeys) { found in
            body { i in
                guard let range = found[i] else { return .missing }
                let constraint = rule.args[i].constraint
                // Most arguments pass, and their bytes often prove it: then nothing is decoded.
                if constraint.passes(raw: UnsafeBufferPointer(rebasing: line[range])) { return .passes }
                guard let value = JSONScanner(line).validValue(range) else { return .missing }
                return constraint.check(value, workdir: workdir).map(ArgumentCheck.fails) ?? .passes
            }
        }
    }

    /// Calls `body` with the value range of the first member of `arguments` named by each key
    /// (nil: none), all found in one walk that ends once every key is found.
    private func withArgumentRanges<R>(_ keys: [JSONScanner.KeyBytes], _ body: (FoundRanges) -> R) -> R {
        // Start and end of each key's value, -1 when not found (plain integers: no generic buffer).
        withUnsafeTemporaryAllocation(of: Int.self, capacity: 2 * keys.count) { bounds in
            bounds.initialize(repeating: -1)
            if let arguments = range(LineParams.argumentsSlot), line[arguments.lowerBound] == UInt8(ascii: "{") {
                let reader = JSONScanner(line)
                var scanner = reader
                var left = keys.count
                try? scanner.forEachMember(ofValidObjectAt: arguments.lowerBound) { key, value in
                    for (i, name) in keys.enumerated() where bounds[2 * i] < 0 && reader.keyEquals(key, name) {
                        bounds[2 * i] = value.lowerBound
                        bounds[2 * i + 1] = value.upperBound
                        left -= 1
                    }
                    return left > 0
                }
            }
            return body(FoundRanges(bounds: UnsafeBufferPointer(bounds)))
        }
    }

    /// Where each key's value was found.
    private struct FoundRanges {
        let bounds: UnsafeBufferPointer<Int>

        subscript(i: Int) -> Range<Int>? {
            bounds[2 * i] < 0 ? nil : bounds[2 * i]..<bounds[2 * i + 1]
        }
    }
}

extension PolicyEngine {
    /// What deciding `method` reads of its params (`params`, the byte range `range` of `line`);
    /// nil when the engine decides it by its name alone.
    public func lineParams(method: String, line: UnsafeBufferPointer<UInt8>, range: Range<Int>) -> LineParams? {
        guard readsParams(of: method) else { return nil }
        return LineParams(line: line, range: range, onlyNameAndArguments: method == MCPMethod.toolsCall && versions == nil)
    }

    /// Whether deciding `method` reads its params (with `mcp.protocol_versions`, every message's
    /// `_meta` matters); for any other method the engine decides by the name alone.
    func readsParams(of method: String) -> Bool {
        switch method {
        case MCPMethod.toolsCall, MCPMethod.resourcesRead, MCPMethod.resourcesSubscribe, MCPMethod.resourcesUnsubscribe, MCPMethod.promptsGet,
            MCPMethod.initialize, "server/discover":
            return true
        default:
            return versions != nil
        }
    }
}
