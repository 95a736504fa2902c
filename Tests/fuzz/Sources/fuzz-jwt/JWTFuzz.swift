import BrigPolicy
import BrigProfile

#if canImport(Glibc)
import Glibc
#endif

/// Public keys (P-256, Ed25519, RSA-2048) whose private halves signed the seed tokens in
/// Tests/fuzz/corpus/fuzz-jwt, so the fuzzer starts from tokens that verify.
let fuzzJWKS = #"""
    {"keys": [{"kty": "EC", "crv": "P-256", "kid": "ec1", "x": "Rxw-dYxJBChbun5TEY7Q9SSt6wdX0lvS-Oew1236cUw", "y": "3VIPesqKi5F6zDf1HejwybvjrYWDgucC3CWhLQn3qFg"}, {"kty": "OKP", "crv": "Ed25519", "kid": "ed1", "x": "A6EHv_POEL4dcN0Y50vAmWfk1jCbpQ1fHdyGZBJVMbg"}, {"kty": "RSA", "kid": "rsa1", "n": "1fF_aV__5O17ePCMKhyDCZcAAmJDGyDc7skTwp2UQ3QuC0XU9gwi5NQRgo6bz6athKkLeSs0EZ3vkJNr6zvalkShuIyxG7L9p2Deln4wBLNjqEDoABbNAp7qr1eDJVRbl021M5XVsgSfiuDjEYS-NKOjtQpvV2hQvCN-64q6fhomH2cvBvMx96m7N2baeAuEfJzXfgYQd6TspZPsL3Hv1SQ4-_1wZhiCXun1jkrRhI-vhyNIR-H7Tn0uhx2f-tJp93qv57xLHaVb-7e-abVqnsUAMeHig-MXB2Mmne8BW6DqVo3tsS9gkkNbNlvm5mpRuArj3rZhGXh9CB1pE44fvQ", "e": "AQAB"}]}
    """#

/// The time the seed tokens are valid at (their `exp` is an hour later).
let fuzzNow: Double = 1_800_000_000

/// The verifier over `fuzzJWKS`, written once to a private temporary file because key sets are
/// loaded from files, as a profile names them.
let fuzzVerifier: BearerTokenVerifier = {
    var template = Array("/tmp/brig-fuzz-jwks-XXXXXX".utf8CString)
    let fd = template.withUnsafeMutableBufferPointer { mkstemp($0.baseAddress!) }
    guard fd >= 0 else { fatalError("mkstemp: \(String(cString: strerror(errno)))") }
    let path = template.withUnsafeBufferPointer { String(cString: $0.baseAddress!) }
    let bytes = Array(fuzzJWKS.utf8)
    guard bytes.withUnsafeBytes({ write(fd, $0.baseAddress, $0.count) }) == bytes.count else { fatalError("write \(path)") }
    close(fd)
    defer { unlink(path) }
    let settings = MCPJWTSettings(jwks: path, issuer: "https://id.example", audience: "brig")
    do { return try BearerTokenVerifier(settings: settings, profileDirectory: nil) } catch {
        fatalError("the fuzz key set does not load: \(error)")
    }
}()

/// Arbitrary text as a bearer token (it comes from the environment of whoever starts brig, or
/// from a server-facing header in later transports). Never a crash; a token that verifies must
/// be a three-part compact JWS.
@_cdecl("LLVMFuzzerTestOneInput")
func fuzzOneInput(_ data: UnsafePointer<UInt8>, _ size: Int) -> CInt {
    let token = String(decoding: UnsafeBufferPointer(start: data, count: size), as: UTF8.self)
    if case .success = fuzzVerifier.scopes(of: token, now: fuzzNow),
        token.split(separator: ".", omittingEmptySubsequences: false).count != 3
    {
        fatalError("a token that is not three dot-separated parts verified")
    }
    return 0
}
