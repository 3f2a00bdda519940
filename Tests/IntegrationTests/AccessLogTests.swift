import Foundation
import Testing

@Suite("Access log")
struct AccessLogTests {
    @Test("each request writes exactly one JSON line with every field filled in")
    func fields() async throws {
        try await withGateway(simpleConfig()) { gw in
            let result = try curl(["--data-binary", "12345", "-H", "X-Request-Id: log-test-1", "\(gw.baseURL)/logged?q=1"])
            #expect(result.status == 200)
            let lines = try await gw.accessLog(atLeast: 1)
            #expect(lines.count == 1)
            let line = try #require(lines.first)
            #expect(line["request_id"] as? String == "log-test-1")
            #expect(line["listener"] as? String == "test")
            #expect((line["downstream_addr"] as? String)?.hasPrefix("127.0.0.1:") == true)
            #expect(line["method"] as? String == "POST")
            #expect(line["authority"] as? String == "127.0.0.1:\(gw.port())")
            #expect(line["path"] as? String == "/logged?q=1")
            #expect(line["protocol"] as? String == "HTTP/1.1")
            #expect(line["status"] as? Int == 200)
            #expect(line["bytes_in"] as? Int == 5)
            #expect(line["bytes_out"] as? Int == result.body.utf8.count)
            #expect(line["upstream_cluster"] as? String == "backend")
            #expect(line["upstream_addr"] as? String == "127.0.0.1:\(gw.echoes[0].port)")
            let duration = try #require(line["duration_ms"] as? Double)
            let upstream = try #require(line["upstream_ms"] as? Double)
            #expect(duration >= upstream && upstream > 0)
            #expect(line["error"] is NSNull)
            #expect(line["error_source"] is NSNull)
            let time = try #require(line["time"] as? String)
            #expect(time.hasSuffix("Z") && time.count == 24)
        }
    }

    @Test("a client that disconnects mid-response is logged as 499 from the downstream side")
    func clientGoneIsLogged() async throws {
        try await withGateway(simpleConfig()) { gw in
            do {
                let client = try RawClient(port: gw.port())
                try client.send("GET /gone?delay_ms=300 HTTP/1.1\r\nHost: t\r\n\r\n")
            }
            let line = try await gw.accessLogLine(path: "/gone?delay_ms=300")
            #expect(line["status"] as? Int == 499)
            #expect(line["error_source"] as? String == "downstream")
        }
    }
}
