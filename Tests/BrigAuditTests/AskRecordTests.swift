import BrigJSONRPC
import Foundation
import Testing

@testable import BrigAudit

@Suite("Audit: a call's question and answer (mcp.ask)")
struct AskRecordTests {
    static let line = Array(#"{"jsonrpc":"2.0","id":7,"method":"tools/call","params":{"name":"git_commit","arguments":{"message":"x"}}}"#.utf8)

    @Test("The relay's context with an ask goes through the arena and comes back whole")
    func arenaRoundTrip() throws {
        let ask = AuditAsk(
            question: "Allow the tool git_commit to run?", answer: "decline", via: "elicitation/create",
            timeoutMicros: 120_000_000, waitedMicros: 1_500)
        let context = MessageContext(
            subject: "git_commit",
            decision: AuditDecision(allowed: false, rule: "r", reason: "no", category: "ask"),
            scopes: ["a"], ask: ask)
        let arena = ByteBuffer(capacity: 1024)
        AskRecordTests.line.withUnsafeBufferPointer {
            MessageArena.append(line: $0, view: nil, lineStart: 0, direction: .hostToServer, context: context, time: 5, to: arena)
        }
        let read = MessageArena.read(arena.bytes, at: 0)
        #expect(read.context.ask == ask)
        #expect(read.context.decision?.category == "ask" && read.context.scopes == ["a"] && read.context.subject == "git_commit")
        #expect(Array(read.line) == AskRecordTests.line)

        let pending = AuditAsk(question: "q", answer: "pending", via: "input_required", timeoutMicros: 1_000)
        let arena2 = ByteBuffer(capacity: 1024)
        AskRecordTests.line.withUnsafeBufferPointer {
            MessageArena.append(
                line: $0, view: nil, lineStart: 0, direction: .hostToServer,
                context: MessageContext(ask: pending), time: 5, to: arena2)
        }
        #expect(MessageArena.read(arena2.bytes, at: 0).context.ask == pending)
    }

    @Test("The record carries mcp.ask, redacted, valid against docs/audit.schema.json")
    func recordCarriesTheQuestion() throws {
        let dir = try makeTempDir()
        defer { cleanup(dir) }
        let log = try AuditLog.open(try options(dir, secrets: ["GITHUB_TOKEN": "hunter2-secret-value"]))
        let ask = AuditAsk(
            question: "Allow?\n  token: hunter2-secret-value", answer: "timeout", via: "elicitation/create",
            timeoutMicros: 2_000_000, waitedMicros: 2_000_400)
        AskRecordTests.line.withUnsafeBufferPointer {
            _ = log.message(
                line: $0, direction: .hostToServer,
                context: MessageContext(
                    subject: "git_commit",
                    decision: AuditDecision(allowed: false, rule: "r", reason: "late", category: "ask"),
                    ask: ask))
        }
        log.close()
        let recs = try records(log.path)
        let call = try #require(recs.first { $0["mcp"] != nil })
        let recorded = try #require(call["mcp"]?["ask"])
        #expect(recorded["answer"] == .string("timeout"))
        #expect(recorded["via"] == .string("elicitation/create"))
        #expect(recorded["timeout_ms"] == .number("2000") && recorded["waited_ms"] == .number("2000"))
        #expect(recorded["question"] == .string("Allow?\n  token: [REDACTED:secret:GITHUB_TOKEN]"))
        let validator = try SchemaValidator()
        for r in recs { #expect(validator.validate(r) == [], "\(r.jsonText)") }
        // An answer the schema does not know is refused by it.
        let bad = call.jsonText.replacingOccurrences(of: "\"timeout\",\"via\"", with: "\"maybe\",\"via\"")
        #expect(!validator.validate(try JSONValue.parse(bad)).isEmpty)
    }
}
