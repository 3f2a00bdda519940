import Foundation
import Testing

@Suite("Timeouts")
struct TimeoutTests {
    @Test("a backend slower than the request timeout gets 504 and an access-log line saying so")
    func requestTimeout() async throws {
        try await withGateway(simpleConfig(routeExtra: "timeouts: { request: 300ms }")) { gw in
            let started = Date()
            let result = try curl(["\(gw.baseURL)/slow?delay_ms=3000"])
            #expect(result.status == 504)
            #expect(Date().timeIntervalSince(started) < 2.5)
            #expect(result.body.contains("upstream request timeout"))
            let line = try await gw.accessLogLine(path: "/slow?delay_ms=3000")
            #expect(line["error"] as? String == "request timeout")
            #expect(line["error_source"] as? String == "upstream")
        }
    }

    @Test("an endpoint that never completes the TCP handshake hits the connect timeout: 504")
    func connectTimeout() async throws {
        // A listening socket whose accept queue is full drops further SYNs, so connect() hangs.
        let blackhole = try BlackholeListener()
        try await withGateway(simpleConfig(endpoints: ["127.0.0.1:\(blackhole.port)"], clusterExtra: "timeouts: { connect: 200ms }")) { gw in
            let started = Date()
            let result = try curl(["\(gw.baseURL)/connect"])
            #expect(result.status == 504)
            #expect(Date().timeIntervalSince(started) < 3)
            let line = try await gw.accessLogLine(path: "/connect")
            #expect(line["error"] as? String == "upstream connect timeout")
        }
        withExtendedLifetime(blackhole) {}
    }

    @Test("an idle keep-alive client connection is closed after the idle timeout")
    func downstreamIdle() async throws {
        try await withGateway(simpleConfig(listenerExtra: "timeouts: { idle: 300ms }")) { gw in
            let client = try RawClient(port: gw.port(), timeoutSeconds: 3)
            try client.send("GET / HTTP/1.1\r\nHost: t\r\n\r\n")
            #expect(try client.readResponses(1).first?.status == 200)
            let started = Date()
            #expect(client.isClosedByPeer())
            let waited = Date().timeIntervalSince(started)
            #expect(waited > 0.2 && waited < 2.5)
        }
    }

    @Test("a client dribbling its request head gets 408 after the header timeout (slowloris)")
    func headerReadTimeout() async throws {
        try await withGateway(simpleConfig(listenerExtra: "timeouts: { header_read: 300ms, idle: 10s }")) { gw in
            let client = try RawClient(port: gw.port(), timeoutSeconds: 3)
            try client.send("GET / HTTP/1.1\r\nHost: t\r\n")
            try await Task.sleep(for: .milliseconds(150))
            try client.send("X-A: 1\r\n")
            let (text, closed) = client.readUntilClose()
            #expect(text.hasPrefix("HTTP/1.1 408 "))
            #expect(closed)
            #expect(gw.echoes[0].stats.requests == 0)
        }
    }

    @Test("a client that stops sending its body gets 408 after the body timeout")
    func bodyReadTimeout() async throws {
        try await withGateway(simpleConfig(listenerExtra: "timeouts: { body_read: 300ms }")) { gw in
            let client = try RawClient(port: gw.port(), timeoutSeconds: 3)
            try client.send("POST /upload HTTP/1.1\r\nHost: t\r\nContent-Length: 100\r\n\r\n0123456789")
            let (text, closed) = client.readUntilClose()
            #expect(text.hasPrefix("HTTP/1.1 408 "))
            #expect(closed)
            let line = try await gw.accessLogLine(path: "/upload")
            #expect(line["error"] as? String == "request body read timeout")
            #expect(line["bytes_in"] as? Int == 10)
        }
    }

    @Test("idle pooled upstream connections are closed after the upstream idle timeout")
    func upstreamIdle() async throws {
        try await withGateway(workers: 1, simpleConfig(clusterExtra: "timeouts: { idle: 200ms }", workers: 1)) { gw in
            let first = try curl(["\(gw.baseURL)/"]).json["connection"] as? Int
            let second = try curl(["\(gw.baseURL)/"]).json["connection"] as? Int
            #expect(first == second)
            try await Task.sleep(for: .milliseconds(700))
            let third = try curl(["\(gw.baseURL)/"]).json["connection"] as? Int
            #expect(third != first)
            #expect(gw.echoes[0].stats.connections == 2)
        }
    }
}

/// A loopback listener that never accepts, with its backlog filled, so new connections hang in SYN.
final class BlackholeListener {
    let port: Int
    private let listener: Int32
    private let fillers: [Int32]

    init() throws {
        let listener = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        self.listener = listener
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        var length = socklen_t(MemoryLayout<sockaddr_in>.size)
        _ = withUnsafeMutablePointer(to: &address) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(listener, $0, length) } }
        _ = withUnsafeMutablePointer(to: &address) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(listener, $0, &length) } }
        self.port = Int(UInt16(bigEndian: address.sin_port))
        listen(listener, 0)
        // Fill the accept queue with non-blocking connects that complete and are never accepted.
        var fillers: [Int32] = []
        for _ in 0..<4 {
            let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_NONBLOCK.rawValue), 0)
            _ = withUnsafeMutablePointer(to: &address) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(fd, $0, length) } }
            fillers.append(fd)
        }
        self.fillers = fillers
        usleep(100_000)
    }

    deinit {
        for fd in fillers { close(fd) }
        close(listener)
    }
}
