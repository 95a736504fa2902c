import BrigJSONRPC
import BrigProfile
import Crypto
import Foundation
import Testing
import _CryptoExtras

@testable import BrigPolicy

/// Keys made in the test, and tokens signed with them.
enum Signer {
    case es256(P256.Signing.PrivateKey)
    case eddsa(Curve25519.Signing.PrivateKey)
    case rs256(_RSA.Signing.PrivateKey)

    var alg: String {
        switch self {
        case .es256: return "ES256"
        case .eddsa: return "EdDSA"
        case .rs256: return "RS256"
        }
    }

    var publicPEM: String {
        switch self {
        case .es256(let k): return k.publicKey.pemRepresentation
        case .rs256(let k): return k.publicKey.pemRepresentation
        case .eddsa(let k):
            let der = Data(KeySet.ed25519SPKIPrefix) + k.publicKey.rawRepresentation
            return "-----BEGIN PUBLIC KEY-----\n\(der.base64EncodedString())\n-----END PUBLIC KEY-----\n"
        }
    }

    func jwk(kid: String) throws -> String {
        switch self {
        case .es256(let k):
            let raw = k.publicKey.rawRepresentation
            return #"{"kty": "EC", "crv": "P-256", "kid": "\#(kid)", "x": "\#(b64(raw.prefix(32)))", "y": "\#(b64(raw.suffix(32)))"}"#
        case .eddsa(let k):
            return #"{"kty": "OKP", "crv": "Ed25519", "kid": "\#(kid)", "x": "\#(b64(k.publicKey.rawRepresentation))"}"#
        case .rs256(let k):
            let p = try k.publicKey.getKeyPrimitives()
            return #"{"kty": "RSA", "kid": "\#(kid)", "n": "\#(b64(p.modulus))", "e": "\#(b64(p.publicExponent))"}"#
        }
    }

    func token(_ claims: String, kid: String? = nil, alg: String? = nil) throws -> String {
        let header =
            kid.map { #"{"alg": "\#(alg ?? self.alg)", "typ": "JWT", "kid": "\#($0)"}"# }
            ?? #"{"alg": "\#(alg ?? self.alg)", "typ": "JWT"}"#
        let input = b64(Data(header.utf8)) + "." + b64(Data(claims.utf8))
        let data = Data(input.utf8)
        let sig: Data
        switch self {
        case .es256(let k): sig = try k.signature(for: data).rawRepresentation
        case .eddsa(let k): sig = try k.signature(for: data)
        case .rs256(let k): sig = try k.signature(for: data, padding: .insecurePKCS1v1_5).rawRepresentation
        }
        return input + "." + b64(sig)
    }
}

func b64<D: DataProtocol>(_ d: D) -> String {
    Data(d).base64EncodedString().replacingOccurrences(of: "+", with: "-")
        .replacingOccurrences(of: "/", with: "_").replacingOccurrences(of: "=", with: "")
}

@Suite("JWT auth")
struct JWTTests {
    static let now: Double = 1_800_000_000
    static let rsa: _RSA.Signing.PrivateKey? = try? _RSA.Signing.PrivateKey(keySize: .bits2048)

    static let rulesYAML = """
          tools:
            rules:
              - {name: "write_*", scopes: ["fs:write"]}
              - {name: "read_*", scopes: ["fs:read"]}
        """

    func claims(
        iss: String = "https://id.example", aud: String = "\"brig\"", exp: Double = now + 3600,
        nbf: Double? = nil, scope: String = "\"fs:read tools:x\""
    ) -> String {
        var c = #"{"iss": "\#(iss)", "aud": \#(aud), "sub": "alice", "exp": \#(Int(exp)), "scope": \#(scope)"#
        if let nbf { c += #", "nbf": \#(Int(nbf))"# }
        return c + "}"
    }

    /// A profile in `dir` whose key file is `keys/issuer.pem` (relative to the profile).
    func setUp(_ signer: Signer, jwks: Bool = false) throws -> (dir: String, policy: MCPPolicy) {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("brig-jwt-\(UUID().uuidString)").path
        try FileManager.default.createDirectory(atPath: dir + "/keys", withIntermediateDirectories: true)
        let keyLine: String
        if jwks {
            let other = Signer.es256(P256.Signing.PrivateKey())
            try #"{"keys": [\#(try other.jwk(kid: "old")), \#(try signer.jwk(kid: "k1"))]}"#
                .write(toFile: dir + "/keys/jwks.json", atomically: true, encoding: .utf8)
            keyLine = "jwks: keys/jwks.json"
        } else {
            try signer.publicPEM.write(toFile: dir + "/keys/issuer.pem", atomically: true, encoding: .utf8)
            keyLine = "public_key: keys/issuer.pem"
        }
        let yaml = """
            version: 1
            mcp:
              auth:
                token_env: BRIG_TOKEN
                jwt: {\(keyLine), issuer: "https://id.example", audience: brig, scopes_claim: scope}
            \(JWTTests.rulesYAML)
            """
        try yaml.write(toFile: dir + "/p.yaml", atomically: true, encoding: .utf8)
        let profile = try ProfileLoader.load(dir + "/p.yaml", context: policyContext)
        return (dir, profile.mcp)
    }

    func start(_ policy: MCPPolicy, token: String, clock: TestClock = TestClock(now)) throws(PolicyError) -> PolicyEngine {
        try PolicyEngine(policy: policy, context: PolicyContext(environment: ["BRIG_TOKEN": token]), clock: { clock.now })
    }

    static var signers: [String] { ["ES256", "EdDSA", "RS256"] }

    func signer(_ name: String) throws -> Signer {
        switch name {
        case "ES256": return .es256(P256.Signing.PrivateKey())
        case "EdDSA": return .eddsa(Curve25519.Signing.PrivateKey())
        default: return .rs256(try #require(JWTTests.rsa))
        }
    }

    @Test(arguments: signers, [false, true])
    func validTokenGrantsItsScopes(_ alg: String, _ jwks: Bool) throws {
        let s = try signer(alg)
        let (dir, policy) = try setUp(s, jwks: jwks)
        defer { try? FileManager.default.removeItem(atPath: dir) }
        #expect(policy.auth?.jwt.publicKey == (jwks ? nil : dir + "/keys/issuer.pem"))
        let e = try start(policy, token: try s.token(claims(), kid: jwks ? "k1" : nil))
        let read = e.call("read_file")
        #expect(read.allowed && read.scopes == ["fs:read", "tools:x"])
        let write = e.call("write_file")
        #expect(!write.allowed && write.category == .scope)
    }

    @Test(arguments: signers)
    func badSignatureIsRefusedAtStart(_ alg: String) throws {
        let s = try signer(alg)
        let (dir, policy) = try setUp(s)
        defer { try? FileManager.default.removeItem(atPath: dir) }
        // Signed by another key of the same kind.
        let other: Signer
        switch s {
        case .es256: other = .es256(P256.Signing.PrivateKey())
        case .eddsa: other = .eddsa(Curve25519.Signing.PrivateKey())
        case .rs256: other = .rs256(try _RSA.Signing.PrivateKey(keySize: .bits2048))
        }
        #expect(throws: PolicyError("mcp.auth: $BRIG_TOKEN: bad signature")) { try start(policy, token: try other.token(claims())) }
        // A payload changed after signing.
        let good = try s.token(claims())
        let parts = good.split(separator: ".")
        let forged = parts[0] + "." + b64(Data(claims(scope: "\"fs:read fs:write\"").utf8)) + "." + parts[2]
        #expect(throws: PolicyError("mcp.auth: $BRIG_TOKEN: bad signature")) { try start(policy, token: String(forged)) }
    }

    @Test func claimChecksAtStart() throws {
        let s = Signer.es256(P256.Signing.PrivateKey())
        let (dir, policy) = try setUp(s)
        defer { try? FileManager.default.removeItem(atPath: dir) }
        func startError(_ token: String) -> String {
            do {
                _ = try start(policy, token: token)
                return "started"
            } catch {
                return error.description
            }
        }
        let now = JWTTests.now
        #expect(startError(try s.token(claims(exp: now - 120))) == "mcp.auth: $BRIG_TOKEN: expired at \(Int(now) - 120) (unix time)")
        #expect(startError(try s.token(claims(exp: now - 30))) == "started")  // within the 60 s leeway
        #expect(startError(try s.token(claims(nbf: now + 600))).hasPrefix("mcp.auth: $BRIG_TOKEN: is not valid before"))
        #expect(startError(try s.token(claims(nbf: now + 30))) == "started")
        #expect(startError(try s.token(claims(iss: "https://evil.example"))) == "mcp.auth: $BRIG_TOKEN: issuer \"https://evil.example\" is not \"https://id.example\"")
        #expect(startError(try s.token(claims(aud: "\"other\""))) == "mcp.auth: $BRIG_TOKEN: audience \"other\" does not include \"brig\"")
        #expect(startError(try s.token(claims(aud: "[\"other\", \"brig\"]"))) == "started")
        #expect(startError(try s.token(#"{"iss": "https://id.example", "aud": "brig"}"#)) == "mcp.auth: $BRIG_TOKEN: no exp claim (tokens must expire)")
        #expect(startError(try s.token(claims(), alg: "RS256")).hasPrefix("mcp.auth: $BRIG_TOKEN: signed with RS256, but no configured key"))
        #expect(startError(try s.token(claims(), alg: "none")).hasPrefix("mcp.auth: $BRIG_TOKEN: unsupported algorithm \"none\""))
        #expect(startError("a.b") == "mcp.auth: $BRIG_TOKEN: not a JWT (expected three dot-separated parts)")
        #expect(startError(try s.token(claims(scope: "[\"fs:read\", \"fs:write\"]"))) == "started")
        do {
            _ = try PolicyEngine(policy: policy, context: PolicyContext())
            Issue.record("expected an error")
        } catch {
            #expect(error.description == "mcp.auth: $BRIG_TOKEN is not set (it must hold the caller's JWT)")
        }
    }

    @Test func jwksKeyIsChosenByKid() throws {
        let s = Signer.es256(P256.Signing.PrivateKey())
        let (dir, policy) = try setUp(s, jwks: true)
        defer { try? FileManager.default.removeItem(atPath: dir) }
        #expect(throws: PolicyError("mcp.auth: $BRIG_TOKEN: no ES256 key with kid \"nope\"")) {
            try start(policy, token: try s.token(claims(), kid: "nope"))
        }
        // The right key under the wrong kid: refused, the kid decides which key is tried.
        #expect(throws: PolicyError("mcp.auth: $BRIG_TOKEN: bad signature")) {
            try start(policy, token: try s.token(claims(), kid: "old"))
        }
        // No kid: every key for the algorithm is tried.
        #expect(try start(policy, token: try s.token(claims())).call("read_x").allowed)
    }

    @Test func unreadableKeyFile() throws {
        let s = Signer.es256(P256.Signing.PrivateKey())
        let (dir, policy) = try setUp(s)
        try FileManager.default.removeItem(atPath: dir)
        do {
            _ = try start(policy, token: try s.token(claims()))
            Issue.record("expected an error")
        } catch {
            #expect((error as? PolicyError)?.description == "mcp.auth.jwt.public_key: cannot read \(dir)/keys/issuer.pem: No such file or directory")
        }
    }

    @Test func tokenExpiringMidSessionStopsGranting() throws {
        let s = Signer.eddsa(Curve25519.Signing.PrivateKey())
        let (dir, policy) = try setUp(s)
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let clock = TestClock(JWTTests.now)
        let e = try start(policy, token: try s.token(claims(exp: JWTTests.now + 100)), clock: clock)
        #expect(e.call("read_file").allowed)
        #expect(e.toolVisible("read_file"))
        clock.advance(100 + 61)
        let d = e.call("read_file")
        #expect(!d.allowed && d.category == .auth && d.scopes == [])
        #expect(d.reason == "the token expired at \(Int(JWTTests.now) + 100) (unix time) (rule mcp.auth)")
        #expect(d.rule.hasSuffix("p.yaml:3 mcp.auth"))
        #expect(!e.toolVisible("read_file"))
        // Notifications and the server's messages are not the caller's requests.
        #expect(e.method("notifications/cancelled", "{}").allowed)
        #expect(e.method("notifications/progress", "{}", .serverToHost).allowed)
    }

    @Test func grantsFromContextSurviveExpiry() throws {
        let s = Signer.es256(P256.Signing.PrivateKey())
        let (dir, policy) = try setUp(s)
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let clock = TestClock(JWTTests.now)
        let e = try PolicyEngine(
            policy: policy,
            context: PolicyContext(
                scopes: ["fs:write"],
                environment: ["BRIG_TOKEN": try s.token(claims(exp: JWTTests.now + 10))]), clock: { clock.now })
        #expect(e.call("write_x").scopes == ["fs:read", "fs:write", "tools:x"])
        clock.advance(3600)
        #expect(e.toolVisible("write_x") && !e.toolVisible("read_x"))
    }

    @Test func base64() {
        #expect(Base64.decode("aGVsbG8", url: true) == Array("hello".utf8))
        #expect(Base64.decode("aGVsbG8=", url: false) == Array("hello".utf8))
        #expect(Base64.decode("-_8", url: true) == [0xfb, 0xff])
        #expect(Base64.decode("+/8", url: true) == nil)
    }
}
