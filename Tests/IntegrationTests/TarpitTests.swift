import Foundation
import Testing

/// `tarpit` over real sockets: pacing measured with a raw socket's arrival times.
@Suite("tarpit")
struct TarpitTests {
    static func config(listenerFilters: String, proxyProtocol: Bool = false, workers: Int = 2) -> String {
        """
        workers: \(workers)
        access_log: { metadata: [tarpit.decision, rate_limit.decision] }
        listeners:
          - name: test
            address: 127.0.0.1:0
            proxy_protocol: \(proxyProtocol ? "v1" : "off")
            http2: { cleartext: true }
            filters: \(listenerFilters)
            routes:
              - match: { path_prefix: / }
                cluster: backend
        clusters:
          - name: backend
            endpoints: [ { address: "{{echo0}}" } ]
        """
    }

    @Test("a matched client waits the delay, then gets the body dripped; an unmatched one is served at once")
    func delayedAndDripped() async throws {
        let tarpit = "[ { tarpit: { match: { addresses: [203.0.113.0/24] }, delay: 300ms, drip: { bytes: 4, interval: 100ms }, body: \"0123456789abcdef\" } } ]"
        try await withGateway(Self.config(listenerFilters: tarpit, proxyProtocol: true)) { gw in
            let start = Date()
            let client = try RawClient(port: gw.port())
            try client.send("PROXY TCP4 203.0.113.9 127.0.0.1 5000 80\r\nGET /slow HTTP/1.1\r\nHost: t\r\n\r\n")
            // Read on this thread, ready before the bytes come (0.6 s of blocking), so arrivals are timed as they happen.
            let (response, arrivals) = client.readTimedResponse(since: start)
            let reply = try #require(response)
            #expect(reply.status == 429)
            #expect(reply.header("retry-after") == "60")
            #expect(reply.body == "0123456789abcdef")
            let first = try #require(arrivals.first).seconds
            let last = try #require(arrivals.last).seconds
            // Nothing before the delay; then 4 pieces of 4 bytes, 100 ms apart: the last no sooner than 0.6 s
            // after the request (a reader that falls behind only sees pieces later, never sooner).
            #expect(first >= 0.3, "first byte after \(first)s")
            #expect(last >= 0.58, "last byte after \(last)s: \(arrivals)")
            #expect(arrivals.count >= 2, "\(arrivals)")
            #expect(gw.echoes[0].stats.requests == 0)
            print("tarpit: first byte at \(String(format: "%.3f", first)) s, last at \(String(format: "%.3f", last)) s, \(arrivals.count) reads")

            let other = try RawClient(port: gw.port())
            try other.send("PROXY TCP4 198.51.100.7 127.0.0.1 5000 80\r\nGET /fast HTTP/1.1\r\nHost: t\r\n\r\n")
            let fast = try other.readResponses(1)[0]
            #expect(fast.status == 200)
            #expect((try await gw.accessLogLine(path: "/fast")["duration_ms"] as? Double ?? 1e9) < 250)
            let line = try await gw.accessLogLine(path: "/slow")
            #expect((line["metadata"] as? [String: Any])?["tarpit.decision"] as? String == "tarpitted:address")
            #expect(line["local_reply_filter"] as? String == "tarpit")
        }
    }

    @Test("a dripped reply paces HTTP/2 too")
    func http2() async throws {
        let tarpit = "[ { tarpit: { match: { headers: { user-agent: \"*sqlmap*\" } }, delay: 200ms, drip: { bytes: 8, interval: 100ms }, body: \"0123456789abcdef01234567\" } } ]"
        try await withGateway(Self.config(listenerFilters: tarpit)) { gw in
            let started = Date()
            let result = try await offPool { try curl(["--http2-prior-knowledge", "-A", "sqlmap/1.7", "\(gw.baseURL)/h2"]) }
            let elapsed = Date().timeIntervalSince(started)
            #expect(result.status == 429)
            #expect(result.body == "0123456789abcdef01234567")
            #expect(elapsed >= 0.2 + 0.2, "\(elapsed)")
            let plain = try curl(["--http2-prior-knowledge", "-A", "curl/8", "\(gw.baseURL)/h2ok"])
            #expect(plain.status == 200)
        }
    }

    @Test("over max_concurrent, the next matched client gets an immediate plain reject")
    func cap() async throws {
        let tarpit = "[ { tarpit: { match: { addresses: [127.0.0.0/8] }, delay: 1s, drip: off, max_concurrent: 1 } } ]"
        try await withGateway(Self.config(listenerFilters: tarpit)) { gw in
            // Two requests sent back to back on two connections: whichever the gateway sees first is held,
            // the other is refused at once. Times are the gateway's own (access log): the test's threads
            // may be slowed by other tests.
            let clients = try [RawClient(port: gw.port()), RawClient(port: gw.port())]
            for (index, client) in clients.enumerated() { try client.send("GET /cap\(index) HTTP/1.1\r\nHost: t\r\n\r\n") }
            for client in clients {
                let status = try await offPool { try client.readResponses(1)[0].status }
                #expect(status == 429)
            }
            var byDecision: [String: Double] = [:]
            for index in 0..<2 {
                let line = try await gw.accessLogLine(path: "/cap\(index)")
                let decision = (line["metadata"] as? [String: Any])?["tarpit.decision"] as? String ?? "none"
                byDecision[decision] = line["duration_ms"] as? Double
            }
            #expect(Set(byDecision.keys) == ["tarpitted:address", "rejected:address"])
            #expect((byDecision["rejected:address"] ?? 1e9) < 100, "\(byDecision)")
            #expect((byDecision["tarpitted:address"] ?? 0) >= 1000, "\(byDecision)")
            // The place is free again: the next one is held, not refused.
            let again = Date()
            _ = try await offPool { try curl(["\(gw.baseURL)/c"]) }
            #expect(Date().timeIntervalSince(again) >= 1.0)
        }
    }

    @Test("after N 4xx answers within the window, the client is tarpitted")
    func tooMany4xx() async throws {
        let tarpit = "[ { tarpit: { match: { too_many_4xx: { count: 3, window: 1m } }, delay: 300ms, drip: off } } ]"
        try await withGateway(Self.config(listenerFilters: tarpit)) { gw in
            try #expect(curl(["\(gw.baseURL)/ok"]).status == 200)
            for index in 0..<3 {
                try #expect(curl(["\(gw.baseURL)/missing\(index)?status=404"]).status == 404)
                let line = try await gw.accessLogLine(path: "/missing\(index)?status=404")
                #expect((line["duration_ms"] as? Double ?? 1e9) < 250, "not tarpitted yet")
            }
            let started = Date()
            let result = try await offPool { try curl(["\(gw.baseURL)/next"]) }
            #expect(result.status == 429)
            #expect(Date().timeIntervalSince(started) >= 0.3)
            let line = try await gw.accessLogLine(path: "/next")
            #expect((line["metadata"] as? [String: Any])?["tarpit.decision"] as? String == "tarpitted:too_many_4xx")
        }
    }

    @Test("a rate_limit after the tarpit that refuses a request has its 429 slowed down")
    func rateLimitHits() async throws {
        let filters = "[ { tarpit: { match: { rate_limited: true }, delay: 300ms, drip: off } }, { rate_limit: { rate: 1/h, burst: 1 } } ]"
        try await withGateway(Self.config(listenerFilters: filters)) { gw in
            try #expect(curl(["\(gw.baseURL)/one"]).status == 200)
            #expect((try await gw.accessLogLine(path: "/one")["duration_ms"] as? Double ?? 1e9) < 250)
            let started = Date()
            let result = try await offPool { try curl(["\(gw.baseURL)/two"]) }
            #expect(result.status == 429)
            #expect(result.header("retry-after") == "60")
            #expect(Date().timeIntervalSince(started) >= 0.3)
            let line = try await gw.accessLogLine(path: "/two")
            let metadata = line["metadata"] as? [String: Any]
            #expect(metadata?["rate_limit.decision"] as? String == "limited")
            #expect(metadata?["tarpit.decision"] as? String == "tarpitted:rate_limited")
        }
    }

    @Test("a client that leaves mid-drip frees its place at once: the dripping stops and the next client is held, not refused")
    func leaverFreesPlace() async throws {
        let tarpit = "[ { tarpit: { match: { addresses: [127.0.0.0/8] }, delay: 0, drip: { bytes: 1, interval: 200ms }, body: abcd, max_concurrent: 1 } } ]"
        try await withGateway(Self.config(listenerFilters: tarpit)) { gw in
            do {
                let leaver = try RawClient(port: gw.port())
                try leaver.send("GET /leaver HTTP/1.1\r\nHost: t\r\n\r\n")
                var byte: UInt8 = 0
                // The head and the first dripped byte arrive; then the client goes away (RawClient closes on deinit).
                #expect(recv(leaver.fdForTests, &byte, 1, 0) == 1)
            }
            let line = try await gw.accessLogLine(path: "/leaver")
            #expect(line["status"] as? Int == 499)
            // Before the 4-byte body could have dripped out (600 ms).
            #expect((line["duration_ms"] as? Double ?? 1e9) < 600)
            let next = try RawClient(port: gw.port())
            try next.send("GET /next HTTP/1.1\r\nHost: t\r\n\r\n")
            let status = try await offPool { try next.readResponses(1)[0].status }
            #expect(status == 429)
            let nextLine = try await gw.accessLogLine(path: "/next", within: 15)
            #expect((nextLine["metadata"] as? [String: Any])?["tarpit.decision"] as? String == "tarpitted:address")
        }
    }
}
