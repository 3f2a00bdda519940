@testable import AuthFilter
import COpenSSL
import Testing

@Suite("JWT verifier")
struct JWTVerifierTests {
    static let secret = [UInt8](repeating: 7, count: 32)
    static let keys = JWKSet(keys: [JWK(kid: "h1", type: .oct, algorithm: nil, material: .secret(secret))])
    static let rules = JWTVerifier.Rules(algorithms: [.hs256], issuers: ["https://issuer"], audiences: ["api"],
                                         clockSkew: 60, requireExpiry: true)

    static func token(header: String = #"{"alg":"HS256","kid":"h1"}"#, payload: String, secret: [UInt8] = secret) -> String {
        let input = Base64URL.encode(Array(header.utf8)) + "." + Base64URL.encode(Array(payload.utf8))
        var mac = [UInt8](repeating: 0, count: 32)
        var length: UInt32 = 0
        _ = HMAC(EVP_sha256(), secret, Int32(secret.count), Array(input.utf8), input.utf8.count, &mac, &length)
        return input + "." + Base64URL.encode(mac)
    }

    static func reason(_ token: String, now: Double = 1000, rules: JWTVerifier.Rules = rules) -> String {
        switch JWTVerifier(rules: rules).verify(Substring(token), keys: keys, now: now) {
        case .verified: "ok"
        case .unknownKey(let kid): "unknown \(kid)"
        case .rejected(let reason): reason
        }
    }

    @Test("exp, nbf and the clock skew are honoured at the edges")
    func times() {
        let claims = #""iss":"https://issuer","aud":"api""#
        #expect(Self.reason(Self.token(payload: "{\(claims),\"exp\":1000}")) == "ok", "inside the skew")
        #expect(Self.reason(Self.token(payload: "{\(claims),\"exp\":940}")) == "token expired")
        #expect(Self.reason(Self.token(payload: "{\(claims),\"exp\":2000,\"nbf\":1060}")) == "ok")
        #expect(Self.reason(Self.token(payload: "{\(claims),\"exp\":2000,\"nbf\":1061}")) == "token not yet valid")
        #expect(Self.reason(Self.token(payload: "{\(claims)}")) == "token has no exp")
        #expect(Self.reason(Self.token(payload: "{\(claims),\"exp\":\"2000\"}")) == "malformed exp")
    }

    @Test("issuer and audience (string or array) must match the configured ones")
    func issuerAudience() {
        #expect(Self.reason(Self.token(payload: #"{"iss":"https://other","aud":"api","exp":2000}"#)) == "wrong issuer")
        #expect(Self.reason(Self.token(payload: #"{"iss":"https://issuer","aud":"web","exp":2000}"#)) == "wrong audience")
        #expect(Self.reason(Self.token(payload: #"{"iss":"https://issuer","aud":["web","api"],"exp":2000}"#)) == "ok")
        #expect(Self.reason(Self.token(payload: #"{"iss":"https://issuer","exp":2000}"#)) == "wrong audience")
    }

    @Test("alg none, unlisted algorithms, bad signatures, unknown kids and junk are refused")
    func refusals() {
        let payload = #"{"iss":"https://issuer","aud":"api","exp":2000}"#
        let none = Base64URL.encode(Array(#"{"alg":"none"}"#.utf8)) + "." + Base64URL.encode(Array(payload.utf8)) + "."
        #expect(Self.reason(none) == "algorithm not allowed")
        #expect(Self.reason(none + "c2ln") == "algorithm not allowed")
        #expect(Self.reason(Self.token(header: #"{"alg":"RS256","kid":"h1"}"#, payload: payload)) == "algorithm not allowed")
        #expect(Self.reason(Self.token(payload: payload, secret: [UInt8](repeating: 8, count: 32))) == "bad signature")
        #expect(Self.reason(Self.token(header: #"{"alg":"HS256","kid":"zz"}"#, payload: payload)) == "unknown zz")
        #expect(Self.reason(Self.token(header: #"{"alg":"HS256","crit":["b64"]}"#, payload: payload)) == "unsupported critical header")
        #expect(Self.reason("a.b") == "malformed token")
        #expect(Self.reason("a.b.c.d") == "malformed token")
        #expect(Self.reason(String(repeating: "a", count: 20_000)) == "token too large")
        var tampered = Self.token(payload: payload)
        tampered.replaceSubrange(tampered.index(tampered.startIndex, offsetBy: 40)...tampered.index(tampered.startIndex, offsetBy: 40),
                                 with: tampered[tampered.index(tampered.startIndex, offsetBy: 40)] == "A" ? "B" : "A")
        #expect(Self.reason(tampered) != "ok")
    }
}
