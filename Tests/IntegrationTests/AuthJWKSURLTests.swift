@testable import AuthFilter
import Foundation
import NIOPosix
import Testing

/// `auth.jwt.jwks_url`: keys fetched from a real HTTP server in the test, refreshed in the background,
/// refetched for an unknown `kid`, and kept when a refresh fails.
@Suite("auth jwks url", .serialized)
struct AuthJWKSURLTests {
    static func config(url: String, refresh: String, minRefetch: String) -> String {
        simpleConfig(routeExtra: """
            filters:
              - auth: { jwt: { jwks_url: "\(url)", jwks_refresh: \(refresh), jwks_min_refetch: \(minRefetch) } }
            """)
    }

    static func token(_ keys: AuthTestKeys, kid: String, key: OpaquePointer) -> [String] {
        let exp = Int(Date().timeIntervalSince1970) + 300
        return ["-H", "Authorization: Bearer " + AuthTestKeys.token(header: #"{"alg":"RS256","kid":"\#(kid)"}"#, claims: #"{"sub":"u","exp":\#(exp)}"#,
                                                                   signer: .rs256(key))]
    }

    /// Polls `condition` every 20 ms until it holds or `seconds` pass.
    static func eventually(within seconds: Double = 10, _ condition: () -> Bool) async throws -> Bool {
        let deadline = Date().addingTimeInterval(seconds)
        while Date() < deadline {
            if condition() { return true }
            try await Task.sleep(for: .milliseconds(20))
        }
        return condition()
    }

    @Test("the first request waits for the first fetch; a new kid triggers one refetch that picks up the rotated key")
    func rotationByUnknownKid() async throws {
        let keys = try AuthTestKeys()
        let rotated = keys.rotated
        let group = MultiThreadedEventLoopGroup(numberOfThreads: 1)
        let server = try await JWKSTestServer.start(body: AuthTestKeys.jwks([keys.rsaJWK(kid: "k1")]), group: group)
        try await withGateway(Self.config(url: server.url, refresh: "1h", minRefetch: "0s")) { (gw: TestGateway) async throws in
            #expect(try curl(Self.token(keys, kid: "k1", key: keys.rsa) + ["\(gw.baseURL)/first"]).status == 200)
            #expect(server.requestCount == 1)
            // Unknown kid, not yet published: one refetch, still unknown, 401.
            let early = try curl(Self.token(keys, kid: "k2", key: rotated) + ["\(gw.baseURL)/early"])
            #expect(early.status == 401)
            #expect(early.header("www-authenticate")?.contains("unknown key id") == true)
            #expect(server.requestCount == 2)
            server.set(AuthTestKeys.jwks([keys.rsaJWK(kid: "k1"), keys.rsaJWK(kid: "k2", key: rotated)]))
            #expect(try curl(Self.token(keys, kid: "k2", key: rotated) + ["\(gw.baseURL)/rotated"]).status == 200)
            #expect(server.requestCount == 3)
            // Known kids cost no fetch.
            #expect(try curl(Self.token(keys, kid: "k1", key: keys.rsa) + ["\(gw.baseURL)/again"]).status == 200)
            #expect(server.requestCount == 3)
        }
        await server.stop()
        try await group.shutdownGracefully()
    }

    @Test("unknown kids refetch at most once per jwks_min_refetch")
    func refetchRateLimited() async throws {
        let keys = try AuthTestKeys()
        let group = MultiThreadedEventLoopGroup(numberOfThreads: 1)
        let server = try await JWKSTestServer.start(body: AuthTestKeys.jwks([keys.rsaJWK(kid: "k1")]), group: group)
        try await withGateway(Self.config(url: server.url, refresh: "1h", minRefetch: "1h")) { (gw: TestGateway) async throws in
            #expect(try curl(Self.token(keys, kid: "k1", key: keys.rsa) + ["\(gw.baseURL)/first"]).status == 200)
            for index in 0..<5 {
                #expect(try curl(Self.token(keys, kid: "bogus\(index)", key: keys.rsa) + ["\(gw.baseURL)/u\(index)"]).status == 401)
            }
            #expect(server.requestCount == 1, "the first fetch was under a second ago: no refetch")
        }
        await server.stop()
        try await group.shutdownGracefully()
    }

    @Test("the background refresh picks up a rotated key, and a failed refresh keeps the last good keys")
    func backgroundRefresh() async throws {
        let keys = try AuthTestKeys()
        let rotated = keys.rotated
        let group = MultiThreadedEventLoopGroup(numberOfThreads: 1)
        let server = try await JWKSTestServer.start(body: AuthTestKeys.jwks([keys.rsaJWK(kid: "k1")]), group: group)
        try await withGateway(Self.config(url: server.url, refresh: "200ms", minRefetch: "1h")) { (gw: TestGateway) async throws in
            #expect(try curl(Self.token(keys, kid: "k1", key: keys.rsa) + ["\(gw.baseURL)/first"]).status == 200)
            server.set(AuthTestKeys.jwks([keys.rsaJWK(kid: "k2", key: rotated)]))
            // +2: the first fetch that surely started after the change is the second one from now.
            let seen = server.requestCount
            let fetched1 = try await Self.eventually { server.requestCount >= seen + 2 }
            #expect(fetched1)
            #expect(try curl(Self.token(keys, kid: "k2", key: rotated) + ["\(gw.baseURL)/rotated"]).status == 200)
            // Now the server fails: the refreshes fail, k2 stays good.
            server.set("oops", status: .internalServerError)
            let failing = server.requestCount
            let fetched2 = try await Self.eventually { server.requestCount >= failing + 2 }
            #expect(fetched2)
            #expect(try curl(Self.token(keys, kid: "k2", key: rotated) + ["\(gw.baseURL)/kept"]).status == 200)
            server.set("{\"keys\": 1}")
            let malformed = server.requestCount
            let fetched3 = try await Self.eventually { server.requestCount >= malformed + 2 }
            #expect(fetched3)
            #expect(try curl(Self.token(keys, kid: "k2", key: rotated) + ["\(gw.baseURL)/kept2"]).status == 200)
        }
        await server.stop()
        try await group.shutdownGracefully()
    }

    /// A TLS listener (certificate `api.internal` + IP 127.0.0.1, from `pki`'s CA) whose Lua filter answers
    /// every request with `jwks`; its access log shows which fetches reached HTTP.
    static func httpsJWKSServer(_ pki: UpstreamPKI, _ scripts: LuaScripts, jwks: String) async throws -> TestGateway {
        let script = try scripts.write("jwks.lua", """
            local body = [==[\(jwks)]==]
            function on_request(ctx, conf)
              ctx:respond(200, { ["content-type"] = "application/json" }, body)
            end
            """)
        return try await TestGateway.start(backends: 1, workers: 1, """
            listeners:
              - name: idp
                address: 127.0.0.1:0
                tls: { certificates: [ { cert: "\(pki.path("server.pem"))", key: "\(pki.path("server.key"))" } ] }
                routes:
                  - match: { path_prefix: / }
                    cluster: echo
                    filters: [ { lua: { script: "\(script)" } } ]
            clusters:
              - name: echo
                endpoints: [ { address: "{{echo0}}" } ]
            """)
    }

    @Test("an https jwks_url: keys come over TLS checked against jwks_ca; a server the CA did not sign gets no request and tokens stay unverified")
    func httpsJWKS() async throws {
        let keys = try AuthTestKeys()
        let pki = try UpstreamPKI()
        let scripts = try LuaScripts()
        defer { pki.remove(); scripts.remove() }
        let idp = try await Self.httpsJWKSServer(pki, scripts, jwks: AuthTestKeys.jwks([keys.rsaJWK(kid: "k1")]))
        let url = "https://127.0.0.1:\(idp.port())/.well-known/jwks.json"
        func gateway(ca: String) -> String {
            simpleConfig(routeExtra: """
                filters:
                  - auth: { jwt: { jwks_url: "\(url)", jwks_ca: "\(pki.path(ca))", jwks_min_refetch: 1h } }
                """)
        }
        do {
            try await withGateway(gateway(ca: "ca.pem")) { (gw: TestGateway) async throws in
                #expect(try curl(Self.token(keys, kid: "k1", key: keys.rsa) + ["\(gw.baseURL)/trusted"]).status == 200)
                let fetch = try await idp.accessLogLine(path: "/.well-known/jwks.json")
                #expect(fetch["status"] as? Int == 200)
                #expect(fetch["method"] as? String == "GET")
            }
            let fetchesBefore = try await idp.accessLog(atLeast: 1).count
            try await withGateway(gateway(ca: "rogue.pem")) { (gw: TestGateway) async throws in
                let refused = try curl(Self.token(keys, kid: "k1", key: keys.rsa) + ["\(gw.baseURL)/rogue"])
                #expect(refused.status == 401)
                #expect(try await idp.accessLog(atLeast: 0, within: 0).count == fetchesBefore, "the handshake failed: no HTTP request reached the server")
            }
        } catch {
            await idp.stop()
            throw error
        }
        await idp.stop()
    }

    @Test("jwks_ca is checked at load: a missing file names the key, and it needs an https jwks_url")
    func httpsJWKSConfigErrors() throws {
        let keys = try AuthTestKeys()
        let path = try keys.write("portcullis.yaml", """
            listeners:
              - name: public
                address: 127.0.0.1:8080
                routes:
                  - match: { path_prefix: /a/ }
                    cluster: api
                    filters:
                      - auth: { jwt: { jwks_url: "https://idp.example/jwks", jwks_ca: \(keys.directory)/missing-ca.pem } }
                  - match: { path_prefix: /b/ }
                    cluster: api
                    filters:
                      - auth: { jwt: { jwks_url: "http://idp.example/jwks", jwks_ca: \(keys.directory)/missing-ca.pem } }
                  - match: { path_prefix: /c/ }
                    cluster: api
                    filters:
                      - auth: { jwt: { jwks_url: "ftp://idp.example/jwks" } }
            clusters:
              - name: api
                endpoints: [ { address: 127.0.0.1:9001 } ]
            """)
        let output = try run(ConfigCommandTests.binary, ["check", "--config", path])
        let expected: [(Int, String)] = [
            (8, "listeners[0].routes[0].filters[0].auth.jwt.jwks_ca: cannot set up TLS for the JWKS URL"),
            (12, "listeners[0].routes[1].filters[0].auth.jwt.jwks_ca: only meaningful with an https jwks_url"),
            (16, "listeners[0].routes[2].filters[0].auth.jwt.jwks_url: expected http://host[:port]/path or https://host[:port]/path"),
        ]
        expectCheckErrors(output, path: path, expected)
    }
}
