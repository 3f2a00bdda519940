import Foundation
import Testing

@Suite("Upstream failures become clear responses")
struct UpstreamFailureTests {
    @Test("a cluster with no endpoints answers 503 and logs why")
    func noEndpoints() async throws {
        try await withGateway(simpleConfig(endpoints: [])) { gw in
            let result = try curl(["\(gw.baseURL)/none"])
            #expect(result.status == 503)
            #expect(result.body.contains("no healthy upstream"))
            let line = try await gw.accessLogLine(path: "/none")
            #expect(line["status"] as? Int == 503)
            #expect(line["error_source"] as? String == "upstream")
            #expect(line["error"] as? String == "no healthy upstream endpoint")
        }
    }

    @Test("a refused connection answers 502 and logs the connect failure")
    func connectRefused() async throws {
        try await withGateway(simpleConfig(endpoints: ["{{closed}}"])) { gw in
            let result = try curl(["\(gw.baseURL)/refused"])
            #expect(result.status == 502)
            #expect(result.header("content-type")?.hasPrefix("text/plain") == true)
            let line = try await gw.accessLogLine(path: "/refused")
            #expect((line["error"] as? String)?.hasPrefix("upstream connect failed") == true)
        }
    }

    @Test("a backend that resets the connection answers 502")
    func upstreamReset() async throws {
        try await withGateway(simpleConfig()) { gw in
            let result = try curl(["\(gw.baseURL)/?fail=reset"])
            #expect(result.status == 502)
            let line = try await gw.accessLogLine(path: "/?fail=reset")
            #expect(line["error"] as? String == "upstream connection reset")
        }
    }

    @Test("an upstream status is passed through, not rewritten")
    func upstreamStatusPassesThrough() async throws {
        try await withGateway(simpleConfig()) { gw in
            let result = try curl(["\(gw.baseURL)/?status=503"])
            #expect(result.status == 503)
            #expect(result.header("x-echo-name") == "echo-0")
            let line = try await gw.accessLogLine(path: "/?status=503")
            #expect(line["error"] is NSNull)
        }
    }
}
