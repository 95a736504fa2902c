import BrigJSONRPC
import BrigSystem
import Testing

@testable import BrigSecrets

@Suite("Redaction of values and members")
struct RedactorTests {
    static let patterns: [(String, String, String)] = [
        ("key AKIAIOSFODNN7EXAMPLE here", "key [REDACTED:aws-access-key] here", "AWS access key"),
        ("ASIAY34FZKBOKMUTVV7A", "[REDACTED:aws-access-key]", "AWS session key"),
        (
            "aws_secret_access_key=wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY",
            "aws_secret_access_key=[REDACTED:aws-secret-key]", "AWS secret after aws_secret"
        ),
        (
            "AWS_SECRET_ACCESS_KEY: \"wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY\"",
            "AWS_SECRET_ACCESS_KEY: \"[REDACTED:aws-secret-key]\"", "AWS secret, YAML style"
        ),
        ("token ghp_16C7e42F292c6912E7710c838347Ae178B4a!", "token [REDACTED:github-token]!", "GitHub ghp_"),
        ("gho_16C7e42F292c6912E7710c838347Ae178B4a", "[REDACTED:github-token]", "GitHub gho_"),
        (
            "x ghu_16C7e42F292c6912E7710c838347Ae178B4a ghs_16C7e42F292c6912E7710c838347Ae178B4a ghr_16C7e42F292c6912E7710c838347Ae178B4a",
            "x [REDACTED:github-token] [REDACTED:github-token] [REDACTED:github-token]", "GitHub ghu_/ghs_/ghr_"
        ),
        ("github_pat_11ABCDEFG0123456789_abcdefghijklmnopqrstuv", "[REDACTED:github-token]", "GitHub fine-grained"),
        ("slack xoxb-123456789012-1234567890123-abcdefghijklmnop", "slack [REDACTED:slack-token]", "Slack xoxb"),
        ("xoxp-1234567890-abc", "[REDACTED:slack-token]", "Slack xoxp"),
        (
            "jwt=eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxMjM0NTY3ODkwIn0.dozjgNryP4J3jVmNHl0w5N_XgL0n3I9PlFUP0THsR8U;",
            "jwt=[REDACTED:jwt];", "JWT"
        ),
        ("Authorization: Bearer abc.def-123_456~xyz", "Authorization: Bearer [REDACTED:bearer-token]", "Bearer"),
        ("bearer   0123456789abcdef", "bearer   [REDACTED:bearer-token]", "bearer, lower case"),
        (
            "-----BEGIN RSA PRIVATE KEY-----\nMIIEow\nIBAAK\n-----END RSA PRIVATE KEY-----\nafter",
            "[REDACTED:private-key]\nafter", "PEM private key"
        ),
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
        let v = try JSONValue.parse(
            """
            {"password":"p","Passwd":"p","github_token":"t","x-api-key":"k","apikey":1,"Access_Key":"a",
             "Authorization":"Basic x","cookie":"c","sessionId":"s","private_key":"k","client_secret":"c",
             "credentials":{"user":"u"},"my_pin":"1234","max_tokens":100,"secret_flag":true,"token":null,
             "name":"keep","nested":[{"password":"deep"}]}
            """)
        let out = r.redact(v)
        for k in [
            "password", "Passwd", "github_token", "x-api-key", "apikey", "Access_Key", "Authorization", "cookie",
            "sessionId", "private_key", "client_secret", "credentials", "my_pin", "max_tokens",
        ] {
            #expect(out[k] == .string("[REDACTED:key:\(k)]"), "\(k)")
        }
        #expect(out["secret_flag"] == .bool(true))
        #expect(out["token"] == .null)
        #expect(out["name"] == .string("keep"))
        #expect(out["nested"]?.arrayValue?.first?["password"] == .string("[REDACTED:key:password]"))
    }
}

/// The pattern table is the one source of both encodings: the pre-check must say yes wherever
/// the redactor finds something, and the table's derived lookups must cover every prefix.
@Suite("Secret patterns: one table, two encodings")
struct SecretPatternTests {
    func prefixFound(_ text: String) -> Bool {
        Array(text.utf8).withUnsafeBufferPointer { SecretScan.hasSecretPrefix($0) }
    }

    @Test("Every redacted example is flagged by the pre-check, in its own text and inside other text")
    func preCheckCoversRedaction() {
        for (input, expected, label) in RedactorTests.patterns {
            #expect(Redactor().redact(input) == expected, "\(label)")
            #expect(prefixFound(input), "\(label)")
            #expect(prefixFound("{\"text\":\"…" + input + "…\"}"), "\(label)")
        }
    }

    @Test("Each prefix of the table, in either case where it folds, is found, and its anchor is in it")
    func everyPrefix() {
        for p in SecretPattern.all {
            for prefix in p.prefixes {
                let text = String(decoding: prefix, as: UTF8.self)
                #expect(prefixFound("x " + text + " y"), "\(p.kind): \(text)")
                if p.foldsCase { #expect(prefixFound("x " + text.uppercased() + " y"), "\(p.kind): \(text.uppercased())") }
                #expect(SecretPattern.byFirstByte[Int(prefix[0])].contains { SecretPattern.all[$0].kind == p.kind })
            }
        }
        for a in SecretPattern.anchors {
            #expect(a.offset < a.prefix.count && (a.prefix[a.offset] == a.byte || a.prefix[a.offset] == a.byte | 0x20))
        }
    }

    @Test("Text without any prefix: the pre-check says no and the redactor changes nothing")
    func cleanText() {
        for text in RedactorTests.clean + ["snake_case_name get_current_time", "a-b-c --flag", "Apple Banana", "JSON eyes"] {
            let redacted = Redactor().redact(text)
            if !prefixFound(text) { #expect(redacted == text, "\(text)") }
        }
        #expect(!prefixFound("snake_case_name get_current_time"))
        #expect(!prefixFound("plain words, no anchors"))
    }

    @Test("Random text: wherever the redactor changes something, the pre-check said yes")
    func randomAgreement() {
        var rng = XorShift(seed: 0x5EC2E7)
        let pieces = [
            "ghp_", "github_pat_", "AKIA", "ASIA", "AIza", "xoxb-", "sk-", "eyJ", ".", "-----BEGIN ", "PRIVATE KEY-----",
            "-----END ", "Bearer ", "bEaReR\t", "aws_secret", "AWS_SECRET_key = ", "_", "-", "a", "Z", "0", "9", " ", "=", "/",
        ]
        for _ in 0..<3000 {
            var text = ""
            for _ in 0..<Int(rng.next() % 24) {
                let piece = pieces[Int(rng.next() % UInt64(pieces.count))]
                text += rng.next() % 3 == 0 ? String(repeating: piece, count: Int(rng.next() % 30)) : piece
            }
            if Redactor().redact(text) != text { #expect(prefixFound(text), "\(text)") }
        }
    }
}

/// xorshift64*: deterministic, so a failure repeats.
struct XorShift {
    var state: UInt64
    init(seed: UInt64) { state = seed | 1 }
    mutating func next() -> UInt64 {
        state ^= state >> 12
        state ^= state << 25
        state ^= state >> 27
        return state &* 0x2545_F491_4F6C_DD1D
    }
}
