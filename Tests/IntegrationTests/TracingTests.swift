import Foundation
import Testing

@Suite("Trace context and spans")
struct TracingTests {
    static let incomingTrace = "4bf92f3577b34da6a3ce929d0e0e4736"
    static let incomingParent = "00f067aa0ba902b7"

    /// The traceparent the echo backend received.
    static func forwardedTraceparent(_ result: CurlResult) throws -> String {
        let headers = try #require(result.json["headers"] as? [String: String])
        return try #require(headers["traceparent"])
    }

    @Test("without tracing configured: a trace is started or continued and propagated, no spans are written")
    func propagation() async throws {
        try await withGateway(simpleConfig()) { gw in
            let fresh = try curl(["\(gw.baseURL)/fresh"])
            let generated = try Self.forwardedTraceparent(fresh).split(separator: "-").map(String.init)
            #expect(generated.count == 4 && generated[0] == "00" && generated[1].count == 32 && generated[2].count == 16)
            #expect(generated[3] == "00", "not sampled without tracing")
            let line = try await gw.accessLogLine(path: "/fresh")
            #expect(line["trace_id"] as? String == generated[1])

            let continued = try curl(["-H", "traceparent: 00-\(Self.incomingTrace)-\(Self.incomingParent)-01", "\(gw.baseURL)/continued"])
            let parts = try Self.forwardedTraceparent(continued).split(separator: "-").map(String.init)
            #expect(parts[1] == Self.incomingTrace, "same trace")
            #expect(parts[2] != Self.incomingParent, "the gateway's own span is the upstream's parent")
            #expect(parts[3] == "01", "the sampled flag is kept")
            #expect(try await gw.accessLogLine(path: "/continued")["trace_id"] as? String == Self.incomingTrace)

            for bad in ["00-\(Self.incomingTrace.uppercased())-\(Self.incomingParent)-01", "00-00000000000000000000000000000000-\(Self.incomingParent)-01",
                        "ff-\(Self.incomingTrace)-\(Self.incomingParent)-01", "garbage"] {
                let result = try curl(["-H", "traceparent: \(bad)", "\(gw.baseURL)/bad"])
                #expect(try Self.forwardedTraceparent(result).split(separator: "-")[1] != Self.incomingTrace.prefix(32), "invalid \(bad) starts a new trace")
            }
            let all = try await gw.accessLog(atLeast: 6)
            #expect(!all.contains { $0["span_id"] != nil }, "no span lines without tracing")
        }
    }

    @Test("with tracing: one server span and one client span per request, linked to each other and to the upstream")
    func spans() async throws {
        try await withGateway(simpleConfig() + "\ntracing: { sample_rate: 1.0 }") { gw in
            let result = try curl(["-H", "traceparent: 00-\(Self.incomingTrace)-\(Self.incomingParent)-01", "\(gw.baseURL)/traced?x=1"])
            let upstreamParent = String(try Self.forwardedTraceparent(result).split(separator: "-")[2])
            let lines = try await gw.accessLog(atLeast: 3)
            let spans = lines.filter { $0["span_id"] != nil }
            let server = try #require(spans.first { $0["kind"] as? String == "SERVER" })
            let client = try #require(spans.first { $0["kind"] as? String == "CLIENT" })
            #expect(spans.count == 2)
            #expect(server["trace_id"] as? String == Self.incomingTrace && client["trace_id"] as? String == Self.incomingTrace)
            #expect(server["parent_span_id"] as? String == Self.incomingParent)
            #expect(client["parent_span_id"] as? String == server["span_id"] as? String)
            #expect(client["span_id"] as? String == upstreamParent, "the upstream sees the client span as its parent")
            #expect(server["name"] as? String == "GET")
            let serverAttributes = try #require(server["attributes"] as? [String: Any])
            #expect(serverAttributes["http.request.method"] as? String == "GET")
            #expect(serverAttributes["url.path"] as? String == "/traced")
            #expect(serverAttributes["url.query"] as? String == "x=1")
            #expect(serverAttributes["http.response.status_code"] as? Int == 200)
            #expect(serverAttributes["network.protocol.version"] as? String == "1.1")
            let clientAttributes = try #require(client["attributes"] as? [String: Any])
            #expect(clientAttributes["server.address"] as? String == "127.0.0.1")
            #expect(clientAttributes["server.port"] as? Int == gw.echoes[0].port)
            #expect((server["status"] as? [String: Any])?["code"] as? String == "OK")
            let start = try #require(server["start_time_unix_nano"] as? Int64), end = try #require(server["end_time_unix_nano"] as? Int64)
            let clientStart = try #require(client["start_time_unix_nano"] as? Int64), clientEnd = try #require(client["end_time_unix_nano"] as? Int64)
            #expect(start <= clientStart && clientStart <= clientEnd && clientEnd <= end + 1_000_000)
        }
    }

    @Test("a failed upstream attempt is an ERROR client span; the server span carries the 502")
    func failedAttempt() async throws {
        try await withGateway(simpleConfig(endpoints: ["{{closed}}"]) + "\ntracing: { sample_rate: 1.0 }") { gw in
            #expect(try curl(["\(gw.baseURL)/down"]).status == 502)
            let spans = try await gw.accessLog(atLeast: 3).filter { $0["span_id"] != nil }
            let client = try #require(spans.first { $0["kind"] as? String == "CLIENT" })
            let server = try #require(spans.first { $0["kind"] as? String == "SERVER" })
            #expect((client["status"] as? [String: Any])?["code"] as? String == "ERROR")
            #expect((client["attributes"] as? [String: Any])?["error.type"] != nil)
            #expect((server["attributes"] as? [String: Any])?["http.response.status_code"] as? Int == 502)
            #expect((server["status"] as? [String: Any])?["code"] as? String == "ERROR")
        }
    }

    @Test("sampling: rate 0 records nothing new, but a caller's sampled flag is followed")
    func sampling() async throws {
        try await withGateway(simpleConfig() + "\ntracing: { sample_rate: 0 }") { gw in
            for index in 0..<5 { _ = try curl(["\(gw.baseURL)/unsampled\(index)"]) }
            _ = try curl(["-H", "traceparent: 00-\(Self.incomingTrace)-\(Self.incomingParent)-00", "\(gw.baseURL)/parent-says-no"])
            _ = try curl(["-H", "traceparent: 00-\(Self.incomingTrace)-\(Self.incomingParent)-01", "\(gw.baseURL)/parent-says-yes"])
            let lines = try await gw.accessLog(atLeast: 9)
            let spans = lines.filter { $0["span_id"] != nil }
            #expect(spans.count == 2, "only the request whose caller sampled it")
            #expect(spans.allSatisfy { $0["trace_id"] as? String == Self.incomingTrace })
        }
    }
}
