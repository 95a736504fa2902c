import BrigJSONRPC
public import BrigProfile
import BrigSystem
import Crypto
import _CryptoExtras

#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#endif

/// A public key that can verify one JWS algorithm.
enum VerificationKey: Sendable {
    case rsa(_RSA.Signing.PublicKey)
    case p256(P256.Signing.PublicKey)
    case ed25519(Curve25519.Signing.PublicKey)

    var algorithm: String {
        switch self {
        case .rsa: return "RS256"
        case .p256: return "ES256"
        case .ed25519: return "EdDSA"
        }
    }

    func verify(signature: [UInt8], input: [UInt8]) -> Bool {
        switch self {
        case .rsa(let key):
            return key.isValidSignature(
                _RSA.Signing.RSASignature(rawRepresentation: signature), for: input,
                padding: .insecurePKCS1v1_5)
        case .p256(let key):
            guard signature.count == 64, let sig = try? P256.Signing.ECDSASignature(rawRepresentation: signature) else {
                return false
            }
            return key.isValidSignature(sig, for: input)
        case .ed25519(let key):
            return key.isValidSignature(signature, for: input)
        }
    }
}

/// The keys a token may be signed with, each with its `kid` (nil for a PEM file).
struct KeySet: Sendable {
    var keys: [(kid: String?, key: VerificationKey)]

    /// Reads `public_key` (PEM: EC P-256, Ed25519 or RSA SubjectPublicKeyInfo, or PKCS#1 RSA)
    /// or `jwks` (a JSON Web Key Set with RSA, EC P-256 and OKP Ed25519 keys).
    static func load(_ settings: MCPJWTSettings, profileDirectory: String?) throws(PolicyError) -> KeySet {
        func resolve(_ p: String) -> String {
            if p.hasPrefix("/") { return p }
            return (profileDirectory ?? ".") + "/" + p
        }
        if let pem = settings.publicKey {
            let path = resolve(pem)
            let text = try readFile(path, what: "mcp.auth.jwt.public_key")
            guard let key = pemKey(text) else {
                throw PolicyError("mcp.auth.jwt.public_key: \(path) holds no RSA, EC P-256 or Ed25519 public key in PEM form")
            }
            return KeySet(keys: [(nil, key)])
        }
        let path = resolve(settings.jwks ?? "")
        let text = try readFile(path, what: "mcp.auth.jwt.jwks")
        guard let json = try? JSONValue.parse(text), let list = json["keys"]?.arrayValue else {
            throw PolicyError("mcp.auth.jwt.jwks: \(path) is not a JSON Web Key Set ({\"keys\": [...]})")
        }
        var keys: [(kid: String?, key: VerificationKey)] = []
        for jwk in list {
            if let key = jwkKey(jwk) { keys.append((jwk["kid"]?.stringValue, key)) }
        }
        guard !keys.isEmpty else {
            throw PolicyError("mcp.auth.jwt.jwks: \(path) holds no usable RSA, EC P-256 or Ed25519 key")
        }
        return KeySet(keys: keys)
    }

    static func pemKey(_ text: String) -> VerificationKey? {
        if let k = try? P256.Signing.PublicKey(pemRepresentation: text) { return .p256(k) }
        if let der = pemBody(text), der.count == 44, der.prefix(12).elementsEqual(ed25519SPKIPrefix),
            let k = try? Curve25519.Signing.PublicKey(rawRepresentation: Array(der.suffix(32)))
        {
            return .ed25519(k)
        }
        if let k = try? _RSA.Signing.PublicKey(pemRepresentation: text) { return .rsa(k) }
        return nil
    }

    /// SubjectPublicKeyInfo for Ed25519 (RFC 8410): SEQUENCE { SEQUENCE { OID 1.3.101.112 }, BIT STRING }.
    static let ed25519SPKIPrefix: [UInt8] = [0x30, 0x2a, 0x30, 0x05, 0x06, 0x03, 0x2b, 0x65, 0x70, 0x03, 0x21, 0x00]

    static func pemBody(_ text: String) -> [UInt8]? {
        var body = ""
        var inside = false
        for line in text.split(whereSeparator: { $0 == "\n" || $0 == "\r" }) {
            if line.hasPrefix("-----BEGIN") { inside = true; continue }
            if line.hasPrefix("-----END") { break }
            if inside { body += line.filter { !$0.isWhitespace } }
        }
        return Base64.decode(body, url: false)
    }

    static func jwkKey(_ jwk: JSONValue) -> VerificationKey? {
        func field(_ name: String) -> [UInt8]? { jwk[name]?.stringValue.flatMap { Base64.decode($0, url: true) } }
        switch jwk["kty"]?.stringValue {
        case "RSA":
            guard let n = field("n"), let e = field("e"), let k = try? _RSA.Signing.PublicKey(n: n, e: e) else { return nil }
            return .rsa(k)
        case "EC":
            guard jwk["crv"]?.stringValue == "P-256", let x = field("x"), let y = field("y"), x.count == 32, y.count == 32,
                let k = try? P256.Signing.PublicKey(rawRepresentation: x + y)
            else { return nil }
            return .p256(k)
        case "OKP":
            guard jwk["crv"]?.stringValue == "Ed25519", let x = field("x"),
                let k = try? Curve25519.Signing.PublicKey(rawRepresentation: x)
            else { return nil }
            return .ed25519(k)
        default:
            return nil
        }
    }

    static func readFile(_ path: String, what: String) throws(PolicyError) -> String {
        let bytes: [UInt8]
        do {
            bytes = try FileSystem.contents(of: path, limit: 1 << 20)
        } catch {
            if error.code == EFBIG { throw PolicyError("\(what): \(path) is larger than 1 MiB") }
            throw PolicyError("\(what): cannot read \(path): \(SystemError.text(error.code))")
        }
        guard let text = String(validating: bytes, as: UTF8.self) else { throw PolicyError("\(what): \(path) is not UTF-8 text") }
        return text
    }
}

/// A token whose signature, issuer and audience were checked once; only its times are checked again.
struct VerifiedToken: Sendable {
    var scopes: [String]
    var subject: String?
    var expires: Double
    var notBefore: Double?

    /// Seconds of clock skew tolerated on `exp` and `nbf`.
    static let leeway: Double = 60

    /// nil when valid at `now`, else why not.
    func timeProblem(at now: Double) -> String? {
        if now >= expires + VerifiedToken.leeway { return "the token expired at \(Int(expires)) (unix time)" }
        if let nbf = notBefore, now < nbf - VerifiedToken.leeway { return "the token is not valid before \(Int(nbf)) (unix time)" }
        return nil
    }
}

enum JWT {
    /// Checks a compact JWS: algorithm (RS256, ES256, EdDSA; the key decides, never the header
    /// alone), signature, `iss`, `aud`, then `exp` (required) and `nbf` at `now`.
    static func verify(_ token: String, settings: MCPJWTSettings, keys: KeySet, now: Double) throws(PolicyError) -> VerifiedToken {
        let parts = token.split(separator: ".", omittingEmptySubsequences: false)
        guard parts.count == 3 else { throw PolicyError("token: not a JWT (expected three dot-separated parts)") }
        guard let headerBytes = Base64.decode(String(parts[0]), url: true),
            let header = try? JSONValue.parse(String(decoding: headerBytes, as: UTF8.self)),
            let payloadBytes = Base64.decode(String(parts[1]), url: true),
            let claims = try? JSONValue.parse(String(decoding: payloadBytes, as: UTF8.self)),
            case .object = claims,
            let signature = Base64.decode(String(parts[2]), url: true)
        else {
            throw PolicyError("token: malformed JWT (bad base64url or JSON)")
        }
        guard let alg = header["alg"]?.stringValue, ["RS256", "ES256", "EdDSA"].contains(alg) else {
            throw PolicyError("token: unsupported algorithm \(header["alg"]?.jsonText ?? "(none)") (accepted: RS256, ES256, EdDSA)")
        }
        let kid = header["kid"]?.stringValue
        var candidates = keys.keys.filter { $0.key.algorithm == alg }
        if let kid, keys.keys.contains(where: { $0.kid != nil }) {
            candidates = candidates.filter { $0.kid == kid }
            guard !candidates.isEmpty else { throw PolicyError("token: no \(alg) key with kid \"\(kid)\"") }
        }
        guard !candidates.isEmpty else { throw PolicyError("token: signed with \(alg), but no configured key is for \(alg)") }
        let input = Array(token.utf8.prefix(parts[0].utf8.count + 1 + parts[1].utf8.count))
        guard candidates.contains(where: { $0.key.verify(signature: signature, input: input) }) else {
            throw PolicyError("token: bad signature")
        }
        guard claims["iss"]?.stringValue == settings.issuer else {
            throw PolicyError("token: issuer \(claims["iss"]?.jsonText ?? "(none)") is not \"\(settings.issuer)\"")
        }
        let audiences: [String]
        switch claims["aud"] {
        case .string(let a): audiences = [a]
        case .array(let a): audiences = a.compactMap(\.stringValue)
        default: audiences = []
        }
        guard audiences.contains(settings.audience) else {
            throw PolicyError("token: audience \(claims["aud"]?.jsonText ?? "(none)") does not include \"\(settings.audience)\"")
        }
        guard let exp = claims["exp"]?.doubleValue else { throw PolicyError("token: no exp claim (tokens must expire)") }
        var scopes: [String] = []
        switch claims[settings.scopesClaim] {
        case .string(let s): scopes = s.split(separator: " ").map(String.init)
        case .array(let a): scopes = a.compactMap(\.stringValue)
        default: break
        }
        let verified = VerifiedToken(
            scopes: scopes, subject: claims["sub"]?.stringValue, expires: exp,
            notBefore: claims["nbf"]?.doubleValue)
        if let problem = verified.timeProblem(at: now) { throw PolicyError("token: " + problem.dropFirst("the token ".count)) }
        return verified
    }
}

/// The checks of `mcp.auth.jwt` without a policy engine: the key set is loaded once, then any
/// token text is verified against it. Public so the fuzz targets (Tests/fuzz) can drive the
/// token parser directly.
public struct BearerTokenVerifier: Sendable {
    let settings: MCPJWTSettings
    let keys: KeySet

    /// Loads the key set that `settings` names (relative paths against `profileDirectory`).
    public init(settings: MCPJWTSettings, profileDirectory: String?) throws(PolicyError) {
        self.settings = settings
        self.keys = try KeySet.load(settings, profileDirectory: profileDirectory)
    }

    /// The token's scopes when it verifies at `now` (unix seconds), else why not.
    public func scopes(of token: String, now: Double) -> Result<[String], PolicyError> {
        do throws(PolicyError) {
            return .success(try JWT.verify(token, settings: settings, keys: keys, now: now).scopes)
        } catch {
            return .failure(error)
        }
    }
}

enum Base64 {
    /// Standard or URL-safe alphabet; padding optional; nil on any other character.
    static func decode(_ text: String, url: Bool) -> [UInt8]? {
        var out: [UInt8] = []
        out.reserveCapacity(text.utf8.count * 3 / 4)
        var acc: UInt32 = 0, bits = 0
        for c in text.utf8 {
            let v: UInt8
            switch c {
            case UInt8(ascii: "A")...UInt8(ascii: "Z"): v = c - UInt8(ascii: "A")
            case UInt8(ascii: "a")...UInt8(ascii: "z"): v = c - UInt8(ascii: "a") + 26
            case UInt8(ascii: "0")...UInt8(ascii: "9"): v = c - UInt8(ascii: "0") + 52
            case UInt8(ascii: "+") where !url, UInt8(ascii: "-") where url: v = 62
            case UInt8(ascii: "/") where !url, UInt8(ascii: "_") where url: v = 63
            case UInt8(ascii: "="): continue
            default: return nil
            }
            acc = acc << 6 | UInt32(v)
            bits += 6
            if bits >= 8 {
                bits -= 8
                out.append(UInt8(truncatingIfNeeded: acc >> UInt32(bits)))
            }
        }
        return out
    }
}

/// Wall-clock seconds since 1970.
func wallClock() -> Double {
    var ts = timespec()
    clock_gettime(CLOCK_REALTIME, &ts)
    return Double(ts.tv_sec) + Double(ts.tv_nsec) / 1e9
}
