import BrigJSONRPC
import BrigProfile
import Foundation
import Testing

@testable import BrigAudit

@Suite("Redaction")
struct RedactionTests {
    @Test("In the log: payload, args, decision reason and event detail are redacted; the raw secret appears nowhere")
    func inTheLog() throws {
        let dir = try makeTempDir()
        defer { cleanup(dir) }
        var s = AuditSettings()
        s.redactKeys = ["otp"]
        let log = try AuditLog.open(try options(dir, settings: s, secrets: ["API_TOKEN": "tok-9f8e7d6c5b4a"]))
        log.sessionStart(SessionInfo(brigVersion: "0", command: ["srv", "--key=tok-9f8e7d6c5b4a"], profileName: "p"))
        log.message(request(1, args: "{\"q\":\"use tok-9f8e7d6c5b4a and AKIAIOSFODNN7EXAMPLE\",\"otp\":\"123456\",\"headers\":{\"X-Api-Key\":\"zzz\"}}"))
        log.event(action: .malformedMessage, outcome: .failure, detail: [("line", .string("{bad tok-9f8e7d6c5b4a"))])
        log.close()
        let text = try String(contentsOfFile: log.path, encoding: .utf8)
        for secret in ["tok-9f8e7d6c5b4a", "AKIAIOSFODNN7EXAMPLE", "123456", "zzz"] { #expect(!text.contains(secret), "\(secret)") }
        let recs = try records(log.path)
        let args = recs[1]["mcp"]?["payload"]?["params"]?["arguments"]
        #expect(args?["q"] == .string("use [REDACTED:secret:API_TOKEN] and [REDACTED:aws-access-key]"))
        #expect(args?["otp"] == .string("[REDACTED:key:otp]"))
        #expect(args?["headers"]?["X-Api-Key"] == .string("[REDACTED:key:X-Api-Key]"))
        #expect(recs[0]["process"]?["args"]?.arrayValue?.last == .string("--key=[REDACTED:secret:API_TOKEN]"))
        #expect(AuditVerifier.verify(files: [log.path], key: testKey).isIntact)
    }

    @Test("In the log: secrets written with JSON escapes are redacted too (the record's reader decodes them)")
    func escapedInTheLog() throws {
        let dir = try makeTempDir()
        defer { cleanup(dir) }
        let log = try AuditLog.open(try options(dir, secrets: ["API_TOKEN": "tok/9f8e7d6c5b4a"]))
        let forms = [
            #"\u0041KIAIOSFODNN7EXAMPLE"#, #"tok\/9f8e7d6c5b4a"#, #"\u0074ok/9f8e7d6c5b4a"#,
            #"g\u0068p_16C7e42F292c6912E7710c838347Ae178B4a"#,
        ]
        for (i, form) in forms.enumerated() { log.message(request(i + 1, args: "{\"q\":\"use \(form) now\"}")) }
        log.close()
        func strings(_ v: JSONValue) -> [String] {
            switch v {
            case .string(let s): return [s]
            case .array(let items): return items.flatMap(strings)
            case .object(let members): return members.flatMap { [$0.0] + strings($0.1) }
            default: return []
            }
        }
        let recs = try records(log.path).filter { $0["event"]?["action"] == .string("message") }
        #expect(recs.count == forms.count)
        for rec in recs {
            let all = strings(rec).joined(separator: " ")
            for secret in ["AKIAIOSFODNN7EXAMPLE", "tok/9f8e7d6c5b4a", "ghp_16C7e42F292c6912E7710c838347Ae178B4a"] {
                #expect(!all.contains(secret), "\(all)")
            }
            #expect(rec["mcp"]?["payload"]?["params"]?["arguments"]?["q"]?.stringValue?.contains("[REDACTED:") == true)
        }
        #expect(AuditVerifier.verify(files: [log.path], key: testKey).isIntact)
    }
}
