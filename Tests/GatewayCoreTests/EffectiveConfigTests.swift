@testable import GatewayCore
import Testing

@Suite("Effective config")
struct EffectiveConfigTests {
    /// The printed config, loaded again.
    private func reparse(_ config: GatewayConfig) throws -> GatewayConfig {
        let printed = EffectiveConfigPrinter.yaml(config)
        do {
            return try ConfigFixture.parse(printed)
        } catch {
            Issue.record("the printed config does not load:\n\(error)\n--- printed:\n\(printed)")
            throw error
        }
    }

    /// Field by field, since the config types are not Equatable.
    private func expectSame(_ a: GatewayConfig, _ b: GatewayConfig, sourceLocation: SourceLocation = #_sourceLocation) {
        #expect(a.workers == b.workers, sourceLocation: sourceLocation)
        #expect(a.accessLog.enabled == b.accessLog.enabled, sourceLocation: sourceLocation)
        #expect(a.source == b.source, sourceLocation: sourceLocation)
        #expect(a.listeners.count == b.listeners.count, sourceLocation: sourceLocation)
        for (x, y) in zip(a.listeners, b.listeners) {
            #expect(x.name == y.name, sourceLocation: sourceLocation)
            #expect(x.address == y.address, sourceLocation: sourceLocation)
            #expect(x.limits == y.limits, sourceLocation: sourceLocation)
            #expect(x.timeouts == y.timeouts, sourceLocation: sourceLocation)
            #expect(x.routes.count == y.routes.count, sourceLocation: sourceLocation)
            for (r, s) in zip(x.routes, y.routes) {
                #expect(r.match == s.match, sourceLocation: sourceLocation)
                #expect(r.cluster == s.cluster, sourceLocation: sourceLocation)
                #expect(r.maxBodyBytes == s.maxBodyBytes, sourceLocation: sourceLocation)
                #expect(r.requestTimeout == s.requestTimeout, sourceLocation: sourceLocation)
            }
        }
        #expect(a.clusters.count == b.clusters.count, sourceLocation: sourceLocation)
        for (x, y) in zip(a.clusters, b.clusters) {
            #expect(x.name == y.name, sourceLocation: sourceLocation)
            #expect(x.endpoints == y.endpoints, sourceLocation: sourceLocation)
            #expect(x.lb == y.lb, sourceLocation: sourceLocation)
            #expect(x.connectTimeout == y.connectTimeout, sourceLocation: sourceLocation)
            #expect(x.idleTimeout == y.idleTimeout, sourceLocation: sourceLocation)
            #expect(x.maxIdlePerEndpoint == y.maxIdlePerEndpoint, sourceLocation: sourceLocation)
            #expect(x.maxRequestsPerConnection == y.maxRequestsPerConnection, sourceLocation: sourceLocation)
        }
    }

    @Test("the printed effective config loads back to the same config", arguments: [
        ("full", ConfigFixture.full), ("minimal", ConfigFixture.minimal),
    ])
    func roundTrip(_ name: String, _ yaml: String) throws {
        let config = try ConfigFixture.parse(yaml)
        let again = try reparse(config)
        expectSame(config, again)
        #expect(EffectiveConfigPrinter.yaml(again) == EffectiveConfigPrinter.yaml(config), "printing is stable")
    }

    @Test("the printed config spells out every default")
    func defaultsSpelledOut() throws {
        let printed = EffectiveConfigPrinter.yaml(try ConfigFixture.parse(ConfigFixture.minimal))
        for line in [
            "workers: 0",
            "access_log: { enabled: true }",
            "    limits: { max_header_bytes: 32k, max_headers: 100, max_uri_bytes: 8k, max_body_bytes: 0 }",
            "    timeouts: { header_read: 10s, body_read: 30s, idle: 1m, request: 1m }",
            "      - match: { path_prefix: \"/\" }",
            "    lb: round_robin",
            "    protocol: http1",
            "    timeouts: { connect: 5s, idle: 30s }",
            "    pool: { max_idle_per_endpoint: 1024, max_requests_per_connection: 0 }",
            "      - { address: \"127.0.0.1:9001\", weight: 1 }",
        ] {
            #expect(printed.split(separator: "\n").contains(Substring(line)), "missing line: \(line)\n\(printed)")
        }
    }

    @Test("names with quotes and backslashes, odd durations and sizes survive the round trip")
    func awkwardValues() throws {
        let yaml = #"""
            listeners:
              - name: 'edge "blue" \ one'
                address: 127.0.0.1:0
                limits: { max_header_bytes: 1500, max_uri_bytes: 3m, max_body_bytes: 1025 }
                timeouts: { header_read: 1500ms, body_read: 90s, idle: 120m, request: 0 }
                routes:
                  - match: { host: "*.Example.COM", path: "/a b/\"c\"" }
                    cluster: 'pool \ "x"'
                    limits: { max_body_bytes: 2g }
            clusters:
              - name: 'pool \ "x"'
                timeouts: { connect: 250ms, idle: 1h }
                pool: { max_idle_per_endpoint: 0, max_requests_per_connection: 1 }
                endpoints:
                  - { address: "[2001:db8::1]:443", weight: 10000 }
                  - { address: "backend.internal:8080", weight: 0 }
            """#
        let config = try ConfigFixture.parse(yaml)
        #expect(config.listeners[0].name == #"edge "blue" \ one"#)
        #expect(config.listeners[0].routes[0].match.path == #"/a b/"c""#)
        expectSame(config, try reparse(config))
    }

    @Test("empty lists print as [] and so survive the round trip")
    func emptyLists() throws {
        let config = try ConfigFixture.parse("workers: 1\nlisteners: []\nclusters: []\n")
        #expect(EffectiveConfigPrinter.yaml(config).contains("listeners: []\n"))
        expectSame(config, try reparse(config))
    }

    @Test("a cluster with no endpoints survives the round trip")
    func emptyEndpointList() throws {
        let yaml = """
            listeners:
              - name: one
                address: 127.0.0.1:8080
                routes: [{ match: { path_prefix: / }, cluster: parked }]
              - name: two
                address: "[::]:8081"
                routes: [{ match: { path: /x }, cluster: parked }]
            clusters:
              - name: parked
                endpoints: []
              - name: spare
                endpoints: [{ address: 127.0.0.1:9001 }]
            """
        let config = try ConfigFixture.parse(yaml)
        #expect(config.clusters[0].endpoints.isEmpty)
        expectSame(config, try reparse(config))
    }
}
