import BrigJSONRPC
import BrigProfile
import Foundation
import Testing
@testable import BrigAudit

@Suite("Redaction")
struct RedactionTests {
    static let patterns: [(String, String, String)] = [
        ("key AKIAIOSFODNN7EXAMPLE here", "key [REDACTED:aws-access-key] here", "AWS access key"),
        ("ASIAY34FZKBOKMUTVV7A", "[REDACTED:aws-access-key]", "AWS session key"),
        ("aws_secret_access_key=wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY",
         "aws_secret_access_key=[REDACTED:aws-secret-key]", "AWS secret after aws_secret"),
        ("AWS_SECRET_ACCESS_KEY: \"wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY\"",
         "AWS_SECRET_ACCESS_KEY: \"[REDACTED:aws-secret-key]\"", "AWS secret, YAML style"),
        ("token ghp_16C7e42F292c6912E7710c838347Ae178B4a!", "token [REDACTED:github-token]!", "GitHub ghp_"),
        ("gho_16C7e42F292c6912E7710c838347Ae178B4a", "[REDACTED:github-token]", "GitHub gho_"),
        ("x ghu_16C7e42F292c6912E7710c838347Ae178B4a ghs_16C7e42F292c6912E7710c838347Ae178B4a ghr_16C7e42F292c6912E7710c838347Ae178B4a",
         "x [REDACTED:github-token] [REDACTED:github-token] [REDACTED:github-token]", "GitHub ghu_/ghs_/ghr_"),
        ("github_pat_11ABCDEFG0123456789_abcdefghijklmnopqrstuv", "[REDACTED:github-token]", "GitHub fine-grained"),
        ("slack xoxb-123456789012-1234567890123-abcdefghijklmnop", "slack [REDACTED:slack-token]", "Slack xoxb"),
        ("xoxp-1234567890-abc", "[REDACTED:slack-token]", "Slack xoxp"),
        ("jwt=eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxMjM0NTY3ODkwIn0.dozjgNryP4J3jVmNHl0w5N_XgL0n3I9PlFUP0THsR8U;",
         "jwt=[REDACTED:jwt];", "JWT"),
        ("Authorization: Bearer abc.def-123_456~xyz", "Authorization: Bearer [REDACTED:bearer-token]", "Bearer"),
        ("bearer   0123456789abcdef", "bearer   [REDACTED:bearer-token]", "bearer, lower case"),
        ("-----BEGIN RSA PRIVATE KEY-----\nMIIEow\nIBAAK\n-----END RSA PRIVATE KEY-----\nafter",
         "[REDACTED:private-key]\nafter", "PEM private key"),
        ("-----BEGIN OPENSSH PRIVATE KEY-----\nb3BlbnNzaC1rZXk", "[REDACTED:private-key]", "PEM private key, cut"),
        ("use sk-proj-abcdefghijklmnopqrstuvwx1234 now", "use [REDACTED:openai-key] now", "OpenAI sk-"),
        ("AIzaSyA-1234567890abcdefghijklmnopqrstu", "[REDACTED:google-api-key]", "Google API key"),
    ]

    @Test("Value patterns", arguments: patterns)
    func pattern(_ input: String, _ expected: String, _ label: String) {
        #expect(Redactor().redact(input) == expected, "\(label)")
    }

    static let clean = [
        "task-abcdefghijklmnopqrstuvwxyz012", "AKIA123", "a ghp_short", "eyJhbGciOi only one part",
        "Bearer short", "-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----", "desk-abcdefghijklmnopqrstuvwxyz",
        "hello world", "",
    ]

    @Test("Ordinary text is left alone", arguments: clean)
    func noFalsePositives(_ s: String) {
        #expect(Redactor().redact(s) == s)
    }

    @Test("Injected secrets by exact value, anywhere in a string, longest first")
    func injectedSecrets() {
        let r = Redactor(secretValues: ["GITHUB_TOKEN": "s3cr3t-value", "SHORT": "abc", "DB": "s3cr3t-value-long"])
        #expect(r.redact("x=s3cr3t-value;y=s3cr3t-value-long") == "x=[REDACTED:secret:GITHUB_TOKEN];y=[REDACTED:secret:DB]")
        #expect(r.redact("abc abc") == "abc abc")
    }

    @Test("Key names: built-in list, case-insensitive substrings, - as _, extra keys")
    func keyNames() throws {
        let r = Redactor(extraKeys: ["PIN"])
        let v = try JSONValue.parse("""
            {"password":"p","Passwd":"p","github_token":"t","x-api-key":"k","apikey":1,"Access_Key":"a",
             "Authorization":"Basic x","cookie":"c","sessionId":"s","private_key":"k","client_secret":"c",
             "credentials":{"user":"u"},"my_pin":"1234","max_tokens":100,"secret_flag":true,"token":null,
             "name":"keep","nested":[{"password":"deep"}]}
            """)
        let out = r.redact(v)
        for k in ["password", "Passwd", "github_token", "x-api-key", "apikey", "Access_Key", "Authorization", "cookie",
                  "sessionId", "private_key", "client_secret", "credentials", "my_pin", "max_tokens"] {
            #expect(out[k] == .string("[REDACTED:key:\(k)]"), "\(k)")
        }
        #expect(out["secret_flag"] == .bool(true))
        #expect(out["token"] == .null)
        #expect(out["name"] == .string("keep"))
        #expect(out["nested"]?.arrayValue?.first?["password"] == .string("[REDACTED:key:password]"))
    }

    @Test("In the log: payload, args, decision reason and event detail are redacted; the raw secret appears nowhere")
    func inTheLog() throws {
        let dir = try makeTempDir()
        defer { cleanup(dir) }
        var s = AuditSettings()
        s.redactKeys = ["otp"]
        let log = try AuditLog.open(try options(dir, settings: s, secrets: ["API_TOKEN": "tok-9f8e7d6c5b4a"]))
        log.sessionStart(SessionInfo(brigVersion: "0", command: ["srv", "--key=tok-9f8e7d6c5b4a"], profileName: "p"))
        log.message(request(1, args: "{\"q\":\"use tok-9f8e7d6c5b4a and AKIAIOSFODNN7EXAMPLE\",\"otp\":\"123456\",\"headers\":{\"X-Api-Key\":\"zzz\"}}"))
        log.event(action: "malformed-message", outcome: "failure", detail: [("line", .string("{bad tok-9f8e7d6c5b4a"))])
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
        let forms = [#"\u0041KIAIOSFODNN7EXAMPLE"#, #"tok\/9f8e7d6c5b4a"#, #"\u0074ok/9f8e7d6c5b4a"#,
                     #"g\u0068p_16C7e42F292c6912E7710c838347Ae178B4a"#]
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
