import EchoBackend
import Foundation
import NIOPosix
import Testing

/// `discovery: dns` against a real DNS server (a small UDP one in the test, whose answers change while
/// the gateway runs) and real echo backends on two loopback addresses with the same port, as
/// addresses of one service name would be.
@Suite("DNS discovery", .serialized)
struct DNSDiscoveryTests {
    /// Two backends on 127.0.0.1:P and 127.0.0.2:P, and the DNS server.
    struct Backends {
        let group: MultiThreadedEventLoopGroup
        let first: EchoServerHandle
        let second: EchoServerHandle
        let dns: DNSTestServer
        var port: Int { first.port }

        static func start() async throws -> Backends {
            let group = MultiThreadedEventLoopGroup(numberOfThreads: 1)
            let first = try await EchoServer.start(host: "127.0.0.1", port: 0, name: "first", group: group)
            let second = try await EchoServer.start(host: "127.0.0.2", port: first.port, name: "second", group: group)
            let dns = try await DNSTestServer.start(group: group)
            return Backends(group: group, first: first, second: second, dns: dns)
        }

        func stop() async {
            await dns.stop()
            try? await first.channel.close()
            try? await second.channel.close()
            try? await group.shutdownGracefully()
        }
    }

    private static func config(_ backends: Backends, refresh: String = "100ms", extra: String = "") -> String {
        """
        admin: { address: 127.0.0.1:0 }
        workers: 2
        listeners:
          - name: public
            address: 127.0.0.1:0
            routes:
              - match: { path_prefix: / }
                cluster: svc
        clusters:
          - name: svc
            discovery: dns
            dns: { refresh: \(refresh), resolvers: [\(backends.dns.address)], timeout: 300ms, family: v4 }
            endpoints: [ { address: "api.svc.test:\(backends.port)" } ]
        \(extra)
        """
    }

    private func names(_ gw: TestGateway, _ count: Int, path: String = "/") async throws -> [String: Int] {
        var seen: [String: Int] = [:]
        for i in 0..<count {
            let result = try await offPool { try curl(["\(gw.baseURL)\(path)?n=\(i)"]) }
            seen[result.status == 200 ? result.header("x-echo-name") ?? "?" : "status \(result.status)", default: 0] += 1
        }
        return seen
    }

    private func endpoints(_ gw: TestGateway) async throws -> [String] {
        let result = try await offPool { try curl(["http://127.0.0.1:\(gw.adminPort)/clusters"]) }
        let clusters = try #require(result.json["clusters"] as? [[String: Any]])
        return ((clusters[0]["endpoints"] as? [[String: Any]]) ?? []).compactMap { $0["address"] as? String }
    }

    /// Polls the admin API until the cluster lists exactly `expected` (bounded).
    private func waitForEndpoints(_ gw: TestGateway, _ expected: [String], within seconds: Double = 5) async throws {
        let deadline = Date().addingTimeInterval(seconds)
        while true {
            let current = try await endpoints(gw)
            if current == expected { return }
            if Date() > deadline { throw TestFailure("endpoints are \(current), expected \(expected)") }
            try await Task.sleep(for: .milliseconds(20))
        }
    }

    /// Waits (bounded) until the gateway has asked the server a few more questions: some refreshes ran.
    private func waitForQuestions(_ dns: DNSTestServer, after count: Int) async throws {
        let deadline = Date().addingTimeInterval(5)
        while dns.questionCount < count + 3 {
            if Date() > deadline { throw TestFailure("the gateway stopped asking the DNS server") }
            try await Task.sleep(for: .milliseconds(20))
        }
    }

    @Test("the first answer is in force before traffic; an added address takes traffic; a removed one stops")
    func followsTheAnswer() async throws {
        let backends = try await Backends.start()
        defer { Task { await backends.stop() } }
        backends.dns.setA("api.svc.test", ["127.0.0.1"])
        try await withGateway(backends: 0, Self.config(backends)) { gw in
            #expect(try await endpoints(gw) == ["127.0.0.1:\(backends.port)"])
            #expect(try await names(gw, 4) == ["first": 4])

            backends.dns.setA("api.svc.test", ["127.0.0.2", "127.0.0.1"])
            try await waitForEndpoints(gw, ["127.0.0.1:\(backends.port)", "127.0.0.2:\(backends.port)"])
            // The loops switch right after the admin view; give each a moment by polling traffic.
            let both = try await names(gw, 12)
            #expect(both["first", default: 0] > 0 && both["second", default: 0] > 0, "both addresses take traffic: \(both)")

            backends.dns.setA("api.svc.test", ["127.0.0.2"])
            try await waitForEndpoints(gw, ["127.0.0.2:\(backends.port)"])
            try await Task.sleep(for: .milliseconds(50))
            #expect(try await names(gw, 6) == ["second": 6])

            let text = try await offPool { try curl(["http://127.0.0.1:\(gw.adminPort)/metrics"]).body }
            #expect(text.contains("portcullis_endpoint_weight{cluster=\"svc\",endpoint=\"127.0.0.2:\(backends.port)\"} 1"))
            #expect(!text.contains("endpoint=\"127.0.0.1:\(backends.port)\""), "the removed endpoint's series are gone")
        }
    }

    @Test("a request in flight on a removed address finishes there")
    func inFlightRequestSurvivesRemoval() async throws {
        let backends = try await Backends.start()
        defer { Task { await backends.stop() } }
        backends.dns.setA("api.svc.test", ["127.0.0.1"])
        try await withGateway(backends: 0, Self.config(backends)) { gw in
            async let slow = offPool { try curl(["\(gw.baseURL)/slow?delay_ms=800"]) }
            // Wait until the slow request has reached the first backend, then move the name away.
            let deadline = Date().addingTimeInterval(5)
            while backends.first.stats.requests == 0 && Date() < deadline { try await Task.sleep(for: .milliseconds(10)) }
            backends.dns.setA("api.svc.test", ["127.0.0.2"])
            try await waitForEndpoints(gw, ["127.0.0.2:\(backends.port)"])
            let result = try await slow
            #expect(result.status == 200)
            #expect(result.header("x-echo-name") == "first")
            try await Task.sleep(for: .milliseconds(50))
            #expect(try await names(gw, 3) == ["second": 3])
        }
    }

    @Test("a failing or silent DNS server keeps the last addresses; NXDOMAIN empties the cluster (503)")
    func lookupFailuresKeepEndpoints() async throws {
        let backends = try await Backends.start()
        defer { Task { await backends.stop() } }
        backends.dns.setA("api.svc.test", ["127.0.0.1"])
        try await withGateway(backends: 0, Self.config(backends)) { gw in
            backends.dns.setFailing(true)
            var before = backends.dns.questionCount
            try await waitForQuestions(backends.dns, after: before)
            #expect(try await endpoints(gw) == ["127.0.0.1:\(backends.port)"])
            #expect(try await names(gw, 2) == ["first": 2])

            backends.dns.setFailing(false)
            backends.dns.setSilent(true)
            before = backends.dns.questionCount
            try await waitForQuestions(backends.dns, after: before)
            #expect(try await endpoints(gw) == ["127.0.0.1:\(backends.port)"])

            backends.dns.setSilent(false)
            backends.dns.remove("api.svc.test")
            try await waitForEndpoints(gw, [])
            try await Task.sleep(for: .milliseconds(50))
            let result = try await offPool { try curl(["\(gw.baseURL)/gone"]) }
            #expect(result.status == 503)
        }
    }

    @Test("a first answer slower than dns.initial_timeout does not hold up the start; the cluster fills in when it arrives")
    func slowFirstAnswer() async throws {
        let backends = try await Backends.start()
        defer { Task { await backends.stop() } }
        backends.dns.setA("api.svc.test", ["127.0.0.1"])
        backends.dns.setDelay(milliseconds: 800)
        let started = Date()
        try await withGateway(backends: 0, Self.config(backends, extra: "").replacingOccurrences(
            of: "timeout: 300ms", with: "timeout: 3s, initial_timeout: 100ms")) { gw in
            #expect(Date().timeIntervalSince(started) < 0.7, "the start did not wait for the 800 ms answer")
            let early = try await offPool { try curl(["\(gw.baseURL)/early"]) }
            #expect(early.status == 503, "no endpoints yet")
            try await waitForEndpoints(gw, ["127.0.0.1:\(backends.port)"])
            try await Task.sleep(for: .milliseconds(50))
            #expect(try await names(gw, 2) == ["first": 2])
        }
    }

    @Test("the system resolver: localhost resolves through /etc/hosts")
    func systemResolver() async throws {
        let yaml = """
        admin: { address: 127.0.0.1:0 }
        listeners:
          - name: public
            address: 127.0.0.1:0
            routes: [ { match: { path_prefix: / }, cluster: svc } ]
        clusters:
          - name: svc
            discovery: dns
            dns: { family: v4 }
            endpoints: [ { address: "localhost:{{echo0port}}" } ]
        """
        let group = MultiThreadedEventLoopGroup(numberOfThreads: 1)
        let echo = try await EchoServer.start(host: "127.0.0.1", port: 0, name: "local", group: group)
        defer { Task { try? await echo.channel.close(); try? await group.shutdownGracefully() } }
        try await withGateway(backends: 0, yaml.replacingOccurrences(of: "{{echo0port}}", with: "\(echo.port)")) { gw in
            #expect(try await endpoints(gw) == ["127.0.0.1:\(echo.port)"])
            let result = try await offPool { try curl(["\(gw.baseURL)/"]) }
            #expect(result.status == 200)
            #expect(result.header("x-echo-name") == "local")
        }
    }

    @Test("with tls, a DNS-found endpoint gets its host name as SNI and is verified against it, not its address")
    func tlsUsesTheHostName() async throws {
        let pki = try UpstreamPKI()
        let scripts = try LuaScripts()
        let dns = try await Backends.start()
        defer {
            pki.remove()
            scripts.remove()
            Task { await dns.stop() }
        }
        // The backend reflects the SNI it was asked for in a header its echo server sends back.
        let sni = try scripts.write("sni.lua", """
            function on_request(ctx)
              ctx.req:set_header("x-seen-sni", ctx.req:tls_sni() or "none")
            end
            """)
        let backend = try await TestGateway.start(backends: 1, workers: 1, """
            listeners:
              - name: backend
                address: 127.0.0.1:0
                tls: { certificates: [ { cert: "\(pki.path("server.pem"))", key: "\(pki.path("server.key"))" } ] }
                filters: [ { lua: { script: "\(sni)" } } ]
                routes: [ { match: { path_prefix: / }, cluster: echo } ]
            clusters:
              - name: echo
                endpoints: [ { address: "{{echo0}}" } ]
            """)
        dns.dns.setA("api.internal", ["127.0.0.1"])
        let front = """
            listeners:
              - name: public
                address: 127.0.0.1:0
                routes: [ { match: { path_prefix: / }, cluster: svc } ]
            clusters:
              - name: svc
                discovery: dns
                dns: { resolvers: [\(dns.dns.address)], family: v4 }
                endpoints: [ { address: "api.internal:\(backend.port())" } ]
                tls: { ca: "\(pki.path("ca.pem"))" }
            """
        do {
            try await withGateway(backends: 0, front) { gw in
                let result = try await offPool { try curl(["\(gw.baseURL)/tls"]) }
                #expect(result.status == 200)
                let headers = try #require(result.json["headers"] as? [String: String])
                #expect(headers["x-seen-sni"] == "api.internal")
                let line = try await gw.accessLogLine(path: "/tls")
                #expect(line["upstream_addr"] as? String == "127.0.0.1:\(backend.port())", "the log names the address: \(line)")
            }
        } catch {
            await backend.stop()
            throw error
        }
        await backend.stop()
    }
}
