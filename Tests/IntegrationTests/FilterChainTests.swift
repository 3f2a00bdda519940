import Foundation
import Testing

/// The filter chain's semantics over real sockets, with the test-only `probe` filter (Support/ProbeFilter.swift).
@Suite("Filter chain")
struct FilterChainTests {
    /// A listener with filter `a`, a route `/f/` with filters from `routeFilters`, a plain route `/plain/`,
    /// and two clusters (`backend` on echo-0, `other` on echo-1).
    static func config(listenerFilters: String = "[ { probe: { id: a } } ]", routeFilters: String, accessLog: String = "") -> String {
        """
        workers: 2
        \(accessLog)
        listeners:
          - name: test
            address: 127.0.0.1:0
            filters: \(listenerFilters)
            routes:
              - match: { path_prefix: /f/ }
                cluster: backend
                limits: { max_body_bytes: 64 }
                filters: \(routeFilters)
              - match: { path_prefix: /plain/ }
                cluster: backend
              - match: { path_prefix: /other/ }
                cluster: other
        clusters:
          - name: backend
            endpoints: [ { address: "{{echo0}}" } ]
          - name: other
            endpoints: [ { address: "{{echo1}}" } ]
        """
    }

    @Test("request hooks run listener filters then route filters in order; response hooks run in reverse")
    func order() async throws {
        try await withGateway(backends: 2, Self.config(routeFilters: "[ { probe: { id: b } }, { probe: { id: c } } ]")) { gw in
            let result = try curl(["-H", "X-Request-Id: order-1", "\(gw.baseURL)/f/x"])
            #expect(result.status == 200)
            let headers = try #require(result.json["headers"] as? [String: Any])
            #expect(headers["x-probe-chain"] as? String == "a, b, c")
            #expect(result.headerValues("x-probe-response") == ["c", "b", "a"])
            _ = try await gw.accessLogLine(path: "/f/x")
            #expect(ProbeLog.events("order-1") == ["head:a", "head:b", "head:c", "response:c", "response:b", "response:a",
                                                   "complete:a:200", "complete:b:200", "complete:c:200"])
        }
    }

    @Test("a filter setting a received-line field from bytes: plain bytes go in as they are; a CR or LF never starts a line of its own upstream")
    func plainValueBytes() async throws {
        for (value, expected) in [("plain  value", "plain  value"), ("a\\r\\nx-injected: 1", nil)] {
            let yaml = Self.config(listenerFilters: "[]", routeFilters: "[ { probe: { id: b, plain_set: \"\(value)\" } } ]")
            try await withGateway(backends: 2, yaml) { gw in
                let result = try curl(["\(gw.baseURL)/f/x"])
                #expect(result.status == 200)
                let headers = try #require(result.json["headers"] as? [String: Any])
                #expect(headers["x-injected"] == nil, "\(headers)")
                let set = try #require(headers["x-probe-plain"] as? String)
                if let expected {
                    #expect(set == expected)
                } else {
                    #expect(set.hasPrefix("a") && set.hasSuffix("x-injected: 1") && !set.contains("\r") && !set.contains("\n"), "\(set)")
                }
            }
        }
    }

    @Test("a filter that responds stops the request: later filters and the upstream never see it, earlier filters' response hooks do")
    func respondShortCircuits() async throws {
        try await withGateway(backends: 2, Self.config(routeFilters: "[ { probe: { id: b, respond: 418 } }, { probe: { id: c } } ]")) { gw in
            let result = try curl(["-H", "X-Request-Id: respond-1", "\(gw.baseURL)/f/x"])
            #expect(result.status == 418)
            #expect(result.body == "probe b says 418\n")
            #expect(result.header("x-probe-reply") == "b")
            #expect(result.headerValues("x-probe-response") == ["a"])
            #expect(gw.echoes[0].stats.requests == 0)
            let line = try await gw.accessLogLine(path: "/f/x")
            #expect(line["status"] as? Int == 418)
            #expect(line["local_reply_filter"] as? String == "probe")
            #expect(line["upstream_addr"] is NSNull)
            let events = ProbeLog.events("respond-1")
            #expect(!events.contains("head:c"))
            #expect(events.filter { $0.hasPrefix("complete:") }.sorted() == ["complete:a:418", "complete:b:418", "complete:c:418"])
        }
    }

    @Test("a suspended filter resumes with its future's verdict on the stream's loop, then the chain goes on")
    func suspendAndResume() async throws {
        try await withGateway(backends: 2, Self.config(routeFilters: "[ { probe: { id: b, suspend_ms: 50 } }, { probe: { id: c } } ]")) { gw in
            // Several at once over two event loops: each resumes where it stopped.
            let clients = try (0..<6).map { _ in try RawClient(port: gw.port()) }
            for (index, client) in clients.enumerated() {
                try client.send("POST /f/s\(index) HTTP/1.1\r\nHost: t\r\nX-Request-Id: suspend-\(index)\r\nContent-Length: 6\r\n\r\nbody-\(index)")
            }
            for (index, client) in clients.enumerated() {
                let response = try #require(try client.readResponses(1).first)
                #expect(response.status == 200)
                let headers = try #require(response.json["headers"] as? [String: Any])
                #expect(headers["x-probe-chain"] as? String == "a, b, c")
                #expect(response.json["body"] as? String == "body-\(index)")
                let events = ProbeLog.events("suspend-\(index)").filter { !$0.hasPrefix("resumed:") }
                #expect(Array(events.prefix(4)) == ["head:a", "head:b", "resuming:b", "head:c"])
            }
        }
    }

    @Test("a suspended filter can answer after resuming")
    func suspendThenRespond() async throws {
        try await withGateway(backends: 2, Self.config(routeFilters: "[ { probe: { id: b, suspend_ms: 20, respond: 429 } } ]")) { gw in
            let result = try curl(["\(gw.baseURL)/f/x"])
            #expect(result.status == 429)
            #expect(result.headerValues("x-probe-response") == ["a"])
            #expect(gw.echoes[0].stats.requests == 0)
        }
    }

    @Test("a throwing hook answers 500 and names the filter in the access log's error", arguments: ["request_head", "future", "response_head"])
    func throwing(_ place: String) async throws {
        try await withGateway(backends: 2, Self.config(routeFilters: "[ { probe: { id: b, throw: \(place)\(place == "future" ? ", suspend_ms: 10" : "") } } ]")) { gw in
            let result = try curl(["-H", "X-Request-Id: throw-\(place)", "\(gw.baseURL)/f/x"])
            #expect(result.status == 500)
            #expect(result.body.contains("filter 'probe' failed: probe exploded"))
            let line = try await gw.accessLogLine(path: "/f/x")
            #expect(line["status"] as? Int == 500)
            #expect(line["error"] as? String == "filter 'probe' failed: probe exploded")
            #expect(line["error_source"] as? String == "internal")
            #expect(ProbeLog.events("throw-\(place)").filter { $0.hasPrefix("complete:") }.sorted() == ["complete:a:500", "complete:b:500"])
            #expect(gw.echoes[0].stats.requests == (place == "response_head" ? 1 : 0))
        }
    }

    @Test("a client that leaves while a filter is suspended: onComplete runs once, the late verdict is dropped, nothing goes upstream")
    func clientAbortWhileSuspended() async throws {
        try await withGateway(backends: 2, Self.config(routeFilters: "[ { probe: { id: b, suspend_ms: 1000 } } ]")) { gw in
            do {
                // Sent and closed at once: the gateway reads the request, then the end of the connection,
                // well before the filter's second is over.
                let client = try RawClient(port: gw.port())
                try client.send("GET /f/abort HTTP/1.1\r\nHost: t\r\nX-Request-Id: abort-1\r\n\r\n")
            }
            let line = try await gw.accessLogLine(path: "/f/abort")
            #expect(line["status"] as? Int == 499)
            try await ProbeLog.wait(for: "resumed:b", of: "abort-1")
            // "resumed" is recorded after the promise is completed, so its callbacks are already queued on
            // the stream's loop: one task through every loop runs after them.
            for loop in gw.group.makeIterator() { try await loop.submit {}.get() }
            let events = ProbeLog.events("abort-1")
            #expect(events.contains("head:b"))
            #expect(events.filter { $0.hasPrefix("complete:") }.sorted() == ["complete:a:499", "complete:b:499"])
            #expect(!events.contains("response:b"))
            #expect(gw.echoes[0].stats.requests == 0)
            #expect(try await gw.accessLog(atLeast: 1).count == 1)
        }
    }

    @Test("a route without filters is untouched by the listener-less chain of another route")
    func routeWithoutFilters() async throws {
        let yaml = Self.config(listenerFilters: "[]", routeFilters: "[ { probe: { id: b } } ]")
        try await withGateway(backends: 2, yaml) { gw in
            let plain = try curl(["-H", "X-Request-Id: plain-1", "\(gw.baseURL)/plain/x"])
            #expect(plain.status == 200)
            let headers = try #require(plain.json["headers"] as? [String: Any])
            #expect(headers["x-probe-chain"] == nil)
            #expect(plain.headerValues("x-probe-response").isEmpty)
            let filtered = try curl(["-H", "X-Request-Id: filtered-1", "\(gw.baseURL)/f/x"])
            #expect(filtered.headerValues("x-probe-response") == ["b"])
            _ = try await gw.accessLogLine(path: "/plain/x")
            #expect(ProbeLog.events("plain-1").isEmpty)
        }
    }

    @Test("filters pass typed metadata to each other, and the access log prints the configured names")
    func metadata() async throws {
        let yaml = Self.config(listenerFilters: "[ { probe: { id: a, metadata: from-a } } ]",
                               routeFilters: "[ { probe: { id: b, copy_metadata_from: a, metadata: \"b \\\"quoted\\\"\" } } ]",
                               accessLog: "access_log: { metadata: [probe.a, probe.b, probe.none] }")
        try await withGateway(backends: 2, yaml) { gw in
            let result = try curl(["\(gw.baseURL)/f/m"])
            let headers = try #require(result.json["headers"] as? [String: Any])
            #expect(headers["x-probe-seen"] as? String == "from-a")
            let line = try await gw.accessLogLine(path: "/f/m")
            let metadata = try #require(line["metadata"] as? [String: Any])
            #expect(metadata["probe.a"] as? String == "from-a")
            #expect(metadata["probe.b"] as? String == "b \"quoted\"")
            #expect(metadata["probe.none"] is NSNull)
            _ = try curl(["\(gw.baseURL)/plain/m"])
            let plain = try await gw.accessLogLine(path: "/plain/m")
            #expect((plain["metadata"] as? [String: Any])?["probe.a"] as? String == "from-a", "listener filters run on every route")
        }
    }

    @Test("a listener filter steers the request: it may pick the cluster, and a path rewrite changes the route")
    func steering() async throws {
        let yaml = Self.config(listenerFilters: "[ { headers: { path_prefix_rewrite: { from: /old/, to: /other/ } } } ]",
                               routeFilters: "[ { probe: { id: b, set_cluster: other } } ]")
        try await withGateway(backends: 2, yaml) { gw in
            let rewritten = try curl(["\(gw.baseURL)/old/x?q=1"])
            #expect(rewritten.status == 200)
            #expect(rewritten.json["name"] as? String == "echo-1")
            #expect(rewritten.json["path"] as? String == "/other/x?q=1")
            let steered = try curl(["\(gw.baseURL)/f/y"])
            #expect(steered.json["name"] as? String == "echo-1")
            let line = try await gw.accessLogLine(path: "/f/y")
            #expect(line["upstream_cluster"] as? String == "other")
            #expect(gw.echoes[0].stats.requests == 0)
        }
    }

    @Test("bufferBody hands the whole body to the filter before anything goes upstream, with its new length; 413 beyond the route limit")
    func bufferBody() async throws {
        try await withGateway(backends: 2, Self.config(routeFilters: "[ { probe: { id: b, buffer: true } } ]")) { gw in
            let result = try curl(["-H", "Transfer-Encoding: chunked", "--data-binary", "hello", "\(gw.baseURL)/f/buf"])
            #expect(result.status == 200)
            #expect(result.json["body"] as? String == "hello+b")
            #expect(result.json["body_bytes"] as? Int == 7)
            let headers = try #require(result.json["headers"] as? [String: Any])
            #expect(headers["content-length"] as? String == "7")
            #expect(headers["transfer-encoding"] == nil)
            let tooLarge = try curl(["-H", "Transfer-Encoding: chunked", "--data-binary", String(repeating: "x", count: 100), "\(gw.baseURL)/f/big"])
            #expect(tooLarge.status == 413)
            #expect(gw.echoes[0].stats.requests == 1)
        }
    }
}
