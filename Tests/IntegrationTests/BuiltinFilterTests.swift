import Foundation
import Testing

@Suite("ip_filter")
struct IPFilterIntegrationTests {
    @Test("a denied client gets 403 from the listener's ip_filter and nothing reaches the upstream")
    func denied() async throws {
        try await withGateway(simpleConfig(listenerExtra: "filters: [ { ip_filter: { deny: [127.0.0.0/8] } } ]")) { gw in
            let result = try curl(["\(gw.baseURL)/x"])
            #expect(result.status == 403)
            #expect(result.body == "403 Forbidden: client address not allowed\n")
            #expect(gw.echoes[0].stats.requests == 0)
            let line = try await gw.accessLogLine(path: "/x")
            #expect(line["local_reply_filter"] as? String == "ip_filter")
            #expect(line["status"] as? Int == 403)
        }
    }

    @Test("an allow list admits only its blocks; deny wins over allow")
    func allowList() async throws {
        try await withGateway(simpleConfig(routeExtra: "filters: [ { ip_filter: { allow: [10.0.0.0/8, \"::1\"] } } ]")) { gw in
            let status = try curl(["\(gw.baseURL)/x"]).status
            #expect(status == 403)
        }
        try await withGateway(simpleConfig(routeExtra: "filters: [ { ip_filter: { allow: [127.0.0.0/8, 2001:db8::/32] } } ]")) { gw in
            let status = try curl(["\(gw.baseURL)/x"]).status
            #expect(status == 200)
        }
        try await withGateway(simpleConfig(routeExtra: "filters: [ { ip_filter: { allow: [127.0.0.0/8], deny: [127.0.0.1] } } ]")) { gw in
            let status = try curl(["\(gw.baseURL)/x"]).status
            #expect(status == 403)
        }
    }

    @Test("behind the PROXY protocol the client it names is the one checked")
    func proxyProtocolClient() async throws {
        let yaml = simpleConfig(listenerExtra: "proxy_protocol: v1\nfilters: [ { ip_filter: { deny: [203.0.113.0/24, 2001:db8:bad::/48] } } ]")
        try await withGateway(yaml) { gw in
            for (source, expected) in [("TCP4 203.0.113.9 127.0.0.1", 403), ("TCP4 198.51.100.7 127.0.0.1", 200),
                                       ("TCP6 2001:db8:bad::1 2001:db8::2", 403), ("TCP6 2001:db8:900d::1 2001:db8::2", 200)] {
                let client = try RawClient(port: gw.port())
                try client.send("PROXY \(source) 5000 80\r\nGET /p HTTP/1.1\r\nHost: t\r\n\r\n")
                let response = try #require(try client.readResponses(1).first)
                #expect(response.status == expected, "\(source)")
            }
        }
    }
}

@Suite("headers filter")
struct HeadersFilterIntegrationTests {
    @Test("request fields are set, added and removed before the upstream sees them; response fields on the way back")
    func edits() async throws {
        let filter = """
            filters:
              - headers:
                  request: { set: { x-env: prod }, add: { x-tag: gw }, remove: [x-debug] }
                  response: { set: { cache-control: no-store }, add: { x-served-by: portcullis }, remove: [x-echo-name] }
            """
        try await withGateway(simpleConfig(routeExtra: filter)) { gw in
            let result = try curl(["-H", "X-Env: dev", "-H", "X-Tag: client", "-H", "X-Debug: 1", "\(gw.baseURL)/h"])
            #expect(result.status == 200)
            let headers = try #require(result.json["headers"] as? [String: Any])
            #expect(headers["x-env"] as? String == "prod")
            #expect(headers["x-tag"] as? String == "client, gw")
            #expect(headers["x-debug"] == nil)
            #expect(result.header("cache-control") == "no-store")
            #expect(result.header("x-served-by") == "portcullis")
            #expect(result.header("x-echo-name") == nil)
            // The body still arrives whole: the length survived the head's rebuild.
            #expect(result.json["path"] as? String == "/h")
        }
    }

    @Test("an edit the received lines cannot take (Cookie) builds the fields there: the edits before it each apply once, over HTTP/1.1 and HTTP/2")
    func fallbackMidway() async throws {
        let filter = """
            filters:
              - headers:
                  request: { remove: [x-debug], set: { x-env: prod }, add: { x-tag: gw, cookie: "session=gw" } }
            """
        try await withGateway(simpleConfig(listenerExtra: "http2: { cleartext: true }", routeExtra: filter)) { gw in
            for h2 in [false, true] {
                let result = try curl(h2: h2, ["-H", "X-Env: dev", "-H", "X-Tag: client", "-H", "X-Debug: 1", "-H", "Cookie: a=1", "\(gw.baseURL)/f"])
                #expect(result.status == 200)
                let headers = try #require(result.json["headers"] as? [String: Any])
                #expect(headers["x-debug"] == nil)
                #expect(headers["x-env"] as? String == "prod")
                let cookie = headers["cookie"] as? String ?? ""
                #expect(cookie.contains("a=1") && cookie.contains("session=gw"), "\(cookie)")
                // Added on the received lines before the Cookie edit took the fields: once, not again.
                #expect(headers["x-tag"] as? String == "client, gw", "added once: \(headers)")
            }
        }
    }

    @Test("path prefix and host rewrites change what the upstream sees, not what the access log reports")
    func rewrites() async throws {
        let filter = "filters: [ { headers: { path_prefix_rewrite: { from: /api/, to: /v2/ }, host_rewrite: backend.internal } } ]"
        try await withGateway(simpleConfig(routeExtra: filter)) { gw in
            let result = try curl(["\(gw.baseURL)/api/users?q=1"])
            #expect(result.json["path"] as? String == "/v2/users?q=1")
            let headers = try #require(result.json["headers"] as? [String: Any])
            #expect(headers["host"] as? String == "backend.internal")
            let untouched = try curl(["\(gw.baseURL)/apiary"])
            #expect(untouched.json["path"] as? String == "/apiary")
            let line = try await gw.accessLogLine(path: "/api/users?q=1")
            #expect(line["status"] as? Int == 200)
        }
    }
}

@Suite("cors")
struct CORSIntegrationTests {
    static let filter = """
        filters:
          - cors:
              allow_origins: [https://app.example.com]
              allow_methods: [GET, POST]
              allow_headers: [authorization, content-type]
              expose_headers: [x-request-id, x-echo-name]
              allow_credentials: true
              max_age: 10m
        """

    @Test("a preflight from an allowed origin is answered 204 by the gateway with the configured headers")
    func preflight() async throws {
        try await withGateway(simpleConfig(routeExtra: Self.filter)) { gw in
            let result = try curl(["-X", "OPTIONS", "-H", "Origin: https://app.example.com", "-H", "Access-Control-Request-Method: POST",
                                   "-H", "Access-Control-Request-Headers: content-type", "\(gw.baseURL)/c"])
            #expect(result.status == 204)
            #expect(result.header("access-control-allow-origin") == "https://app.example.com")
            #expect(result.header("access-control-allow-methods") == "GET, POST")
            #expect(result.header("access-control-allow-headers") == "authorization, content-type")
            #expect(result.header("access-control-allow-credentials") == "true")
            #expect(result.header("access-control-max-age") == "600")
            #expect(result.header("vary") == "Origin")
            #expect(gw.echoes[0].stats.requests == 0)
            let line = try await gw.accessLogLine(path: "/c")
            #expect(line["local_reply_filter"] as? String == "cors")
        }
    }

    @Test("an actual request from an allowed origin is proxied and its response decorated")
    func actualRequest() async throws {
        try await withGateway(simpleConfig(routeExtra: Self.filter)) { gw in
            let result = try curl(["-H", "Origin: https://app.example.com", "\(gw.baseURL)/c?header=access-control-allow-origin:*"])
            #expect(result.status == 200)
            #expect(result.headerValues("access-control-allow-origin") == ["https://app.example.com"], "replaces the upstream's")
            #expect(result.header("access-control-allow-credentials") == "true")
            #expect(result.header("access-control-expose-headers") == "x-request-id, x-echo-name")
            #expect(result.headerValues("vary").contains("Origin"))
            #expect(gw.echoes[0].stats.requests == 1)
        }
    }

    @Test("other origins and requests without Origin pass untouched; their preflights go to the upstream")
    func notAllowed() async throws {
        try await withGateway(simpleConfig(routeExtra: Self.filter)) { gw in
            let other = try curl(["-H", "Origin: https://evil.example.com", "\(gw.baseURL)/c"])
            #expect(other.status == 200)
            #expect(other.header("access-control-allow-origin") == nil)
            let none = try curl(["\(gw.baseURL)/c"])
            #expect(none.header("access-control-allow-origin") == nil)
            let preflight = try curl(["-X", "OPTIONS", "-H", "Origin: https://evil.example.com", "-H", "Access-Control-Request-Method: POST", "\(gw.baseURL)/c"])
            #expect(preflight.status == 200)
            #expect(preflight.json["method"] as? String == "OPTIONS")
            #expect(preflight.header("access-control-allow-origin") == nil)
        }
    }

    @Test("'*' answers '*' without credentials; a reply from a later filter is decorated too")
    func wildcard() async throws {
        let filter = "filters: [ { cors: { allow_origins: [\"*\"] } }, { ip_filter: { deny: [127.0.0.1] } } ]"
        try await withGateway(simpleConfig(routeExtra: filter)) { gw in
            let result = try curl(["-H", "Origin: https://any.example", "\(gw.baseURL)/c"])
            #expect(result.status == 403)
            #expect(result.header("access-control-allow-origin") == "*")
            #expect(result.header("vary") == nil)
            let preflight = try curl(["-X", "OPTIONS", "-H", "Origin: https://any.example", "-H", "Access-Control-Request-Method: PUT",
                                      "-H", "Access-Control-Request-Headers: x-custom", "\(gw.baseURL)/c"])
            #expect(preflight.status == 204, "the preflight is answered before ip_filter runs")
            #expect(preflight.header("access-control-allow-headers") == "x-custom")
            #expect(preflight.header("access-control-allow-methods") == "GET, HEAD, POST, PUT, PATCH, DELETE")
        }
    }
}
