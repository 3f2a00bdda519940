import Foundation
import Testing

/// What a reload must not lose: counters of listeners, routes, clusters and endpoints that are still
/// configured, and the session-ticket key rotation of TLS listeners (also of those the reload adds).
@Suite("Metrics and key rotation across reloads")
struct ReloadMetricsTests {
    static func config(endpoints: [String], extra: String = "") -> String {
        """
        admin: { address: 127.0.0.1:0 }
        workers: 2
        listeners:
          - name: main
            address: 127.0.0.1:0
            routes:
              - { match: { path_prefix: /other/ }, cluster: other }
              - { match: { path_prefix: / }, cluster: backend }
        \(extra)
        clusters:
          - { name: backend, endpoints: [\(endpoints.map { "{ address: \"\($0)\" }" }.joined(separator: ", "))] }
          - { name: other, endpoints: [ { address: "{{echo1}}" } ] }
        """
    }

    static func scrape(_ gw: TestGateway) throws -> String { try curl(["http://127.0.0.1:\(gw.adminPort)/metrics"]).body }

    @Test("counters continue across a reload for series that still exist; removed series are dropped")
    func countersSurviveReload() async throws {
        try await withGateway(backends: 2, Self.config(endpoints: ["{{echo0}}", "{{echo1}}"])) { gw in
            let echo0 = "127.0.0.1:\(gw.echoes[0].port)", echo1 = "127.0.0.1:\(gw.echoes[1].port)"
            // Phase 1: four requests over round robin (two per endpoint), one on a keep-alive connection kept open.
            for index in 0..<3 { #expect(try curl(["\(gw.baseURL)/a\(index)"]).status == 200) }
            let client = try RawClient(port: gw.port())
            try client.send("GET /kept HTTP/1.1\r\nHost: t\r\n\r\n")
            _ = try client.readResponses(1)
            #expect(try curl(["\(gw.baseURL)/other/x"]).status == 200)
            let before = try Self.scrape(gw)
            #expect(AdminTests.sample(before, "portcullis_requests_total{listener=\"main\",code_class=\"2xx\"}") == 5)

            // A compatible change: echo1 leaves `backend`, a listener is added; `main`, its routes and `other` stay.
            try await gw.reload(Self.config(endpoints: ["{{echo0}}"], extra: """
                  - name: added
                    address: 127.0.0.1:0
                    routes: [ { match: { path_prefix: / }, cluster: other } ]
                """))
            // The old generation's open connection answers once more (on the old config), then closes.
            try client.send("GET /kept-after HTTP/1.1\r\nHost: t\r\n\r\n")
            #expect(try client.readResponses(1).first?.header("connection") == "close")
            #expect(client.isClosedByPeer())
            // Phase 2: three more on the new config.
            for index in 0..<3 { #expect(try curl(["\(gw.baseURL)/b\(index)"]).status == 200) }
            _ = try await gw.accessLog(atLeast: 9)

            // Twice: the first scrape may fold the finished old generation into the carried totals, the
            // second then reads them from there. Both must say the same.
            for round in 0..<2 {
                let metrics = try Self.scrape(gw)
                #expect(AdminTests.sample(metrics, "portcullis_requests_total{listener=\"main\",code_class=\"2xx\"}") == 9, "round \(round)")
                #expect(AdminTests.sample(metrics, "portcullis_request_duration_seconds_count{listener=\"main\"}") == 9)
                #expect(AdminTests.sample(metrics, "portcullis_route_requests_total{listener=\"main\",route=\"1\",cluster=\"backend\",code_class=\"2xx\"}") == 8)
                #expect(AdminTests.sample(metrics, "portcullis_route_requests_total{listener=\"main\",route=\"0\",cluster=\"other\",code_class=\"2xx\"}") == 1)
                // Only `backend` sends to echo0: its series holds every request echo0 answered, before and after.
                let onEcho0 = AdminTests.sample(metrics, "portcullis_upstream_requests_total{cluster=\"backend\",endpoint=\"\(echo0)\",code_class=\"2xx\"}")
                #expect(onEcho0 == Double(gw.echoes[0].stats.requests) && (onEcho0 ?? 0) >= 3, "\(String(describing: onEcho0))")
                #expect(!metrics.contains("cluster=\"backend\",endpoint=\"\(echo1)\""), "echo1 left backend: its series are gone")
                #expect(AdminTests.sample(metrics, "portcullis_upstream_requests_total{cluster=\"other\",endpoint=\"\(echo1)\",code_class=\"2xx\"}") == 1)
                #expect(AdminTests.sample(metrics, "portcullis_requests_total{listener=\"added\",code_class=\"2xx\"}") == 0)
                #expect(AdminTests.sample(metrics, "portcullis_active_requests{listener=\"main\"}") == 0)
            }
        }
    }

    @Test("filter counters (portcullis_filter_*) continue across a reload, counting the old generation's last requests too")
    func filterCountersSurviveReload() async throws {
        func yaml(otherFilters: String) -> String {
            """
            admin: { address: 127.0.0.1:0 }
            workers: 2
            listeners:
              - name: main
                address: 127.0.0.1:0
                routes:
                  - match: { path_prefix: /other/ }
                    cluster: backend
                    filters: \(otherFilters)
                  - match: { path_prefix: / }
                    cluster: backend
                    filters: [ { rate_limit: { name: main-limit, rate: 1000/s, burst: 1000 } } ]
            clusters:
              - { name: backend, endpoints: [ { address: "{{echo0}}" } ] }
            """
        }
        let allowed = "portcullis_filter_rate_limit_decisions_total{listener=\"main\",route=\"1\",filter=\"rate_limit\",limit=\"main-limit\",outcome=\"allowed\"}"
        let otherAllowed = "portcullis_filter_rate_limit_decisions_total{listener=\"main\",route=\"0\",filter=\"rate_limit\",limit=\"other-limit\",outcome=\"allowed\"}"
        try await withGateway(backends: 1, yaml(otherFilters: "[ { rate_limit: { name: other-limit, rate: 1000/s, burst: 1000 } } ]")) { gw in
            for index in 0..<3 { #expect(try curl(["\(gw.baseURL)/a\(index)"]).status == 200) }
            #expect(try curl(["\(gw.baseURL)/other/a"]).status == 200)
            let client = try RawClient(port: gw.port())
            try client.send("GET /kept HTTP/1.1\r\nHost: t\r\n\r\n")
            _ = try client.readResponses(1)
            let before = try Self.scrape(gw)
            #expect(AdminTests.sample(before, allowed) == 4, "\(before)")
            #expect(AdminTests.sample(before, otherAllowed) == 1)

            // The reload rebuilds every filter; the /other/ route loses its limit.
            try await gw.reload(yaml(otherFilters: "[]"))
            // The old generation's connection answers once more through the old filters, then closes.
            try client.send("GET /kept-after HTTP/1.1\r\nHost: t\r\n\r\n")
            #expect(try client.readResponses(1).first?.status == 200)
            #expect(client.isClosedByPeer())
            for index in 0..<2 { #expect(try curl(["\(gw.baseURL)/b\(index)"]).status == 200) }
            _ = try await gw.accessLog(atLeast: 8)

            // Twice: the first scrape may fold the finished old generation; the second reads the carried totals.
            for round in 0..<2 {
                let metrics = try Self.scrape(gw)
                #expect(AdminTests.sample(metrics, allowed) == 7, "round \(round): 4 before, 1 on the old config after, 2 new\n\(metrics)")
                #expect(!metrics.contains("other-limit"), "the removed filter's series are gone")
            }
        }
    }

    @Test("failed health checks of an endpoint still configured keep counting across a reload")
    func healthCountersSurviveReload() async throws {
        let closed = "127.0.0.1:\(try TestGateway.closedPort())"
        func yaml(_ extraRoute: String) -> String {
            """
            admin: { address: 127.0.0.1:0 }
            workers: 2
            listeners:
              - name: main
                address: 127.0.0.1:0
                routes: [ \(extraRoute){ match: { path_prefix: / }, cluster: backend } ]
            clusters:
              - name: backend
                endpoints: [ { address: "{{echo0}}" }, { address: "\(closed)" } ]
                health_check: { http: { path: /healthz }, interval: 50ms, timeout: 50ms, unhealthy_threshold: 1 }
            """
        }
        let series = "portcullis_health_check_failures_total{cluster=\"backend\",endpoint=\"\(closed)\"}"
        try await withGateway(yaml("")) { gw in
            var before = 0.0
            let deadline = Date().addingTimeInterval(10)
            while before < 3 && Date() < deadline {
                before = AdminTests.sample(try Self.scrape(gw), series) ?? 0
                if before < 3 { try await Task.sleep(for: .milliseconds(20)) }
            }
            #expect(before >= 3)
            try await gw.reload(yaml("{ match: { path_prefix: /new/ }, cluster: backend }, "))
            // Right after the reload the new monitor has probed at most once or twice: without the carried
            // total the counter would drop back near zero.
            let after = AdminTests.sample(try Self.scrape(gw), series) ?? 0
            #expect(after >= before, "\(before) → \(after)")
        }
    }

    @Test("a TLS listener added by a reload gets session-ticket key rotation; a removed one loses it")
    func ticketRotationForAddedListeners() async throws {
        let certs = try TestCertificates(names: ["a.test"])
        defer { certs.remove() }
        func config(tls: Bool) -> String {
            let tlsListener = """
                  - name: tls
                    address: 127.0.0.1:0
                    tls: { certificates: [\(certs.yaml("a.test"))], session_ticket_rotation: 50ms }
                    routes: [ { match: { path_prefix: / }, cluster: backend } ]
                """
            return """
                workers: 2
                listeners:
                  - { name: test, address: 127.0.0.1:0, routes: [ { match: { path_prefix: / }, cluster: backend } ] }
                \(tls ? tlsListener : "")
                clusters:
                  - { name: backend, endpoints: [ { address: "{{echo0}}" } ] }
                """
        }
        let plain = config(tls: false), yaml = config(tls: true)
        try await withGateway(plain) { gw in
            gw.server.startTicketKeyRotation()
            defer { gw.server.stopTicketKeyRotation() }
            #expect(gw.server.rotatingTicketKeys.isEmpty)
            try await gw.reload(yaml)
            let keys = try #require(gw.server.runtime.listeners.first { $0.name == "tls" }?.tls?.ticketKeys)
            #expect(gw.server.rotatingTicketKeys.count == 1 && gw.server.rotatingTicketKeys[0] === keys)
            // The rotation really runs (bounded wait for two timer ticks).
            let deadline = Date().addingTimeInterval(5)
            while keys.rotations < 2 && Date() < deadline { try await Task.sleep(for: .milliseconds(20)) }
            #expect(keys.rotations >= 2)
            #expect(try shell("curl -sk -o /dev/null -w '%{http_code}' https://127.0.0.1:\(gw.port("tls"))/").stdout == "200")
            try await gw.reload(plain)
            #expect(gw.server.rotatingTicketKeys.isEmpty, "the removed listener's rotation stopped")
        }
    }
}
