import Foundation
import GatewayCore
import Testing

/// Active health checks of `protocol: http2` clusters: gRPC's health protocol against a grpcio server,
/// and `http` checks spoken in HTTP/2 to a second gateway's h2c listener.
@Suite("Health checks over HTTP/2", .serialized)
struct HTTP2HealthCheckTests {
    /// The endpoints of every cluster on the admin API's `/clusters`, by cluster name.
    static func endpoints(_ gw: TestGateway) async throws -> [String: [[String: Any]]] {
        let result = try await offPool { try curl(["http://127.0.0.1:\(gw.adminPort)/clusters"]) }
        let clusters = try #require(result.json["clusters"] as? [[String: Any]])
        var byName: [String: [[String: Any]]] = [:]
        for cluster in clusters { byName[cluster["name"] as? String ?? ""] = cluster["endpoints"] as? [[String: Any]] ?? [] }
        return byName
    }

    /// Polls `/clusters` until every named cluster's first endpoint has the wanted `active_check` state.
    static func waitForChecks(_ gw: TestGateway, _ wanted: [String: String], within seconds: Double = 10) async throws -> [String: [[String: Any]]] {
        let deadline = Date().addingTimeInterval(seconds)
        while true {
            let state = try await endpoints(gw)
            if wanted.allSatisfy({ state[$0.key]?.first?["active_check"] as? String == $0.value }) { return state }
            if Date() > deadline { throw TestFailure("timed out waiting for \(wanted): \(state)") }
            try await Task.sleep(for: .milliseconds(25))
        }
    }

    @Test("grpc checks: SERVING keeps the endpoint in; NOT_SERVING and an unknown service (a trailers-only NOT_FOUND) take it out")
    func grpcHealth() async throws {
        let server = try PythonServer(script: "grpc_server.py")
        defer { server.stop() }
        func cluster(_ name: String, _ service: String) -> String {
            """
              - name: \(name)
                protocol: http2
                panic_threshold: 0
                endpoints: [ { address: "\(server.address)" } ]
                health_check: { grpc: { service: "\(service)" }, interval: 200ms, timeout: 200ms, unhealthy_threshold: 1, healthy_threshold: 1 }
            """
        }
        let yaml = """
            admin: { address: 127.0.0.1:0 }
            workers: 1
            listeners:
              - name: test
                address: 127.0.0.1:0
                http2: { cleartext: true }
                routes:
                  - { match: { path_prefix: /down/ }, cluster: down }
                  - { match: { path_prefix: / }, cluster: api }
            clusters:
            \(cluster("api", "api"))
            \(cluster("whole", ""))
            \(cluster("down", "down"))
            \(cluster("unknown", "nope"))
            """
        try await withGateway(backends: 0, workers: 1, yaml) { gw in
            let state = try await Self.waitForChecks(gw, ["api": "passing", "whole": "passing", "down": "failing", "unknown": "failing"])
            #expect(state["api"]?.first?["health"] as? String == "healthy")
            #expect(state["down"]?.first?["health"] as? String == "unhealthy")
            #expect(state["unknown"]?.first?["health"] as? String == "unhealthy")
            #expect((state["down"]?.first?["health_check_failures"] as? Int ?? 0) >= 1)
            // Traffic follows: calls reach the SERVING cluster; the NOT_SERVING one has no endpoint left.
            let unary = try await GRPCTests.call(gw, "unary")
            #expect(unary["code"] as? String == "OK")
            let down = try await offPool { try curl(["--http2-prior-knowledge", "\(gw.baseURL)/down/x"]) }
            #expect(down.status == 503)
        }
    }

    @Test("an http check on a protocol: http2 cluster speaks HTTP/2 (h2c), and its expected statuses decide")
    func httpOverHTTP2() async throws {
        let backend = try await TestGateway.start(backends: 1, workers: 1, """
            listeners:
              - name: backend
                address: 127.0.0.1:0
                http2: { cleartext: true }
                routes: [ { match: { path_prefix: / }, cluster: echo } ]
            clusters:
              - name: echo
                endpoints: [ { address: "{{echo0}}" } ]
            """)
        func cluster(_ name: String, _ query: String) -> String {
            """
              - name: \(name)
                protocol: http2
                panic_threshold: 0
                endpoints: [ { address: "127.0.0.1:\(backend.port())" } ]
                health_check: { http: { path: "/check?\(query)", expected_statuses: [200] }, interval: 200ms, timeout: 200ms, unhealthy_threshold: 1 }
            """
        }
        do {
            try await withGateway(backends: 0, workers: 1, """
                admin: { address: 127.0.0.1:0 }
                listeners:
                  - name: test
                    address: 127.0.0.1:0
                    routes: [ { match: { path_prefix: / }, cluster: good } ]
                clusters:
                \(cluster("good", "status=200"))
                \(cluster("bad", "status=503"))
                """) { gw in
                _ = try await Self.waitForChecks(gw, ["good": "passing", "bad": "failing"])
                // The backend gateway saw the checks as HTTP/2 requests.
                let line = try await backend.accessLogLine(path: "/check?status=200")
                #expect(line["protocol"] as? String == "HTTP/2")
                #expect(line["method"] as? String == "GET")
                #expect(try curl(["\(gw.baseURL)/through"]).status == 200)
            }
        } catch {
            await backend.stop()
            throw error
        }
        await backend.stop()
    }

    @Test("on an h2-over-TLS cluster the check speaks TLS with the cluster's CA and ALPN h2; a CA that did not sign the backend fails it")
    func httpOverTLS() async throws {
        let check = "health_check: { http: { path: \"/check?tls=1\" }, interval: 200ms, timeout: 200ms, unhealthy_threshold: 1 }"
        try await withUpstreamTLS(tls: { "{ ca: \"\($0.path("ca.pem"))\", sni: api.internal }" }, clusterExtra: "protocol: http2\n" + check) { setup in
            let state = try await Self.waitForChecks(setup.front, ["secure": "passing"])
            #expect(state["secure"]?.first?["health"] as? String == "healthy")
            let line = try await setup.backend.accessLogLine(path: "/check?tls=1")
            #expect(line["protocol"] as? String == "HTTP/2")
        }
        try await withUpstreamTLS(tls: { "{ ca: \"\($0.path("rogue.pem"))\", sni: api.internal }" }, clusterExtra: "protocol: http2\n" + check) { setup in
            let state = try await Self.waitForChecks(setup.front, ["secure": "failing"])
            #expect((state["secure"]?.first?["health_check_failures"] as? Int ?? 0) >= 1)
        }
    }

    @Test("a grpc check needs protocol: http2, and a check is one of http, tcp and grpc; errors name file, line and key")
    func configErrors() {
        let yaml = """
            listeners:
              - name: l
                address: 127.0.0.1:0
                routes: [ { match: { path_prefix: / }, cluster: a } ]
            clusters:
              - name: a
                endpoints: [ { address: 127.0.0.1:9 } ]
                health_check: { grpc: { service: api } }
              - name: b
                protocol: http2
                endpoints: [ { address: 127.0.0.1:9 } ]
                health_check: { tcp: {}, grpc: {} }
            """
        var errors: [ConfigError] = []
        do { _ = try ConfigLoader.parse(yaml: yaml, file: "hc.yaml") } catch { errors = error.errors }
        #expect(errors.count == 2, "\(errors)")
        #expect(errors.contains { $0.file == "hc.yaml" && $0.line == 8 && $0.keyPath == "clusters[0].health_check" && $0.message.contains("needs protocol: http2") },
                "\(errors)")
        #expect(errors.contains { $0.line == 12 && $0.keyPath == "clusters[1].health_check.grpc" && $0.message.contains("one of http, tcp and grpc") }, "\(errors)")
    }
}
