@testable import AuthFilter
import Foundation
import Testing

/// `auth` with API keys, HTTP basic and several methods on one route, over real sockets.
@Suite("auth api key and basic", .serialized)
struct AuthCredentialTests {
    /// `htpasswd -nbB -C 4 alice 'correct horse'` and `htpasswd -nbs bob b0b-secret`.
    static let htpasswd = """
        alice:$2y$04$ikNMhLmAON0POZO9lQwIC.r9i0a3Hk2XSsR3Q2Ype9GqKEmVZmuCO
        bob:{SHA}lW2ZjsFP+nY11L3OFMUH/UdgUQQ=
        """
    static let apiKeys = "# consumers\nk-0123456789abcdef mobile-app\nk-fedcba9876543210 partner\n"

    static func withFiles(_ body: (AuthTestKeys) async throws -> Void) async throws {
        let keys = try AuthTestKeys()
        _ = try keys.write("users.htpasswd", htpasswd)
        _ = try keys.write("keys.txt", apiKeys)
        try await body(keys)
    }

    static func config(_ filter: String) -> String {
        "access_log: { metadata: [auth.method, auth.subject, auth.error] }\n" + simpleConfig(routeExtra: "filters:\n" + filter)
    }

    @Test("API keys from a header or the query pass with their consumer named; unknown keys get 401; the key is stripped")
    func apiKeys() async throws {
        try await Self.withFiles { files in
            let filter = """
                  - auth:
                      api_key: { header: x-api-key, query: api_key, keys_file: \(files.directory)/keys.txt, consumer_header: x-consumer }
                """
            try await withGateway(Self.config(filter)) { gw in
                let header = try curl(["-H", "X-API-Key: k-0123456789abcdef", "-H", "X-Consumer: spoofed", "\(gw.baseURL)/h"])
                #expect(header.status == 200)
                let headers = try #require(header.json["headers"] as? [String: Any])
                #expect(headers["x-consumer"] as? String == "mobile-app")
                #expect(headers["x-api-key"] == nil)
                let query = try curl(["\(gw.baseURL)/q?api_key=k-fedcba9876543210&page=2"])
                #expect(query.status == 200)
                #expect(query.json["path"] as? String == "/q?page=2")
                let wrong = try curl(["-H", "X-API-Key: k-0123456789abcdeX", "\(gw.baseURL)/w"])
                #expect(wrong.status == 401)
                #expect(wrong.header("www-authenticate") == "ApiKey realm=\"portcullis\"")
                #expect(try curl(["\(gw.baseURL)/none"]).status == 401)
                let line = try await gw.accessLogLine(path: "/w")
                #expect((line["metadata"] as? [String: Any])?["auth.error"] as? String == "api_key: unknown API key")
                let ok = try await gw.accessLogLine(path: "/h")
                #expect((ok["metadata"] as? [String: Any])?["auth.subject"] as? String == "mobile-app")
                #expect(gw.echoes[0].stats.requests == 2)
                let log = try String(contentsOfFile: gw.accessLogPath, encoding: .utf8)
                #expect(!log.contains("k-0123456789abcde"))
            }
        }
    }

    @Test("basic auth: bcrypt and {SHA} entries pass, wrong passwords and users get 401 with a Basic challenge")
    func basic() async throws {
        try await Self.withFiles { files in
            let filter = """
                  - auth:
                      realm: staff
                      basic: { htpasswd_file: \(files.directory)/users.htpasswd, user_header: x-user }
                """
            try await withGateway(Self.config(filter)) { gw in
                for round in 0..<2 {   // the second round of alice is answered from the verified-credentials cache
                    let alice = try curl(["-u", "alice:correct horse", "\(gw.baseURL)/alice\(round)"])
                    #expect(alice.status == 200)
                    let headers = try #require(alice.json["headers"] as? [String: Any])
                    #expect(headers["x-user"] as? String == "alice")
                    #expect(headers["authorization"] == nil, "credentials are stripped by default")
                }
                #expect(try curl(["-u", "bob:b0b-secret", "\(gw.baseURL)/bob"]).status == 200)
                for (credentials, path) in [("alice:wrong", "/w1"), ("bob:wrong", "/w2"), ("nobody:correct horse", "/w3")] {
                    let result = try curl(["-u", credentials, "\(gw.baseURL)\(path)"])
                    #expect(result.status == 401, "\(credentials)")
                    #expect(result.header("www-authenticate") == "Basic realm=\"staff\", charset=\"UTF-8\"")
                    let line = try await gw.accessLogLine(path: path)
                    #expect((line["metadata"] as? [String: Any])?["auth.error"] as? String == "basic: wrong user name or password")
                    // A suspended check that fails must not leave its optimistic subject in the log.
                    #expect((line["metadata"] as? [String: Any])?["auth.subject"] is NSNull)
                }
                #expect(gw.echoes[0].stats.requests == 3)
                let log = try String(contentsOfFile: gw.accessLogPath, encoding: .utf8)
                #expect(!log.contains("correct horse") && !log.contains("b0b-secret"))
            }
        }
    }

    @Test("several methods on a route: any one passing is enough, and a 401 challenges for each")
    func severalMethods() async throws {
        try await Self.withFiles { files in
            let jwks = try files.write("jwks.json", AuthTestKeys.jwks([files.rsaJWK(kid: "rsa1")]))
            let filter = """
                  - auth:
                      jwt: { jwks_file: \(jwks), claims_to_headers: { sub: x-user } }
                      api_key: { keys_file: \(files.directory)/keys.txt }
                      basic: { htpasswd_file: \(files.directory)/users.htpasswd }
                """
            try await withGateway(Self.config(filter)) { gw in
                let exp = Int(Date().timeIntervalSince1970) + 300
                let token = AuthTestKeys.token(header: #"{"alg":"RS256","kid":"rsa1"}"#, claims: #"{"sub":"t","exp":\#(exp)}"#, signer: .rs256(files.rsa))
                #expect(try curl(["-H", "Authorization: Bearer \(token)", "\(gw.baseURL)/jwt"]).status == 200)
                #expect(try curl(["-H", "X-API-Key: k-0123456789abcdef", "\(gw.baseURL)/key"]).status == 200)
                #expect(try curl(["-u", "bob:b0b-secret", "\(gw.baseURL)/basic"]).status == 200)
                // A bad token does not spoil a good API key.
                #expect(try curl(["-H", "Authorization: Bearer x.y.z", "-H", "X-API-Key: k-0123456789abcdef", "\(gw.baseURL)/mixed"]).status == 200)
                let none = try curl(["\(gw.baseURL)/none"])
                #expect(none.status == 401)
                #expect(none.headerValues("www-authenticate") == ["Bearer realm=\"portcullis\"", "ApiKey realm=\"portcullis\"",
                                                                  "Basic realm=\"portcullis\", charset=\"UTF-8\""])
                let bad = try curl(["-H", "Authorization: Bearer x.y.z", "-H", "X-API-Key: k-nope-nope-nope-nope", "\(gw.baseURL)/bad"])
                #expect(bad.status == 401)
                let line = try await gw.accessLogLine(path: "/bad")
                #expect((line["metadata"] as? [String: Any])?["auth.error"] as? String == "jwt: malformed token header; api_key: unknown API key")
            }
        }
    }

    @Test("bad auth config fails at load with file, line and key")
    func configErrors() throws {
        let keys = try AuthTestKeys()
        let badJWKS = try keys.write("bad.json", #"{"keys":[{"kty":"RSA","n":"AQAB"}]}"#)
        let badUsers = try keys.write("md5.htpasswd", "carol:$apr1$abc$def\n")
        let path = try keys.write("portcullis.yaml", """
            listeners:
              - name: public
                address: 127.0.0.1:8080
                routes:
                  - match: { path_prefix: /a/ }
                    cluster: api
                    filters:
                      - auth: { jwt: { jwks_file: \(keys.directory)/missing.json } }
                  - match: { path_prefix: /b/ }
                    cluster: api
                    filters:
                      - auth: { jwt: { jwks_file: \(badJWKS), algorithms: [RS256, none, PS999] } }
                  - match: { path_prefix: /c/ }
                    cluster: api
                    filters:
                      - auth: { basic: { htpasswd_file: \(badUsers) }, api_key: { keys_file: \(keys.directory)/none.txt } }
                  - match: { path_prefix: /d/ }
                    cluster: api
                    filters:
                      - auth: {}
            clusters:
              - name: api
                endpoints: [ { address: 127.0.0.1:9001 } ]
            """)
        let output = try run(ConfigCommandTests.binary, ["check", "--config", path])
        let expected: [(Int, String)] = [
            (8, "listeners[0].routes[0].filters[0].auth.jwt.jwks_file: \(keys.directory)/missing.json: cannot read"),
            (12, "listeners[0].routes[1].filters[0].auth.jwt.algorithms[1]: 'none' is never allowed"),
            (12, "listeners[0].routes[1].filters[0].auth.jwt.algorithms[2]: unknown algorithm 'PS999'"),
            (12, "listeners[0].routes[1].filters[0].auth.jwt.jwks_file: \(badJWKS): keys[0]: missing 'e'"),
            (16, "listeners[0].routes[2].filters[0].auth.basic.htpasswd_file: \(badUsers):1: unsupported hash for 'carol'"),
            (16, "listeners[0].routes[2].filters[0].auth.api_key.keys_file: cannot read '\(keys.directory)/none.txt'"),
            (20, "listeners[0].routes[3].filters[0].auth: configure at least one of jwt, api_key, basic"),
        ]
        expectCheckErrors(output, path: path, expected)
    }
}
