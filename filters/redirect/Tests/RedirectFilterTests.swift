@testable import RedirectFilter
import Testing

@Suite("redirect filter: the Location it builds")
struct RedirectFilterTests {
    @Test("to https: same host and path, the port dropped, the query kept")
    func toHTTPS() {
        var config = RedirectFilterConfig()
        config.scheme = "https"
        #expect(config.location(requestScheme: "http", authority: "example.com:80", path: "/a/b?x=1") == "https://example.com/a/b?x=1")
        #expect(config.location(requestScheme: "http", authority: "example.com:8080", path: "/") == "https://example.com/")
        #expect(config.location(requestScheme: "http", authority: "[2001:db8::1]:8080", path: "/p") == "https://[2001:db8::1]/p")
        config.port = 8443
        #expect(config.location(requestScheme: "http", authority: "example.com", path: "/") == "https://example.com:8443/")
    }

    @Test("host, path, prefix rewrite, strip_query; the request's own port kept when the scheme stays")
    func rewrites() {
        var config = RedirectFilterConfig()
        config.host = "new.example.com"
        #expect(config.location(requestScheme: "http", authority: "old.example.com:8080", path: "/x?q") == "http://new.example.com:8080/x?q")
        config.prefixRewrite = .init(from: "/old/", to: "/new/")
        #expect(config.location(requestScheme: "https", authority: "a", path: "/old/page?q=1") == "https://new.example.com/new/page?q=1")
        #expect(config.location(requestScheme: "https", authority: "a", path: "/other") == "https://new.example.com/other")
        config.stripQuery = true
        config.path = "/moved"
        #expect(config.location(requestScheme: "https", authority: "a:443", path: "/old/page?q=1") == "https://new.example.com/moved")
    }

    @Test("no host in the request (HTTP/1.0 without Host): no Location unless the config names the host")
    func noHost() {
        var config = RedirectFilterConfig()
        config.scheme = "https"
        #expect(config.location(requestScheme: "http", authority: nil, path: "/x") == nil)
        config.host = "example.com"
        #expect(config.location(requestScheme: "http", authority: nil, path: "/x") == "https://example.com/x")
    }
}
