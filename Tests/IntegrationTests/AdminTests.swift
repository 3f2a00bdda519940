import Foundation
import Testing

@Suite("Admin listener")
struct AdminTests {
    static func config(_ extra: String = "") -> String {
        "admin: { address: 127.0.0.1:0 }\n" + simpleConfig(endpoints: ["{{echo0}}", "{{echo1}}"], listenerExtra: extra)
    }

    /// The value of one sample line of the Prometheus text, e.g. `name{labels}`.
    static func sample(_ metrics: String, _ series: String) -> Double? {
        for line in metrics.split(separator: "\n") where line.hasPrefix(series + " ") {
            return Double(line.dropFirst(series.count + 1))
        }
        return nil
    }

    @Test("/live, /ready, /config, /clusters and the status page answer")
    func endpoints() async throws {
        try await withGateway(backends: 2, Self.config()) { gw in
            let base = "http://127.0.0.1:\(gw.adminPort)"
            #expect(try curl(["\(base)/live"]).status == 200)
            let ready = try curl(["\(base)/ready"])
            #expect(ready.status == 200 && ready.body == "ready\n")
            let config = try curl(["\(base)/config"])
            #expect(config.status == 200 && config.body.contains("- name: \"test\""))
            _ = try curl(["\(gw.baseURL)/one"])
            let clusters = try curl(["\(base)/clusters"])
            let json = try #require(try JSONSerialization.jsonObject(with: Data(clusters.body.utf8)) as? [String: Any])
            let endpoints = try #require(((json["clusters"] as? [[String: Any]])?.first?["endpoints"]) as? [[String: Any]])
            #expect(endpoints.count == 2)
            let page = try curl(["\(base)/"])
            #expect(page.status == 200 && page.body.contains("<h2>Clusters</h2>") && page.body.contains("backend"))
            #expect(try curl(["\(base)/nope"]).status == 404)
        }
    }

    @Test("/metrics counts requests by status class, route and endpoint, with latency histograms")
    func metrics() async throws {
        try await withGateway(backends: 2, Self.config()) { gw in
            for index in 0..<6 { _ = try curl(["\(gw.baseURL)/ok\(index)"]) }
            for _ in 0..<2 { _ = try curl(["\(gw.baseURL)/fail?status=503"]) }
            _ = try await gw.accessLog(atLeast: 8)
            let metrics = try curl(["http://127.0.0.1:\(gw.adminPort)/metrics"]).body
            #expect(Self.sample(metrics, "portcullis_requests_total{listener=\"test\",code_class=\"2xx\"}") == 6)
            #expect(Self.sample(metrics, "portcullis_requests_total{listener=\"test\",code_class=\"5xx\"}") == 2)
            #expect(Self.sample(metrics, "portcullis_route_requests_total{listener=\"test\",route=\"0\",cluster=\"backend\",code_class=\"2xx\"}") == 6)
            #expect(Self.sample(metrics, "portcullis_request_duration_seconds_count{listener=\"test\"}") == 8)
            #expect(Self.sample(metrics, "portcullis_request_duration_seconds_bucket{listener=\"test\",le=\"+Inf\"}") == 8)
            let echo0 = "127.0.0.1:\(gw.echoes[0].port)", echo1 = "127.0.0.1:\(gw.echoes[1].port)"
            let perEndpoint = [echo0, echo1].map {
                Self.sample(metrics, "portcullis_upstream_requests_total{cluster=\"backend\",endpoint=\"\($0)\",code_class=\"2xx\"}") ?? -1
            }
            #expect(perEndpoint.reduce(0, +) == 6 && perEndpoint.allSatisfy { $0 == 3 }, "round robin: \(perEndpoint)")
            #expect(Self.sample(metrics, "portcullis_active_requests{listener=\"test\"}") == 0)
            #expect(Self.sample(metrics, "portcullis_draining") == 0)
        }
    }

    @Test("TLS handshakes and their failures are counted")
    func tlsCounters() async throws {
        let certs = try TestCertificates(names: ["a.test"])
        defer { certs.remove() }
        try await withGateway(backends: 2, Self.config("tls:\n  certificates: [\(certs.yaml("a.test"))]")) { gw in
            _ = try shell("curl -sk https://127.0.0.1:\(gw.port())/ -o /dev/null")
            _ = try shell("curl -sk --http2 https://127.0.0.1:\(gw.port())/ -o /dev/null")
            _ = try shell("echo | timeout 10 openssl s_client -connect 127.0.0.1:\(gw.port()) -tls1_1 -cipher 'DEFAULT:@SECLEVEL=0' >/dev/null 2>&1")
            _ = try shell("echo | timeout 10 openssl s_client -connect 127.0.0.1:\(gw.port()) -tls1_2 -cipher ECDHE-ECDSA-AES128-SHA >/dev/null 2>&1")
            let metrics = try curl(["http://127.0.0.1:\(gw.adminPort)/metrics"]).body
            #expect(Self.sample(metrics, "portcullis_tls_handshakes_total{listener=\"test\"}") == 2)
            #expect(Self.sample(metrics, "portcullis_tls_handshake_failures_total{listener=\"test\"}") == 2)
        }
    }

    @Test("POST /drain: /ready fails, the listener stops accepting, the admin listener stays")
    func drain() async throws {
        try await withGateway(backends: 2, Self.config()) { gw in
            let base = "http://127.0.0.1:\(gw.adminPort)"
            #expect(try curl(["\(gw.baseURL)/before"]).status == 200)
            let drain = try curl(["-X", "POST", "\(base)/drain"])
            #expect(drain.status == 202)
            #expect(try curl(["\(base)/ready"]).status == 503)
            var refused = false
            for _ in 0..<50 where !refused {
                refused = (try? RawClient(port: gw.port())) == nil
                if !refused { try await Task.sleep(for: .milliseconds(20)) }
            }
            #expect(refused, "the data listener still accepts")
            #expect(try curl(["\(base)/live"]).status == 200)
            let metrics = try curl(["\(base)/metrics"]).body
            #expect(Self.sample(metrics, "portcullis_draining") == 1)
        }
    }

    @Test("filters export their numbers: rate-limit decisions and shadowed requests")
    func filterCounters() async throws {
        let yaml = "admin: { address: 127.0.0.1:0 }\n" + simpleConfig(endpoints: ["{{echo0}}"], routeExtra: """
            filters:
              - rate_limit: { rate: 1/m, burst: 2 }
              - shadow: { cluster: backend }
            """)
        try await withGateway(backends: 1, yaml) { gw in
            var statuses: [Int] = []
            for index in 0..<5 { statuses.append(try curl(["\(gw.baseURL)/r\(index)"]).status) }
            #expect(statuses == [200, 200, 429, 429, 429])
            _ = try await gw.accessLog(atLeast: 5)
            var metrics = ""
            for _ in 0..<100 {
                metrics = try curl(["http://127.0.0.1:\(gw.adminPort)/metrics"]).body
                if metrics.contains("outcome=\"sent\"} 2") { break }
                try await Task.sleep(for: .milliseconds(20))
            }
            let prefix = "{listener=\"test\",route=\"0\",filter=\"rate_limit\",limit=\"test:client_ip:1/m\""
            #expect(Self.sample(metrics, "portcullis_filter_rate_limit_decisions_total\(prefix),outcome=\"allowed\"}") == 2, "\(metrics)")
            #expect(Self.sample(metrics, "portcullis_filter_rate_limit_decisions_total\(prefix),outcome=\"limited\"}") == 3)
            #expect(Self.sample(metrics, "portcullis_filter_shadow_requests_total{listener=\"test\",route=\"0\",filter=\"shadow\",cluster=\"backend\",outcome=\"sent\"}") == 2)
        }
    }
}
