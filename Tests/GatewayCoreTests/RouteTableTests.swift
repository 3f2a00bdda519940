import GatewayCore
import NIOCore
import Testing

/// Route tables are built the way the gateway builds them: YAML through `ConfigLoader` and `GatewayRuntime`.
@Suite("Route matching")
struct RouteTableTests {
    /// One listener with the given `(match, cluster)` routes, in order; clusters `a`, `b` and `c` exist.
    private func table(_ routes: [(match: String, cluster: String)]) throws -> RouteTable {
        let routeLines = routes.map { "      - { match: \($0.match), cluster: \($0.cluster) }" }.joined(separator: "\n")
        let yaml = """
            listeners:
              - name: public
                address: 127.0.0.1:8080
                routes:
            \(routeLines)
            clusters:
              - { name: a, endpoints: [{ address: 127.0.0.1:9001 }] }
              - { name: b, endpoints: [{ address: 127.0.0.1:9002 }] }
              - { name: c, endpoints: [{ address: 127.0.0.1:9003 }] }
            """
        let runtime = try GatewayRuntime(config: ConfigFixture.parse(yaml))
        return runtime.listeners[0].routes
    }

    @Test("routes are tried in config order and the first match wins, even over a longer prefix")
    func firstMatchWins() throws {
        let routes = try table([("{ path_prefix: /api }", "a"), ("{ path_prefix: /api/v2 }", "b"), ("{ path_prefix: / }", "c")])
        #expect(routes.match(authority: "example.com", path: "/api/v2/users")?.clusterName == "a")
        #expect(routes.match(authority: "example.com", path: "/api")?.clusterName == "a")
        #expect(routes.match(authority: "example.com", path: "/static/app.js")?.clusterName == "c")
        #expect(routes.match(authority: nil, path: "/")?.clusterName == "c")
    }

    @Test("a host route wins only for its host; later routes catch the rest")
    func hostThenFallback() throws {
        let routes = try table([("{ host: example.com }", "a"), ("{ path_prefix: / }", "b")])
        #expect(routes.match(authority: "example.com", path: "/x")?.clusterName == "a")
        #expect(routes.match(authority: "other.com", path: "/x")?.clusterName == "b")
        #expect(routes.match(authority: nil, path: "/x")?.clusterName == "b", "a request without a host matches no host route")
    }

    @Test("a request no route matches gets no route")
    func noMatch() throws {
        let routes = try table([("{ path_prefix: /api/ }", "a"), ("{ host: example.com }", "b")])
        #expect(routes.match(authority: "other.com", path: "/") == nil)
        #expect(routes.match(authority: nil, path: "/api") == nil)
    }

    @Test("the compiled route carries its cluster's index and name")
    func clusterIndex() throws {
        let routes = try table([("{ path: /b }", "b"), ("{ path_prefix: / }", "c")])
        let route = try #require(routes.match(authority: nil, path: "/b"))
        #expect(route.clusterIndex == 1)
        #expect(route.clusterName == "b")
        #expect(routes.match(authority: nil, path: "/")?.clusterIndex == 2)
    }

    @Test("an exact host matches without regard to case and ignores the port", arguments: [
        "api.example.com", "API.EXAMPLE.COM", "Api.Example.Com:8443", "api.example.com:80",
    ])
    func exactHostMatches(_ authority: String) throws {
        let routes = try table([("{ host: Api.Example.com }", "a")])
        #expect(routes.match(authority: authority, path: "/")?.clusterName == "a")
    }

    @Test("an exact host does not match other hosts", arguments: [
        "example.com", "api.example.org", "api.example.com.evil.net", "xapi.example.com", "sub.api.example.com", "",
    ])
    func exactHostRejects(_ authority: String) throws {
        let routes = try table([("{ host: api.example.com }", "a")])
        #expect(routes.match(authority: authority, path: "/") == nil)
    }

    @Test("*.example.com matches any subdomain, however deep, in any case and with any port", arguments: [
        "sub.example.com", "a.b.example.com", "SUB.Example.COM", "sub.example.com:8080",
    ])
    func wildcardMatches(_ authority: String) throws {
        let routes = try table([("{ host: \"*.example.com\" }", "a")])
        #expect(routes.match(authority: authority, path: "/")?.clusterName == "a")
    }

    @Test("*.example.com does not match example.com itself or look-alike hosts", arguments: [
        "example.com", "example.com:443", "notexample.com", "sub.example.org", "sub.example.com.evil.net", ".example.com",
    ])
    func wildcardRejects(_ authority: String) throws {
        let routes = try table([("{ host: \"*.example.com\" }", "a")])
        #expect(routes.match(authority: authority, path: "/") == nil)
    }

    @Test("an exact path ignores the query string", arguments: ["/health", "/health?verbose=1", "/health?"])
    func exactPathMatches(_ path: String) throws {
        let routes = try table([("{ path: /health }", "a")])
        #expect(routes.match(authority: nil, path: path)?.clusterName == "a")
    }

    @Test("an exact path matches nothing longer, shorter or differently cased", arguments: [
        "/health/", "/healthz", "/health/x?y=1", "/Health", "/", "/heal",
    ])
    func exactPathRejects(_ path: String) throws {
        let routes = try table([("{ path: /health }", "a")])
        #expect(routes.match(authority: nil, path: path) == nil)
    }

    @Test("a path prefix matches paths that start with it, query or not", arguments: ["/api/", "/api/users", "/api/users/7?full=1", "/api/?q"])
    func prefixMatches(_ path: String) throws {
        let routes = try table([("{ path_prefix: /api/ }", "a")])
        #expect(routes.match(authority: nil, path: path)?.clusterName == "a")
    }

    @Test("a path prefix is case-sensitive and does not match shorter paths", arguments: ["/api", "/ap", "/API/users", "/v1/api/"])
    func prefixRejects(_ path: String) throws {
        let routes = try table([("{ path_prefix: /api/ }", "a")])
        #expect(routes.match(authority: nil, path: path) == nil)
    }

    @Test("a path prefix is a plain string prefix, as in Envoy: /api also matches /apiary")
    func prefixIsStringPrefix() throws {
        let routes = try table([("{ path_prefix: /api }", "a")])
        #expect(routes.match(authority: nil, path: "/apiary")?.clusterName == "a")
    }

    @Test("host and path must both match")
    func hostAndPath() throws {
        let routes = try table([("{ host: example.com, path_prefix: /api/ }", "a"), ("{ host: example.com }", "b")])
        #expect(routes.match(authority: "example.com", path: "/api/x")?.clusterName == "a")
        #expect(routes.match(authority: "example.com", path: "/web")?.clusterName == "b")
        #expect(routes.match(authority: "other.com", path: "/api/x") == nil)
    }

    @Test("an IPv6 authority is matched by its bracketed address, with or without a port", arguments: [
        ("[::1]:8080", "a"), ("[::1]", "a"), ("[2001:db8::1]:443", "b"), ("[2001:db8::1]", "b"), ("127.0.0.1:8080", "c"),
    ])
    func ipv6Authority(_ authority: String, _ cluster: String) throws {
        let routes = try table([("{ host: \"[::1]\" }", "a"), ("{ host: \"[2001:db8::1]\" }", "b"), ("{ host: 127.0.0.1 }", "c")])
        #expect(routes.match(authority: authority, path: "/")?.clusterName == cluster)
    }

    @Test("a route without overrides inherits the listener's body limit and request timeout")
    func routeInheritsListenerSettings() throws {
        let yaml = """
            listeners:
              - name: public
                address: 127.0.0.1:8080
                limits: { max_body_bytes: 1m }
                timeouts: { request: 20s }
                routes:
                  - match: { path_prefix: /upload }
                    cluster: web
                    limits: { max_body_bytes: 0 }
                    timeouts: { request: 5m }
                  - match: { path_prefix: / }
                    cluster: web
            clusters:
              - name: web
                endpoints: [{ address: 127.0.0.1:9001 }]
            """
        let routes = try GatewayRuntime(config: ConfigFixture.parse(yaml)).listeners[0].routes
        let upload = try #require(routes.match(authority: nil, path: "/upload/big"))
        #expect(upload.maxBodyBytes == nil, "0 on the route lifts the listener's limit")
        #expect(upload.requestTimeout == .minutes(5))
        let other = try #require(routes.match(authority: nil, path: "/"))
        #expect(other.maxBodyBytes == 1 << 20)
        #expect(other.requestTimeout == .seconds(20))
    }
}
