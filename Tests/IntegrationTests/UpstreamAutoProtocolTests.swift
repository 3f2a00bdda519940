import Foundation
import GatewayCore
import Testing

/// `protocol: auto` on a TLS cluster: ALPN offers h2 and http/1.1 and each endpoint's server decides. The
/// backend is a second gateway (its TLS listener offers h2 by default, or only http/1.1); its access log
/// says which protocol each request arrived with.
@Suite("protocol: auto to upstreams", .serialized)
struct UpstreamAutoProtocolTests {
    static func tls(_ pki: UpstreamPKI) -> String { "{ ca: \"\(pki.path("ca.pem"))\", sni: api.internal }" }

    /// The protocols the backend saw for the requests whose path starts with `prefix`.
    static func backendProtocols(_ setup: UpstreamTLSSetup, prefix: String, count: Int) async throws -> [String] {
        let deadline = Date().addingTimeInterval(10)
        while true {
            let lines = try await setup.backend.accessLog(atLeast: 0, within: 0).filter { ($0["path"] as? String)?.hasPrefix(prefix) == true }
            if lines.count >= count || Date() > deadline { return lines.compactMap { $0["protocol"] as? String } }
            try await Task.sleep(for: .milliseconds(20))
        }
    }

    @Test("a backend that prefers h2 gets HTTP/2, multiplexed over few connections; health probes still speak HTTP/1.1 to it")
    func prefersH2() async throws {
        let clusterExtra = """
            protocol: auto
            panic_threshold: 0
            health_check: { http: { path: /healthz }, interval: 100ms, unhealthy_threshold: 1 }
            """
        try await withUpstreamTLS(tls: Self.tls, clusterExtra: clusterExtra) { setup in
            #expect(try curl(["\(setup.url)/first"]).status == 200)
            let batch = try await curlParallel((0..<12).map { "\(setup.url)/multi/\($0)" }, parallel: 12)
            #expect(batch.statuses.count == 12 && batch.statuses.allSatisfy { $0 == 200 }, "\(batch.statuses)")
            let protocols = try await Self.backendProtocols(setup, prefix: "/multi/", count: 12)
            #expect(protocols.count == 12 && protocols.allSatisfy { $0 == "HTTP/2" }, "\(protocols)")
            // Two front loops; each learns with one connection, then multiplexes on it.
            let handshakes = try setup.backendHandshakes()
            #expect(handshakes <= 4, "handshakes: \(handshakes)")
            // Several probe intervals later the endpoint is still up (a failed probe would take it out: 503).
            try await Task.sleep(for: .milliseconds(600))
            #expect(try curl(["\(setup.url)/after-probes"]).status == 200)
            let probes = try await setup.backend.accessLog(atLeast: 0, within: 0).filter { $0["path"] as? String == "/healthz" }
            #expect(!probes.isEmpty && probes.allSatisfy { $0["protocol"] as? String == "HTTP/1.1" }, "\(probes.map { $0["protocol"] ?? "?" })")
        }
    }

    @Test("a backend that offers only http/1.1 gets HTTP/1.1 with pooled keep-alive connections")
    func onlyHTTP1() async throws {
        try await withUpstreamTLS(tls: Self.tls, backendTLS: { _ in ", alpn: [http/1.1]" }, clusterExtra: "protocol: auto") { setup in
            for n in 0..<6 { #expect(try curl(["\(setup.url)/one/\(n)"]).status == 200) }
            let protocols = try await Self.backendProtocols(setup, prefix: "/one/", count: 6)
            #expect(protocols.count == 6 && protocols.allSatisfy { $0 == "HTTP/1.1" }, "\(protocols)")
            #expect(try setup.backendHandshakes() <= 2, "sequential requests reuse the pooled connection of each loop")
        }
    }

    @Test("an endpoint whose server stops offering h2 is learned again on the next connection: HTTP/2, then HTTP/1.1 after a restart")
    func relearnsAfterRestart() async throws {
        let setup = try await UpstreamTLSSetup.start(tls: Self.tls, clusterExtra: "protocol: auto")
        var second: TestGateway?
        do {
            #expect(try curl(["\(setup.url)/before"]).status == 200)
            #expect(try await Self.backendProtocols(setup, prefix: "/before", count: 1) == ["HTTP/2"])
            // The same address, now offering only http/1.1: the front's HTTP/2 connection ends with the old server.
            let port = setup.backend.port()
            await setup.backend.stop()
            let restarted = try await TestGateway.start(backends: 1, workers: 1,
                                                        UpstreamTLSSetup.backendConfig(setup.pki, tls: ", alpn: [http/1.1]", port: port))
            second = restarted
            var statuses: [Int] = []
            for attempt in 0..<6 { statuses.append(try curl(["\(setup.url)/after/\(attempt)"]).status) }
            // A request may meet the dead connection before the front notices it closed: a 502 at most, once.
            #expect(statuses.filter { $0 != 200 }.count <= 1, "\(statuses)")
            let lines = try await restarted.accessLog(atLeast: 5, within: 10).filter { ($0["path"] as? String)?.hasPrefix("/after/") == true }
            #expect(lines.count >= 5 && lines.allSatisfy { $0["protocol"] as? String == "HTTP/1.1" }, "\(lines.map { $0["protocol"] ?? "?" })")
            // Learned as HTTP/1.1, the endpoint's connections are pooled again: sequential requests reuse one
            // per front loop. (Still taken for h2, each request would open a connection of its own.)
            let handshakes = try UpstreamTLSSetup.metric(restarted, "portcullis_tls_handshakes_total")
            #expect(handshakes <= 3, "handshakes: \(handshakes)")
        } catch {
            Issue.record(error)
        }
        await setup.front.stop()
        await second?.stop()
        setup.pki.remove()
    }

    @Test("a WebSocket upgrade to an endpoint that chose h2 still goes over HTTP/1.1 and becomes a tunnel")
    func webSocketOverAuto() async throws {
        let server = try PythonServer(script: "ws_server.py")
        defer { server.stop() }
        let pki = try UpstreamPKI()
        defer { pki.remove() }
        let backend = try await TestGateway.start(backends: 0, workers: 1, """
            listeners:
              - name: backend
                address: 127.0.0.1:0
                tls: { certificates: [ { cert: "\(pki.path("server.pem"))", key: "\(pki.path("server.key"))" } ] }
                routes: [ { match: { path_prefix: / }, cluster: ws } ]
            clusters:
              - name: ws
                endpoints: [ { address: "\(server.address)" } ]
            """)
        defer { Task { await backend.stop() } }
        let front = """
            listeners:
              - name: front
                address: 127.0.0.1:0
                routes: [ { match: { path_prefix: / }, cluster: secure } ]
            clusters:
              - name: secure
                protocol: auto
                endpoints: [ { address: "127.0.0.1:\(backend.port())" } ]
                tls: \(Self.tls(pki))
            """
        try await withGateway(backends: 0, front) { gw in
            // A plain request first: the endpoint's server chooses h2 (the backend gateway's access log says so).
            #expect(try curl(["\(gw.baseURL)/learn"]).status == 426, "the WebSocket backend refuses a plain GET")
            let learned = try await backend.accessLogLine(path: "/learn")
            #expect(learned["protocol"] as? String == "HTTP/2")
            let result = try await WebSocketTests.client(gw, "/chat", "echo")
            #expect(result["status"] as? Int == 101, "\(result)")
            #expect(result["echo"] as? String == "echo:hello")
            #expect(result["big_ok"] as? Bool == true)
            #expect(result["closed"] as? Bool == true)
        }
    }

    @Test("protocol: auto offers h2 and http/1.1 by default; alpn may narrow it; unknown names are refused at their key; the effective config shows auto")
    func config() throws {
        let auto = try UpstreamTLSConfigTests.parse("{ sni: api.internal }", clusterExtra: "protocol: auto")
        #expect(auto.clusters[0].options.upstreamProtocol == .auto)
        #expect(auto.clusters[0].options.tls?.configuration.alpn == ["h2", "http/1.1"])
        #expect(auto.clusters[0].options.tlsHTTP1Only?.configuration.alpn == ["http/1.1"], "what health probes offer")
        #expect(EffectiveConfigPrinter.yaml(auto).contains("protocol: auto"))
        let narrowed = try UpstreamTLSConfigTests.parse("{ alpn: [http/1.1] }", clusterExtra: "protocol: auto")
        #expect(narrowed.clusters[0].options.tls?.configuration.alpn == ["http/1.1"])
        let plaintext = try UpstreamTLSConfigTests.parse(nil, clusterExtra: "protocol: auto")
        #expect(plaintext.clusters[0].options.effectiveProtocol == .http1, "no ALPN to choose with")
        let errors = UpstreamTLSConfigTests.errors("{ alpn: [h2, spdy/3] }", clusterExtra: "protocol: auto")
        #expect(errors.count == 1 && errors.first?.keyPath == "clusters[0].tls.alpn[1]" && errors.first?.message.contains("spdy/3") == true, "\(errors)")
    }
}
