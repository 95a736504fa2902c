import BrigJSONRPC
import BrigProfile
import Foundation
import Testing

@testable import BrigAudit

/// A fresh temporary directory; remove it with `cleanup`.
func makeTempDir() throws -> String {
    let dir = FileManager.default.temporaryDirectory.appendingPathComponent("brig-audit-tests-\(UUID().uuidString)").path
    try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
    return dir
}

func cleanup(_ dir: String) { try? FileManager.default.removeItem(atPath: dir) }

let testKey: [UInt8] = (0..<32).map { UInt8($0 * 7 & 0xFF) }

/// Writes the test key and returns its path.
func writeKey(in dir: String) throws -> String {
    let path = dir + "/audit.key"
    try Data(testKey).write(to: URL(fileURLWithPath: path))
    return path
}

func options(
    _ dir: String, name: String = "t", settings: AuditSettings = AuditSettings(),
    secrets: [String: String] = [:]
) throws -> AuditOptions {
    let key = try writeKey(in: dir)
    return AuditOptions(
        path: dir + "/\(name).jsonl", keyFile: key, settings: settings, secretValues: secrets,
        sessionName: name, environment: ["HOME": dir])
}

func request(
    _ id: Int, method: String = "tools/call", tool: String? = "echo", args: String = "{\"text\":\"hi\"}",
    allowed: Bool = true
) -> MessageEvent {
    let raw = Array("{\"jsonrpc\":\"2.0\",\"id\":\(id),\"method\":\"\(method)\",\"params\":{\"name\":\"\(tool ?? "")\",\"arguments\":\(args)}}".utf8)
    return MessageEvent(
        direction: .hostToServer, kind: "request", method: method, id: String(id), tool: tool,
        size: raw.count,
        decision: AuditDecision(
            allowed: allowed, rule: allowed ? "default" : "mcp.tools.deny[0]",
            reason: allowed ? "" : "tool is denied", category: "tool"),
        subject: "alice", scopes: ["tools:read"], raw: raw)
}

/// One complete session: start, `messages` requests and responses, a syscall, an event, exit, end.
func writeSession(_ opts: AuditOptions, messages: Int = 3) throws -> AuditLog {
    let log = try AuditLog.open(opts)
    log.sessionStart(
        SessionInfo(
            brigVersion: "0.1.0", command: ["python3", "-m", "server", "--token", "ghp_abcdefghijklmnopqrstuvwxyz0123456789"],
            executable: "/bin/sh", profileName: "default", profileSource: "builtin:default",
            profileText: "version: 1\n", sandbox: ["seccomp: deny-list"], kernelFeatures: ["seccomp", "landlock-abi-7"],
            serverPID: 4242))
    for i in 0..<messages {
        log.message(request(i, allowed: i % 3 != 2))
        let raw = Array("{\"jsonrpc\":\"2.0\",\"id\":\(i),\"result\":{\"content\":[{\"type\":\"text\",\"text\":\"ok \(i)\"}]}}".utf8)
        log.message(
            MessageEvent(
                direction: .serverToHost, kind: "response", id: String(i), size: raw.count,
                durationMicros: 1234, raw: raw))
    }
    log.blockedSyscall(pid: 4242, name: "ptrace", args: [16, 1, 0, 0, 0, UInt64.max])
    log.event(action: .rateLimited, outcome: .failure, detail: [("method", .string("tools/call")), ("limit", .number("10"))])
    log.childExit(ExitInfo(pid: 4242, code: 0, signal: nil, userCPUMicros: 10, systemCPUMicros: 20, maxRSSKiB: 3000, wallMicros: 5000))
    log.close()
    return log
}

func lines(_ path: String) throws -> [String] {
    let text = try String(contentsOfFile: path, encoding: .utf8)
    return text.split(separator: "\n", omittingEmptySubsequences: true).map(String.init)
}

func writeLines(_ lines: [String], to path: String) throws {
    try (lines.joined(separator: "\n") + "\n").write(toFile: path, atomically: false, encoding: .utf8)
}

func records(_ path: String) throws -> [JSONValue] {
    try lines(path).map { try JSONValue.parse($0) }
}

func repoRoot(_ file: String = #filePath) -> URL {
    URL(fileURLWithPath: file).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
}

// MARK: A validator for the subset of JSON Schema that docs/audit.schema.json uses

struct SchemaValidator {
    let root: JSONValue

    init() throws {
        let text = try String(contentsOf: repoRoot().appendingPathComponent("docs/audit.schema.json"), encoding: .utf8)
        root = try JSONValue.parse(text)
    }

    /// The problems found (empty = valid).
    func validate(_ value: JSONValue) -> [String] {
        var errors: [String] = []
        check(value, root, "$", &errors)
        return errors
    }

    private func resolve(_ schema: JSONValue) -> JSONValue {
        guard let ref = schema["$ref"]?.stringValue, ref.hasPrefix("#/") else { return schema }
        var v: JSONValue? = root
        for part in ref.dropFirst(2).split(separator: "/") { v = v?[String(part)] }
        return v ?? schema
    }

    private func typeMatches(_ value: JSONValue, _ type: String) -> Bool {
        switch (type, value) {
        case ("object", .object), ("array", .array), ("string", .string), ("boolean", .bool), ("null", .null): return true
        case ("number", .number): return true
        case ("integer", .number(let n)): return !n.contains(".") && !n.contains("e") && !n.contains("E")
        default: return false
        }
    }

    private func check(_ value: JSONValue, _ schemaIn: JSONValue, _ at: String, _ errors: inout [String]) {
        let schema = resolve(schemaIn)
        for key in schema.objectValue?.map(\.0) ?? [] {
            let known = [
                "$schema", "$id", "$ref", "$defs", "title", "description", "type", "required", "properties",
                "additionalProperties", "items", "enum", "const", "pattern", "minimum", "minItems", "maxItems", "minLength",
            ]
            if !known.contains(key) { errors.append("\(at): the test validator does not know keyword \(key)") }
        }
        if let t = schema["type"] {
            let types = t.arrayValue?.compactMap(\.stringValue) ?? [t.stringValue ?? ""]
            if !types.contains(where: { typeMatches(value, $0) }) {
                errors.append("\(at): expected \(types.joined(separator: "|")), got \(value.typeName)")
                return
            }
        }
        if let e = schema["enum"]?.arrayValue, !e.contains(value) { errors.append("\(at): \(value.jsonText) not in enum") }
        if let c = schema["const"], c != value { errors.append("\(at): expected \(c.jsonText)") }
        if let p = schema["pattern"]?.stringValue, let s = value.stringValue,
            s.range(of: p, options: .regularExpression) == nil
        {
            errors.append("\(at): \"\(s)\" does not match \(p)")
        }
        if let m = schema["minimum"]?.doubleValue, let d = value.doubleValue, d < m { errors.append("\(at): below \(m)") }
        if let m = schema["minLength"]?.doubleValue, let s = value.stringValue, Double(s.count) < m { errors.append("\(at): too short") }
        if case .array(let items) = value {
            if let m = schema["minItems"]?.doubleValue, Double(items.count) < m { errors.append("\(at): fewer than \(m) items") }
            if let m = schema["maxItems"]?.doubleValue, Double(items.count) > m { errors.append("\(at): more than \(m) items") }
            if let s = schema["items"] { for (i, item) in items.enumerated() { check(item, s, "\(at)[\(i)]", &errors) } }
        }
        if case .object(let members) = value {
            for r in schema["required"]?.arrayValue?.compactMap(\.stringValue) ?? [] where value[r] == nil {
                errors.append("\(at): missing \(r)")
            }
            let props = schema["properties"]
            for (k, v) in members {
                if let ps = props?[k] {
                    check(v, ps, "\(at).\(k)", &errors)
                } else if let ap = schema["additionalProperties"] {
                    if ap == .bool(false) { errors.append("\(at): unexpected member \(k)") } else if case .object = ap { check(v, ap, "\(at).\(k)", &errors) }
                }
            }
        }
    }
}
