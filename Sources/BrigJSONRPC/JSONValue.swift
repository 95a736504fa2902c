/// A JSON value as a tree, for the few places that need one: policy on a call's arguments,
/// filtering a list result, an audit record's redacted payload. The relay's common path never
/// builds one. Objects keep their members in order, so a value written back looks like what
/// was read.
public enum JSONValue: Sendable, Equatable {
    case null
    case bool(Bool)
    /// The number's text as it was written (no precision lost); `double` reads it.
    case number(String)
    case string(String)
    case array([JSONValue])
    case object([(String, JSONValue)])

    public static func == (a: JSONValue, b: JSONValue) -> Bool {
        switch (a, b) {
        case (.null, .null): return true
        case (.bool(let x), .bool(let y)): return x == y
        case (.number(let x), .number(let y)): return x == y || (Double(x) != nil && Double(x) == Double(y))
        case (.string(let x), .string(let y)): return x == y
        case (.array(let x), .array(let y)): return x == y
        case (.object(let x), .object(let y)):
            return x.count == y.count && zip(x, y).allSatisfy { $0.0 == $1.0 && $0.1 == $1.1 }
        default: return false
        }
    }

    public subscript(key: String) -> JSONValue? {
        guard case .object(let members) = self else { return nil }
        return members.first { $0.0 == key }?.1
    }

    public var stringValue: String? {
        if case .string(let s) = self { return s }
        return nil
    }

    public var doubleValue: Double? {
        if case .number(let n) = self { return Double(n) }
        return nil
    }

    public var boolValue: Bool? {
        if case .bool(let b) = self { return b }
        return nil
    }

    public var arrayValue: [JSONValue]? {
        if case .array(let a) = self { return a }
        return nil
    }

    public var objectValue: [(String, JSONValue)]? {
        if case .object(let o) = self { return o }
        return nil
    }

    /// The JSON type name, for messages ("expected a string, got an object").
    public var typeName: String {
        switch self {
        case .null: return "null"
        case .bool: return "boolean"
        case .number: return "number"
        case .string: return "string"
        case .array: return "array"
        case .object: return "object"
        }
    }

    /// Returns a copy with `key` set (replaced in place, or appended).
    public func setting(_ key: String, _ value: JSONValue) -> JSONValue {
        guard case .object(var members) = self else { return self }
        if let i = members.firstIndex(where: { $0.0 == key }) {
            members[i].1 = value
        } else {
            members.append((key, value))
        }
        return .object(members)
    }
}

extension JSONValue {
    /// Parses a complete JSON text.
    public static func parse(_ bytes: UnsafeBufferPointer<UInt8>) throws(JSONScanner.Failure) -> JSONValue {
        var scanner = JSONScanner(bytes)
        let value = try scanner.parseValue(depth: 0)
        scanner.skipWhitespace()
        guard scanner.atEnd else { throw .syntax(at: scanner.offset) }
        return value
    }

    public static func parse(_ text: String) throws(JSONScanner.Failure) -> JSONValue {
        let bytes = Array(text.utf8)
        let result: Result<JSONValue, JSONScanner.Failure> = bytes.withUnsafeBufferPointer { buf in
            do throws(JSONScanner.Failure) { return .success(try parse(buf)) } catch { return .failure(error) }
        }
        return try result.get()
    }

    /// Parses the bytes of `range` inside `line` (a range from `MessageView`).
    public static func parse(_ line: UnsafeBufferPointer<UInt8>, range: Range<Int>) throws(JSONScanner.Failure) -> JSONValue {
        try parse(UnsafeBufferPointer(rebasing: line[range]))
    }

    /// Compact JSON text.
    public var jsonText: String {
        var out: [UInt8] = []
        write(to: &out)
        return String(decoding: out, as: UTF8.self)
    }

    public func write(to out: inout [UInt8]) {
        switch self {
        case .null: out.append(contentsOf: Array("null".utf8))
        case .bool(let b): out.append(contentsOf: Array((b ? "true" : "false").utf8))
        case .number(let n): out.append(contentsOf: Array(n.utf8))
        case .string(let s): JSONWriter.appendString(s, to: &out)
        case .array(let items):
            out.append(UInt8(ascii: "["))
            for (i, item) in items.enumerated() {
                if i > 0 { out.append(UInt8(ascii: ",")) }
                item.write(to: &out)
            }
            out.append(UInt8(ascii: "]"))
        case .object(let members):
            out.append(UInt8(ascii: "{"))
            for (i, (key, value)) in members.enumerated() {
                if i > 0 { out.append(UInt8(ascii: ",")) }
                JSONWriter.appendString(key, to: &out)
                out.append(UInt8(ascii: ":"))
                value.write(to: &out)
            }
            out.append(UInt8(ascii: "}"))
        }
    }
}

extension JSONScanner {
    /// An object's members or an array's items, from its `opening` bracket to its `closing` one:
    /// `element` reads each (and what is between them is checked here).
    @inline(__always)
    private mutating func forEachElement(
        opening: UInt8, closing: UInt8, depth: Int, _ element: (inout JSONScanner) throws(Failure) -> Void
    ) throws(Failure) {
        guard depth < JSONScanner.maximumDepth else { throw .tooDeep(at: offset) }
        try expect(opening)
        skipWhitespace()
        if peek() == closing {
            try expect(closing)
            return
        }
        while true {
            try element(&self)
            skipWhitespace()
            guard let d = peek() else { throw .syntax(at: offset) }
            try expect(d)
            if d == UInt8(ascii: ",") { continue }
            if d == closing { return }
            throw .syntax(at: offset - 1)
        }
    }

    /// Parses one value into a tree (validating as `skipValue` does).
    mutating func parseValue(depth: Int) throws(Failure) -> JSONValue {
        skipWhitespace()
        guard let c = peek() else { throw .syntax(at: offset) }
        switch c {
        case UInt8(ascii: "{"):
            var members: [(String, JSONValue)] = []
            try forEachElement(opening: c, closing: UInt8(ascii: "}"), depth: depth) { scanner throws(Failure) in
                scanner.skipWhitespace()
                let key = try scanner.scanString()
                try scanner.expect(UInt8(ascii: ":"))
                members.append((scanner.decodeString(key), try scanner.parseValue(depth: depth + 1)))
            }
            return .object(members)
        case UInt8(ascii: "["):
            var items: [JSONValue] = []
            try forEachElement(opening: c, closing: UInt8(ascii: "]"), depth: depth) { scanner throws(Failure) in
                items.append(try scanner.parseValue(depth: depth + 1))
            }
            return .array(items)
        case UInt8(ascii: "\""):
            return .string(decodeString(try scanString()))
        case UInt8(ascii: "t"), UInt8(ascii: "f"), UInt8(ascii: "n"):
            let range = try skipValue(depth: depth)
            switch range.count {
            case 4 where c == UInt8(ascii: "t"): return .bool(true)
            case 5: return .bool(false)
            default: return .null
            }
        default:
            let range = try skipValue(depth: depth)
            return .number(text(range))
        }
    }
}
