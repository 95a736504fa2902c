import BrigJSONRPC
import BrigSecrets
import Testing

@testable import BrigContent

/// One sample per value pattern of the audit Redactor.
let secretSamples: [(kind: String, text: String)] = [
    ("aws-access-key", "key id AKIAIOSFODNN7EXAMPLE here"),
    ("aws-access-key", "temporary ASIAIOSFODNN7EXAMPL2 here"),
    ("google-api-key", "AIzaSyA1234567890abcdefghijklmnopqrstuv"),
    ("github-token", "token ghp_16C7e42F292c6912E7710c838347Ae178B4a ok"),
    ("github-token", "github_pat_11ABCDEFG0123456789_abcdefghijklmnopqrstuvwxyz"),
    ("slack-token", "xoxb-123456789012-abcdefghij"),
    ("jwt", "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxMjM0In0.dBjftJeZ4CVPmB92K27uhbUJU1p1r_wW1gFWFOEjXk"),
    ("openai-key", "sk-proj-abcdefghijklmnopqrstuvwx"),
    ("private-key", "-----BEGIN OPENSSH PRIVATE KEY-----\nb3BlbnNzaC1rZXktdjEAAAAA\n-----END OPENSSH PRIVATE KEY-----"),
    ("bearer-token", "Authorization: Bearer abcdefgh12345678"),
    ("bearer-token", "authorization: bearer abcdefgh12345678"),
    ("aws-secret-key", "aws_secret_access_key = wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"),
    ("aws-secret-key", "AWS_SECRET_ACCESS_KEY=wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"),
]

@Suite("Leak scanner")
struct LeakScannerTests {
    @Test("each value pattern of the Redactor is found and redacted", arguments: secretSamples)
    func pattern(kind: String, text: String) {
        let (redacted, findings) = LeakScanner().scan(text, location: "content[0].text")
        #expect(findings == [LeakFinding(kind: kind, location: "content[0].text")])
        #expect(redacted.contains("[REDACTED:\(kind)]"))
    }

    @Test("injected secrets by exact value, longest first; short values ignored")
    func injected() {
        let scanner = LeakScanner(secretValues: ["DB_PASSWORD": "hunter2hunter2", "PIN": "123", "API": "hunter2"])
        let (text, findings) = scanner.scan("pw=hunter2hunter2 and hunter2, 123", location: "x")
        #expect(text == "pw=[REDACTED:secret:DB_PASSWORD] and [REDACTED:secret:API], 123")
        #expect(findings == [LeakFinding(kind: "secret:API", location: "x"), LeakFinding(kind: "secret:DB_PASSWORD", location: "x")])
    }

    @Test("a marker already in the text is not a finding; counts per kind")
    func existingMarker() {
        let (_, findings) = LeakScanner().scan("[REDACTED:jwt] AKIAIOSFODNN7EXAMPLE AKIAIOSFODNN7EXAMPLF", location: "t")
        #expect(findings == [LeakFinding(kind: "aws-access-key", location: "t", count: 2)])
        #expect(LeakScanner().scan("nothing here, sk-short", location: "t").findings.isEmpty)
    }

    @Test("JSON values: paths, base64 payloads left alone, member names not used")
    func values() throws {
        let v = try json(
            #"{"content":[{"type":"text","text":"ghp_16C7e42F292c6912E7710c838347Ae178B4a"},{"type":"image","mimeType":"image/png","data":"AKIAIOSFODNN7EXAMPLE"}],"structuredContent":{"token_count":5,"password":"not-a-pattern"}}"#
        )
        let (out, findings) = LeakScanner().scan(v)
        #expect(findings == [LeakFinding(kind: "github-token", location: "content[0].text")])
        #expect(out["content"]?.arrayValue?[0]["text"] == .string("[REDACTED:github-token]"))
        #expect(out["content"]?.arrayValue?[1]["data"] == .string("AKIAIOSFODNN7EXAMPLE"))
        #expect(out["structuredContent"] == v["structuredContent"])
    }
}
