@testable import AuthFilter
import Foundation
import Testing

/// `auth` with JWTs over real sockets: keys made by the openssl CLI, tokens signed with libcrypto, curl
/// as the client, the real echo backend showing what reached it.
@Suite("auth jwt", .serialized)
struct AuthJWTTests {
    static let issuer = "https://issuer.test"

    static func config(jwksFile: String, extra: String = "") -> String {
        "access_log: { metadata: [auth.method, auth.subject, auth.error] }\n" + simpleConfig(routeExtra: """
            filters:
              - auth:
                  realm: api
                  jwt:
                    jwks_file: \(jwksFile)
                    issuer: \(issuer)
                    audience: [orders, billing]
                    claims_to_headers: { sub: x-user, scope: x-scope }
            \(extra)
            """)
    }

    static func claims(sub: String = "alice", exp: Double? = nil, nbf: Double? = nil, iss: String = issuer, aud: String = "\"orders\"") -> String {
        let now = Date().timeIntervalSince1970
        var text = #"{"sub":"\#(sub)","iss":"\#(iss)","aud":\#(aud),"scope":"read write","exp":\#(Int(exp ?? now + 300))"#
        if let nbf { text += #","nbf":\#(Int(nbf))"# }
        return text + "}"
    }

    /// The column of keys under `jwt:` in `config`'s YAML.
    static let jwtIndent = String(repeating: " ", count: 16)

    static func bearer(_ token: String) -> [String] { ["-H", "Authorization: Bearer \(token)"] }

    static func withKeys(_ body: (AuthTestKeys, String) async throws -> Void) async throws {
        let keys = try AuthTestKeys()
        let jwks = try keys.write("jwks.json", AuthTestKeys.jwks([keys.rsaJWK(kid: "rsa1"), keys.ecJWK(kid: "ec1"), keys.octJWK(kid: "hs1")]))
        try await body(keys, jwks)
    }

    @Test("valid RS256, ES256 and HS256 tokens pass; claims reach the upstream as headers, spoofed copies do not")
    func validTokens() async throws {
        try await Self.withKeys { keys, jwks in
            try await withGateway(Self.config(jwksFile: jwks)) { gw in
                let tokens = [
                    AuthTestKeys.token(header: #"{"alg":"RS256","kid":"rsa1","typ":"JWT"}"#, claims: Self.claims(sub: "rs"), signer: .rs256(keys.rsa)),
                    AuthTestKeys.token(header: #"{"alg":"ES256","kid":"ec1"}"#, claims: Self.claims(sub: "es", aud: #"["billing","x"]"#), signer: .es256(keys.ec)),
                    AuthTestKeys.token(header: #"{"alg":"HS256","kid":"hs1"}"#, claims: Self.claims(sub: "hs"), signer: .hs256(keys.hmacSecret)),
                ]
                for (token, subject) in zip(tokens, ["rs", "es", "hs"]) {
                    let result = try curl(Self.bearer(token) + ["-H", "X-User: mallory", "\(gw.baseURL)/\(subject)"])
                    #expect(result.status == 200, "\(subject): \(result.body)")
                    let headers = try #require(result.json["headers"] as? [String: Any])
                    #expect(headers["x-user"] as? String == subject)
                    #expect(headers["x-scope"] as? String == "read write")
                    #expect(headers["authorization"] as? String == "Bearer \(token)", "forward_token defaults to true")
                    let line = try await gw.accessLogLine(path: "/\(subject)")
                    let metadata = try #require(line["metadata"] as? [String: Any])
                    #expect(metadata["auth.subject"] as? String == subject)
                    #expect(metadata["auth.method"] as? String == "jwt")
                }
                #expect(gw.echoes[0].stats.requests == 3)
            }
        }
    }

    @Test("expired, not-yet-valid, wrong iss/aud, bad signature, alg none, alg confusion and unknown kid get 401 invalid_token")
    func rejections() async throws {
        try await Self.withKeys { keys, jwks in
            try await withGateway(Self.config(jwksFile: jwks)) { gw in
                let now = Date().timeIntervalSince1970
                let rs = #"{"alg":"RS256","kid":"rsa1"}"#
                let good = AuthTestKeys.token(header: rs, claims: Self.claims(), signer: .rs256(keys.rsa))
                var badSignature = good
                badSignature.removeLast(4)
                badSignature += badSignature.hasSuffix("AAAA") ? "BBBB" : "AAAA"
                let cases: [(String, String, String)] = [
                    ("expired", AuthTestKeys.token(header: rs, claims: Self.claims(exp: now - 120), signer: .rs256(keys.rsa)), "token expired"),
                    ("future", AuthTestKeys.token(header: rs, claims: Self.claims(nbf: now + 300), signer: .rs256(keys.rsa)), "token not yet valid"),
                    ("issuer", AuthTestKeys.token(header: rs, claims: Self.claims(iss: "https://evil.test"), signer: .rs256(keys.rsa)), "wrong issuer"),
                    ("audience", AuthTestKeys.token(header: rs, claims: Self.claims(aud: "\"other\""), signer: .rs256(keys.rsa)), "wrong audience"),
                    ("signature", badSignature, "bad signature"),
                    ("none", AuthTestKeys.token(header: #"{"alg":"none"}"#, claims: Self.claims(), signer: .none), "algorithm not allowed"),
                    // The classic confusion: HS256 "signed" with the RSA public key's PEM as the secret.
                    ("confusion", AuthTestKeys.token(header: #"{"alg":"HS256","kid":"rsa1"}"#, claims: Self.claims(),
                                                     signer: .hs256(AuthTestKeys.publicPEM(keys.rsa))), "no key for algorithm"),
                    ("kid", AuthTestKeys.token(header: #"{"alg":"RS256","kid":"nope"}"#, claims: Self.claims(), signer: .rs256(keys.rsa)), "unknown key id"),
                    ("garbage", "not-a-token", "malformed token"),
                ]
                for (name, token, reason) in cases {
                    let result = try curl(Self.bearer(token) + ["\(gw.baseURL)/\(name)"])
                    #expect(result.status == 401, "\(name)")
                    #expect(result.header("www-authenticate") == "Bearer realm=\"api\", error=\"invalid_token\", error_description=\"\(reason)\"", "\(name)")
                    let line = try await gw.accessLogLine(path: "/\(name)")
                    #expect(line["local_reply_filter"] as? String == "auth")
                    #expect((line["metadata"] as? [String: Any])?["auth.error"] as? String == "jwt: \(reason)", "\(name)")
                }
                // Within the 60 s default skew: a token that expired 30 s ago, or starts in 30 s, passes.
                let edge = AuthTestKeys.token(header: rs, claims: Self.claims(exp: now - 30, nbf: now + 30), signer: .rs256(keys.rsa))
                #expect(try curl(Self.bearer(edge) + ["\(gw.baseURL)/edge"]).status == 200)
                #expect(gw.echoes[0].stats.requests == 1)
                let missing = try curl(["\(gw.baseURL)/missing"])
                #expect(missing.status == 401)
                #expect(missing.header("www-authenticate") == "Bearer realm=\"api\"")
            }
        }
    }

    @Test("a presented token never appears in the access log, valid or not")
    func tokenNotLogged() async throws {
        try await Self.withKeys { keys, jwks in
            try await withGateway(Self.config(jwksFile: jwks)) { gw in
                let good = AuthTestKeys.token(header: #"{"alg":"RS256","kid":"rsa1"}"#, claims: Self.claims(), signer: .rs256(keys.rsa))
                let expired = AuthTestKeys.token(header: #"{"alg":"RS256","kid":"rsa1"}"#,
                                                 claims: Self.claims(exp: Date().timeIntervalSince1970 - 600), signer: .rs256(keys.rsa))
                #expect(try curl(Self.bearer(good) + ["\(gw.baseURL)/a"]).status == 200)
                #expect(try curl(Self.bearer(expired) + ["\(gw.baseURL)/b"]).status == 401)
                _ = try await gw.accessLog(atLeast: 2)
                let log = try String(contentsOfFile: gw.accessLogPath, encoding: .utf8)
                #expect(log.contains("jwt: token expired"))
                for token in [good, expired] {
                    for part in token.split(separator: ".") { #expect(!log.contains(part), "token part logged") }
                }
            }
        }
    }

    @Test("a token sent in the query string is logged as REDACTED, valid or not")
    func queryTokenNotLogged() async throws {
        try await Self.withKeys { keys, jwks in
            let yaml = "access_log: { metadata: [auth.method] }\n" + simpleConfig(routeExtra: """
                filters:
                  - auth: { realm: api, jwt: { jwks_file: \(jwks), issuer: \(Self.issuer), audience: [orders], query: access_token } }
                """)
            try await withGateway(yaml) { gw in
                let good = AuthTestKeys.token(header: #"{"alg":"RS256","kid":"rsa1"}"#, claims: Self.claims(), signer: .rs256(keys.rsa))
                #expect(try curl(["\(gw.baseURL)/q?x=1&access_token=\(good)"]).status == 200)
                #expect(try curl(["\(gw.baseURL)/r?access_token=not.a.token"]).status == 401)
                _ = try await gw.accessLog(atLeast: 2)
                let log = try String(contentsOfFile: gw.accessLogPath, encoding: .utf8)
                for part in good.split(separator: ".").map(String.init) + ["not.a.token"] { #expect(!log.contains(part), "token part logged") }
                #expect(log.contains("/q?x=1&access_token=REDACTED") && log.contains("/r?access_token=REDACTED"), "\(log)")
            }
        }
    }

    @Test("forward_token: false strips the Authorization header; a cookie or query token is accepted when configured")
    func tokenSources() async throws {
        try await Self.withKeys { keys, jwks in
            let yaml = Self.config(jwksFile: jwks).replacingOccurrences(
                of: "claims_to_headers: { sub: x-user, scope: x-scope }",
                with: "claims_to_headers: { sub: x-user }\n" + Self.jwtIndent + "forward_token: false\n" + Self.jwtIndent + "cookie: session\n"
                    + Self.jwtIndent + "query: access_token")
            try await withGateway(yaml) { gw in
                let token = AuthTestKeys.token(header: #"{"alg":"ES256","kid":"ec1"}"#, claims: Self.claims(), signer: .es256(keys.ec))
                let header = try curl(Self.bearer(token) + ["\(gw.baseURL)/h"])
                #expect(header.status == 200)
                #expect((header.json["headers"] as? [String: Any])?["authorization"] == nil)
                let cookie = try curl(["-H", "Cookie: theme=dark; session=\(token)", "\(gw.baseURL)/c"])
                #expect(cookie.status == 200)
                let query = try curl(["\(gw.baseURL)/q?x=1&access_token=\(token)"])
                #expect(query.status == 200)
                #expect(query.json["path"] as? String == "/q?x=1", "the token is stripped from the forwarded query")
            }
        }
    }
}
