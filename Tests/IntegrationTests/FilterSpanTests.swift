import Foundation
import NIOPosix
import Testing

/// Spans of filters that do I/O (Lua `ctx:http_call`, the rate limit's Redis commands, the auth filter's
/// JWKS fetches): children of the request's server span, parsed from the span lines field by field.
@Suite("Spans of filters that do I/O", .serialized)
struct FilterSpanTests {
    /// A caller's trace, with a distinct trace id per request of a test.
    static func traceparent(_ n: Int, sampled: Bool = true) -> (header: String, traceID: String) {
        let traceID = String(format: "4bf92f3577b34da6a3ce929d0e0e%04x", n)
        return ("00-\(traceID)-00f067aa0ba902b7-\(sampled ? "01" : "00")", traceID)
    }

    /// The span lines of one trace, and its server span.
    static func spans(_ gw: TestGateway, trace: String, atLeast count: Int) async throws -> (server: [String: Any], children: [[String: Any]]) {
        let deadline = Date().addingTimeInterval(10)
        var spans: [[String: Any]] = []
        while true {
            spans = try await gw.accessLog(atLeast: 0, within: 0).filter { $0["span_id"] != nil && $0["trace_id"] as? String == trace }
            if spans.count >= count || Date() > deadline { break }
            try await Task.sleep(for: .milliseconds(20))
        }
        let server = try #require(spans.first { $0["kind"] as? String == "SERVER" }, "no server span in \(spans)")
        return (server, spans.filter { $0["kind"] as? String != "SERVER" })
    }

    /// Same trace, parent is the server span, and the child's times lie within the server span's.
    static func expectChild(_ child: [String: Any], of server: [String: Any], nested: Bool = true) throws {
        #expect(child["trace_id"] as? String == server["trace_id"] as? String)
        #expect(child["parent_span_id"] as? String == server["span_id"] as? String, "parent of \(child["name"] ?? "?")")
        #expect((child["span_id"] as? String)?.count == 16 && child["span_id"] as? String != server["span_id"] as? String)
        let start = try #require(server["start_time_unix_nano"] as? Int64), end = try #require(server["end_time_unix_nano"] as? Int64)
        let childStart = try #require(child["start_time_unix_nano"] as? Int64), childEnd = try #require(child["end_time_unix_nano"] as? Int64)
        #expect(childStart <= childEnd)
        // The server span's end is its start plus a monotonic duration: allow the two clocks 1 ms of skew.
        if nested { #expect(start <= childStart && childEnd <= end + 1_000_000, "\(start) ≤ \(childStart) ≤ \(childEnd) ≤ \(end)") }
    }

    static func attributes(_ span: [String: Any]) -> [String: Any] { span["attributes"] as? [String: Any] ?? [:] }
    static func status(_ span: [String: Any]) -> String? { (span["status"] as? [String: Any])?["code"] as? String }

    @Test("Lua ctx:http_call is a CLIENT span under the server span; the called service continues the trace; unsampled calls still propagate")
    func luaHTTPCall() async throws {
        let scripts = try LuaScripts()
        let path = try scripts.write("call.lua", """
            function on_request(ctx)
              local res, err = ctx:http_call("beta", { path = "/check?status=201" })
              local sent = gw.json.decode(res.body)
              return ctx:respond(200, nil, sent.headers["traceparent"])
            end
            """)
        try await withLuaGateway(scripts, luaConfig("[ { lua: { script: \(path) } } ]") + "\ntracing: { sample_rate: 1.0 }") { gw in
            let caller = Self.traceparent(1)
            let result = try curl(["-H", "traceparent: \(caller.header)", "\(gw.baseURL)/lua"])
            #expect(result.status == 200)
            let (server, children) = try await Self.spans(gw, trace: caller.traceID, atLeast: 2)
            #expect(children.count == 1, "only the call: the script answered, nothing went upstream")
            let call = try #require(children.first)
            try Self.expectChild(call, of: server)
            #expect(call["kind"] as? String == "CLIENT")
            #expect(call["name"] as? String == "GET")
            #expect(Self.status(call) == "OK")
            let attributes = Self.attributes(call)
            #expect(attributes["http.request.method"] as? String == "GET")
            #expect(attributes["url.path"] as? String == "/check")
            #expect(attributes["url.query"] as? String == "status=201")
            #expect(attributes["server.address"] as? String == "127.0.0.1")
            #expect(attributes["server.port"] as? Int == gw.echoes[1].port)
            #expect(attributes["http.response.status_code"] as? Int == 201)
            #expect(attributes["portcullis.cluster"] as? String == "beta")
            // What the called service received: the same trace, the call's span as its parent, sampled.
            let received = result.body.split(separator: "-").map(String.init)
            #expect(received.count == 4)
            #expect(received.count == 4 && received[1] == caller.traceID)
            #expect(received.count == 4 && received[2] == call["span_id"] as? String)
            #expect(received.count == 4 && received[3] == "01")

            // The caller did not sample: no span lines, but the called service still gets the trace (unsampled).
            let unsampled = Self.traceparent(2, sampled: false)
            let quiet = try curl(["-H", "traceparent: \(unsampled.header)", "\(gw.baseURL)/quiet"])
            let quietParts = quiet.body.split(separator: "-").map(String.init)
            #expect(quietParts.count == 4 && quietParts[1] == unsampled.traceID && quietParts[3] == "00")
            _ = try await gw.accessLogLine(path: "/quiet")
            let lines = try await gw.accessLog(atLeast: 0, within: 0)
            #expect(!lines.contains { $0["span_id"] != nil && $0["trace_id"] as? String == unsampled.traceID })
        }
    }

    @Test("rate_limit's Redis commands are CLIENT spans with db.system redis, under the server span")
    func redisSpans() async throws {
        let redis = try RedisServer()
        defer { redis.stop() }
        let yaml = RateLimitRedisTests.config(redis: redis.address, timeout: "2s") + "\ntracing: { sample_rate: 1.0 }"
        try await withGateway(yaml) { gw in
            for n in 10..<12 {
                let caller = Self.traceparent(n)
                #expect(try curl(["-H", "traceparent: \(caller.header)", "\(gw.baseURL)/r\(n)"]).status == 200)
                // Server span, the upstream attempt, and one Redis command (two when Redis first says NOSCRIPT).
                let (server, children) = try await Self.spans(gw, trace: caller.traceID, atLeast: 3)
                let commands = children.filter { Self.attributes($0)["db.system"] as? String == "redis" }
                #expect(!commands.isEmpty && commands.count <= 2, "\(children)")
                for command in commands {
                    try Self.expectChild(command, of: server)
                    let attributes = Self.attributes(command)
                    #expect(command["kind"] as? String == "CLIENT")
                    #expect(["EVALSHA", "EVAL"].contains(command["name"] as? String ?? ""))
                    #expect(attributes["db.operation.name"] as? String == command["name"] as? String)
                    #expect(attributes["server.address"] as? String == "127.0.0.1")
                    #expect(attributes["server.port"] as? Int == redis.port)
                }
                // The last command decided: it succeeded.
                let last = try #require(commands.max { ($0["start_time_unix_nano"] as? Int64 ?? 0) < ($1["start_time_unix_nano"] as? Int64 ?? 0) })
                #expect(Self.status(last) == "OK")
                if commands.count == 2 {
                    let first = try #require(commands.first { $0 as NSDictionary != last as NSDictionary })
                    #expect(first["name"] as? String == "EVALSHA" && Self.attributes(first)["error.type"] as? String == "NOSCRIPT")
                }
            }
            // Unsampled: the decision is made in Redis, no span is written.
            let unsampled = Self.traceparent(12, sampled: false)
            #expect(try curl(["-H", "traceparent: \(unsampled.header)", "\(gw.baseURL)/quiet"]).status == 200)
            _ = try await gw.accessLogLine(path: "/quiet")
            #expect(!(try await gw.accessLog(atLeast: 0, within: 0)).contains { $0["span_id"] != nil && $0["trace_id"] as? String == unsampled.traceID })
        }
    }

    @Test("auth: waiting for the startup JWKS fetch is an INTERNAL span; a refetch a request starts is a CLIENT span and carries its trace")
    func jwksSpans() async throws {
        let keys = try AuthTestKeys()
        let group = MultiThreadedEventLoopGroup(numberOfThreads: 1)
        let server = try await JWKSTestServer.start(body: AuthTestKeys.jwks([keys.rsaJWK(kid: "k1")]), group: group)
        let yaml = AuthJWKSURLTests.config(url: server.url, refresh: "1h", minRefetch: "0s") + "\ntracing: { sample_rate: 1.0 }"
        try await withGateway(yaml) { gw in
            let first = Self.traceparent(20)
            #expect(try curl(AuthJWKSURLTests.token(keys, kid: "k1", key: keys.rsa) + ["-H", "traceparent: \(first.header)", "\(gw.baseURL)/first"]).status == 200)
            let (firstServer, firstChildren) = try await Self.spans(gw, trace: first.traceID, atLeast: 3)
            let wait = try #require(firstChildren.first { $0["kind"] as? String == "INTERNAL" }, "\(firstChildren)")
            try Self.expectChild(wait, of: firstServer)
            #expect(wait["name"] as? String == "auth JWKS wait")
            #expect(Self.attributes(wait)["url.full"] as? String == server.url)
            #expect(Self.status(wait) == "OK")
            #expect(server.receivedTraceparents.first! == nil, "the startup fetch belongs to no request")

            // An unknown kid: this request fetches, as a CLIENT span, and the JWKS server continues its trace.
            let second = Self.traceparent(21)
            let rotated = try curl(AuthJWKSURLTests.token(keys, kid: "k2", key: keys.rotated) + ["-H", "traceparent: \(second.header)", "\(gw.baseURL)/second"])
            #expect(rotated.status == 401)
            let (secondServer, secondChildren) = try await Self.spans(gw, trace: second.traceID, atLeast: 2)
            let fetch = try #require(secondChildren.first { $0["kind"] as? String == "CLIENT" }, "\(secondChildren)")
            try Self.expectChild(fetch, of: secondServer)
            let attributes = Self.attributes(fetch)
            #expect(fetch["name"] as? String == "GET")
            #expect(attributes["url.full"] as? String == server.url)
            #expect(attributes["server.address"] as? String == "127.0.0.1")
            #expect(attributes["server.port"] as? Int == server.port)
            #expect(attributes["http.response.status_code"] as? Int == 200)
            #expect(attributes["portcullis.filter"] as? String == "auth")
            #expect(server.requestCount == 2)
            let received = try #require(server.receivedTraceparents.last ?? nil).split(separator: "-").map(String.init)
            #expect(received.count == 4 && received[1] == second.traceID && received[2] == fetch["span_id"] as? String && received[3] == "01")
        }
        await server.stop()
        try await group.shutdownGracefully()
    }
}
