import Foundation
import Testing

/// WebSocket (HTTP/1.1 `Upgrade: websocket`) through the gateway: a Python client that masks its frames as
/// RFC 6455 says, → gateway → a Python backend that checks the handshake and echoes frames.
@Suite("WebSocket tunnels", .serialized)
struct WebSocketTests {
    static func client(_ gateway: TestGateway, _ path: String, _ mode: String, listener: String? = nil, ca: String? = nil) async throws -> [String: Any] {
        let port = gateway.port(listener)
        let output = try await offPool {
            try run(PythonServer.interpreter, [packageRoot + "/Tests/IntegrationTests/Support/python/ws_client.py",
                                               "127.0.0.1:\(port)", path, mode] + (ca.map { [$0] } ?? []))
        }
        guard let object = try JSONSerialization.jsonObject(with: Data(output.stdout.utf8)) as? [String: Any] else {
            throw TestFailure("ws client said: \(output.stdout) \(output.stderr)")
        }
        return object
    }

    /// A listener metric of the gateway's `/metrics`, summed over its lines.
    static func metric(_ gateway: TestGateway, _ name: String) throws -> Int {
        try curl(["http://127.0.0.1:\(gateway.adminPort)/metrics"]).body.split(separator: "\n")
            .filter { $0.hasPrefix(name + "{") }
            .compactMap { $0.split(separator: " ").last.flatMap { Int($0) } }
            .reduce(0, +)
    }

    @Test("a handshake becomes a tunnel: the backend's 101 and accept key, frames both ways (200 KB too), a clean close, one access-log line with 101")
    func echo() async throws {
        let server = try PythonServer(script: "ws_server.py")
        defer { server.stop() }
        try await withGateway(backends: 0, simpleConfig(endpoints: [server.address])) { gw in
            let result = try await Self.client(gw, "/chat", "echo")
            #expect(result["status"] as? Int == 101, "\(result)")
            #expect(result["accept_ok"] as? Bool == true)
            #expect(result["backend"] as? String == "ws")
            // Sent by the backend in the same segment as its 101: it must not be lost in the switch.
            #expect(result["greeting"] as? String == "hello from backend")
            #expect(result["echo"] as? String == "echo:hello")
            #expect(result["big_ok"] as? Bool == true)
            #expect(result["closed"] as? Bool == true)
            // Logged when the tunnel closed, with what went through it: the client's frames (masked, with
            // headers) and the backend's (greeting and echoes).
            let line = try await gw.accessLogLine(path: "/chat")
            #expect(line["status"] as? Int == 101)
            #expect(line["method"] as? String == "GET")
            let bytesIn = try #require(line["bytes_in"] as? Int)
            let bytesOut = try #require(line["bytes_out"] as? Int)
            #expect(bytesIn > 200 * 1024 && bytesIn < 201 * 1024, "\(line)")
            #expect(bytesOut > 200 * 1024 + 5 && bytesOut < 201 * 1024, "\(line)")
        }
    }

    @Test("wss: the same over a TLS listener")
    func overTLS() async throws {
        let server = try PythonServer(script: "ws_server.py")
        defer { server.stop() }
        let pki = try UpstreamPKI()
        defer { pki.remove() }
        let tls = "tls: { certificates: [ { cert: \"\(pki.path("server.pem"))\", key: \"\(pki.path("server.key"))\" } ] }"
        try await withGateway(backends: 0, simpleConfig(endpoints: [server.address], listenerExtra: tls)) { gw in
            let result = try await Self.client(gw, "/secure", "echo", ca: pki.path("ca.pem"))
            #expect(result["status"] as? Int == 101, "\(result)")
            #expect(result["echo"] as? String == "echo:hello")
            #expect(result["big_ok"] as? Bool == true)
        }
    }

    @Test("a route with websocket: false passes no Upgrade on: the backend answers 426 and the connection stays HTTP")
    func disabled() async throws {
        let server = try PythonServer(script: "ws_server.py")
        defer { server.stop() }
        try await withGateway(backends: 0, simpleConfig(endpoints: [server.address], routeExtra: "websocket: false")) { gw in
            let result = try await Self.client(gw, "/chat", "refused")
            #expect(result["status"] as? Int == 426, "\(result)")
            #expect(result["body"] as? String == "no upgrade: none")
            #expect(result["next_status"] as? Int == 426)
        }
    }

    @Test("a backend that refuses the handshake answers as usual, and the connection carries the next request")
    func refused() async throws {
        let server = try PythonServer(script: "ws_server.py")
        defer { server.stop() }
        try await withGateway(backends: 0, simpleConfig(endpoints: [server.address])) { gw in
            let result = try await Self.client(gw, "/deny", "refused")
            #expect(result["status"] as? Int == 403, "\(result)")
            #expect(result["body"] as? String == "denied")
            #expect(result["next_status"] as? Int == 426)
            #expect(result["next_body"] as? String == "no upgrade: none")
        }
    }

    @Test("a client that goes away closes its tunnel's upstream connection too")
    func closePropagates() async throws {
        let server = try PythonServer(script: "ws_server.py")
        defer { server.stop() }
        try await withGateway(backends: 0, "admin: { address: 127.0.0.1:0 }\n" + simpleConfig(endpoints: [server.address])) { gw in
            async let held = Self.client(gw, "/gone", "hold")
            // While it is open, the tunnel shows in the gauge.
            var active = 0
            let shown = Date().addingTimeInterval(5)
            while Date() < shown && active != 1 {
                active = try await offPool { try Self.metric(gw, "portcullis_active_tunnels") }
                if active != 1 { try await Task.sleep(for: .milliseconds(20)) }
            }
            #expect(active == 1)
            let result = try await held
            #expect(result["status"] as? Int == 101, "\(result)")
            // The backend counts the WebSocket connections it holds; the gateway must close its side.
            let deadline = Date().addingTimeInterval(5)
            var open = "?"
            while Date() < deadline {
                open = try await offPool { try shell("curl -sS 'http://\(server.address)/stats'") }.stdout
                if open == "0" { break }
                try await Task.sleep(for: .milliseconds(50))
            }
            #expect(open == "0", "the backend still holds \(open) tunnel(s)")
            #expect(try Self.metric(gw, "portcullis_websocket_upgrades_total") == 1)
            #expect(try Self.metric(gw, "portcullis_active_tunnels") == 0)
            let line = try await gw.accessLogLine(path: "/gone")
            #expect(line["status"] as? Int == 101)
        }
    }

    @Test("a tunnel without traffic is closed after the listener's idle timeout")
    func idle() async throws {
        let server = try PythonServer(script: "ws_server.py")
        defer { server.stop() }
        try await withGateway(backends: 0, simpleConfig(endpoints: [server.address], listenerExtra: "timeouts: { idle: 400ms }")) { gw in
            let result = try await Self.client(gw, "/quiet", "idle")
            #expect(result["status"] as? Int == 101, "\(result)")
            let closedAfter = try #require(result["closed_after"] as? Double)
            #expect(closedAfter >= 0.3 && closedAfter < 3, "closed after \(closedAfter) s")
        }
    }
}
