import Foundation
import Testing

@Suite("redirect filter through the gateway")
struct RedirectFilterIntegrationTests {
    @Test("a listener's redirect to https answers every request (301, Location without the old port); no backend is asked")
    func toHTTPS() async throws {
        try await withGateway(simpleConfig(listenerExtra: "filters:\n  - redirect: { scheme: https }")) { gw in
            let result = try await offPool { try shell("curl -sS -D - -o /dev/null '\(gw.baseURL)/shop/cart?id=7'") }
            let head = result.stdout.lowercased()
            #expect(head.hasPrefix("http/1.1 301"), "\(result.stdout)")
            #expect(head.contains("location: https://127.0.0.1/shop/cart?id=7\r\n"), "\(result.stdout)")
            let line = try await gw.accessLogLine(path: "/shop/cart?id=7")
            #expect(line["status"] as? Int == 301)
            #expect(line["upstream_addr"] == nil || line["upstream_addr"] is NSNull, "\(line)")
        }
    }

    @Test("a route's prefix rewrite with 308: other routes are proxied as usual")
    func routeRewrite() async throws {
        let yaml = """
            workers: 1
            listeners:
              - name: test
                address: 127.0.0.1:0
                routes:
                  - match: { path_prefix: /old/ }
                    cluster: backend
                    filters:
                      - redirect: { prefix_rewrite: { from: /old/, to: /new/ }, status: 308, host: docs.example.com }
                  - match: { path_prefix: / }
                    cluster: backend
            clusters:
              - name: backend
                endpoints: [ { address: "{{echo0}}" } ]
            """
        try await withGateway(yaml) { gw in
            let moved = try await offPool { try shell("curl -sS -X POST -d x=1 -D - -o /dev/null '\(gw.baseURL)/old/page?q=2'") }
            #expect(moved.stdout.hasPrefix("HTTP/1.1 308"), "\(moved.stdout)")
            #expect(moved.stdout.lowercased().contains("location: http://docs.example.com:\(gw.port())/new/page?q=2\r\n"), "\(moved.stdout)")
            let proxied = try curl(["\(gw.baseURL)/other"])
            #expect(proxied.status == 200)
        }
    }
}
