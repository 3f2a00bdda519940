import Foundation
import Testing

/// gRPC end to end: Python's grpcio client (h2c) → gateway → `protocol: http2` cluster → grpcio server.
/// Messages are raw bytes (identity serializers), so no generated code is needed.
@Suite("gRPC through the gateway", .serialized)
struct GRPCTests {
    static func config(_ upstream: String, routeExtra: String = "") -> String {
        simpleConfig(endpoints: [upstream], listenerExtra: "http2: { cleartext: true }", routeExtra: routeExtra, clusterExtra: "protocol: http2")
    }

    /// One call with the Python client; its JSON outcome.
    static func call(_ gateway: TestGateway, _ method: String, timeout: Double = 10) async throws -> [String: Any] {
        let port = gateway.port()
        let output = try await offPool {
            try run(PythonServer.interpreter, [packageRoot + "/Tests/IntegrationTests/Support/python/grpc_client.py",
                                               "127.0.0.1:\(port)", method, String(timeout)])
        }
        guard let object = try JSONSerialization.jsonObject(with: Data(output.stdout.utf8)) as? [String: Any] else {
            throw TestFailure("grpc client said: \(output.stdout) \(output.stderr)")
        }
        return object
    }

    @Test("unary, server-streaming and bidirectional calls pass; a trailers-only error status reaches the client")
    func calls() async throws {
        let server = try PythonServer(script: "grpc_server.py")
        defer { server.stop() }
        try await withGateway(backends: 0, Self.config(server.address)) { gw in
            let unary = try await Self.call(gw, "unary")
            #expect(unary["code"] as? String == "OK")
            #expect(unary["messages"] as? [String] == ["echo:hello"])
            let stream = try await Self.call(gw, "stream")
            #expect(stream["messages"] as? [String] == (0..<5).map { "item-\($0)" })
            let bidi = try await Self.call(gw, "bidi")
            #expect(bidi["messages"] as? [String] == ["re:a", "re:b", "re:c"])
            // The server aborts before any message: grpc-status 5 in a trailers-only response.
            let fail = try await Self.call(gw, "fail")
            #expect(fail["code"] as? String == "NOT_FOUND")
            #expect(fail["details"] as? String == "no such thing")
            let line = try await gw.accessLogLine(path: "/test.Echo/Bidi")
            #expect(line["protocol"] as? String == "HTTP/2")
            #expect(line["status"] as? Int == 200)
        }
    }

    @Test("grpc-timeout bounds the call: the gateway answers DEADLINE_EXCEEDED (HTTP 200, grpc-status 4) itself")
    func deadline() async throws {
        let server = try PythonServer(script: "grpc_server.py")
        defer { server.stop() }
        try await withGateway(backends: 0, Self.config(server.address)) { gw in
            // A raw HTTP/2 request with no deadline of its own: only the gateway can end it early.
            let message = NSTemporaryDirectory() + "grpc-msg-\(UUID().uuidString)"
            defer { try? FileManager.default.removeItem(atPath: message) }
            FileManager.default.createFile(atPath: message, contents: Data([0, 0, 0, 0, 1, 0x78]))
            let started = Date()
            let result = try await offPool {
                try shell("curl -sS --http2-prior-knowledge -D - -o /dev/null -H 'content-type: application/grpc' -H 'te: trailers' " +
                          "-H 'grpc-timeout: 300m' --data-binary @\(message) '\(gw.baseURL)/test.Echo/Slow'")
            }
            let elapsed = Date().timeIntervalSince(started)
            let headers = result.stdout.lowercased()
            #expect(headers.hasPrefix("http/2 200"), "\(result.stdout)")
            #expect(headers.contains("grpc-status: 4"), "\(result.stdout)")
            #expect(elapsed < 2.5, "took \(elapsed) s; the backend answers after 3 s")
            // The real client, whose own deadline is later than the header it sends would let it notice.
            let slow = try await Self.call(gw, "slow", timeout: 1)
            #expect(slow["code"] as? String == "DEADLINE_EXCEEDED")
        }
    }

    @Test("the upstream learns what is left of the gateway's deadline: grpc-timeout is rewritten per try")
    func deadlinePropagation() async throws {
        let server = try PythonServer(script: "grpc_server.py")
        defer { server.stop() }
        func remaining(_ gw: TestGateway, clientTimeout: Double) async throws -> String {
            let result = try await Self.call(gw, "remaining", timeout: clientTimeout)
            #expect(result["code"] as? String == "OK", "\(result)")
            return (result["messages"] as? [String])?.first ?? ""
        }
        // The route gives up after 2 s: a client that would wait 10 s must not make the backend work for 10.
        try await withGateway(backends: 0, Self.config(server.address, routeExtra: "timeouts: { request: 2s }")) { gw in
            let seen = try #require(Double(try await remaining(gw, clientTimeout: 10)))
            #expect(seen > 0.5 && seen <= 2.0, "the backend saw \(seen) s left")
            // The client's own deadline, when sooner, is what is left.
            let sooner = try #require(Double(try await remaining(gw, clientTimeout: 1.2)))
            #expect(sooner > 0.2 && sooner <= 1.2, "the backend saw \(sooner) s left")
        }
        // A per-try timeout bounds each try.
        try await withGateway(backends: 0, simpleConfig(endpoints: [server.address], listenerExtra: "http2: { cleartext: true }",
                                                       clusterExtra: "protocol: http2\nretries: { attempts: 1, per_try_timeout: 700ms }")) { gw in
            let seen = try #require(Double(try await remaining(gw, clientTimeout: 10)))
            #expect(seen > 0.1 && seen <= 0.7, "the backend saw \(seen) s left")
        }
        // No deadline anywhere: none is invented.
        try await withGateway(backends: 0, Self.config(server.address, routeExtra: "timeouts: { request: off }")) { gw in
            // (grpcio reports a call without a deadline as "infinitely" far off.)
            let seen = try await remaining(gw, clientTimeout: 0)
            #expect(seen == "none" || (Double(seen) ?? 0) > 1e9, "the backend saw \(seen) s left")
        }
    }

    @Test("errors the gateway makes for gRPC requests are gRPC statuses: no endpoint → UNAVAILABLE")
    func unavailable() async throws {
        try await withGateway(backends: 0, Self.config("{{closed}}")) { gw in
            let unary = try await Self.call(gw, "unary")
            #expect(unary["code"] as? String == "UNAVAILABLE")
            #expect((unary["details"] as? String ?? "").contains("upstream"), "\(unary)")
            let line = try await gw.accessLogLine(path: "/test.Echo/Unary")
            #expect(line["status"] as? Int == 502)
        }
    }
}
