import Foundation
import Testing

/// The global mode of `rate_limit`: gateways sharing limits through a real redis-server.
@Suite("rate_limit, global through Redis", .serialized)
struct RateLimitRedisTests {
    static func config(redis: String, _ extra: String = "", timeout: String = "50ms", workers: Int = 2) -> String {
        """
        workers: \(workers)
        access_log: { metadata: [rate_limit.decision] }
        listeners:
          - name: test
            address: 127.0.0.1:0
            routes:
              - match: { path_prefix: / }
                cluster: backend
                filters:
                  - rate_limit: { name: shared, key: route, rate: 1/h, burst: 50, redis: { address: "\(redis)", timeout: \(timeout) }\(extra) }
        clusters:
          - name: backend
            endpoints: [ { address: "{{echo0}}" } ]
        """
    }

    @Test("two gateway instances share one limit: of a burst of 50, 20 go through one, then 2 × 60 concurrent requests find exactly 30")
    func twoInstancesOneLimit() async throws {
        let redis = try RedisServer()
        // A generous timeout: this test is about the shared count, not about failing open under a debug build's load.
        let yaml = Self.config(redis: redis.address, timeout: "2s")
        let first = try await TestGateway.start(yaml)
        let second = try await TestGateway.start(yaml)
        defer { redis.stop() }
        do {
            // 20 through the first instance, then 60 + 60 through both at once: the second stage finds 30 left.
            let warm = try await curlParallel(Array(repeating: "\(first.baseURL)/g", count: 20), parallel: 10)
            #expect(warm.statuses == Array(repeating: 200, count: 20))
            async let a = Task.detached { try await curlParallel(Array(repeating: "\(first.baseURL)/g", count: 60), parallel: 30) }.value
            async let b = Task.detached { try await curlParallel(Array(repeating: "\(second.baseURL)/g", count: 60), parallel: 30) }.value
            let (runA, runB) = try await (a, b)
            let allowedA = runA.statuses.filter { $0 == 200 }.count
            let allowedB = runB.statuses.filter { $0 == 200 }.count
            #expect(runA.statuses.count == 60 && runB.statuses.count == 60)
            #expect(allowedA + allowedB == 30, "\(allowedA) + \(allowedB)")
            #expect(Set(runA.statuses + runB.statuses) == [200, 429])
            print("rate_limit global: 20 first, then instance A \(allowedA) + instance B \(allowedB) = \(20 + allowedA + allowedB) of burst 50")
            // Every decision came from Redis (none failed open).
            for gateway in [first, second] {
                let decisions = try await gateway.accessLog(atLeast: gateway === first ? 80 : 60).compactMap { ($0["metadata"] as? [String: Any])?["rate_limit.decision"] as? String }
                #expect(Set(decisions).isSubset(of: ["allowed", "limited"]), "\(decisions)")
            }
            // The bucket is in Redis, under the shared name, with an expiry.
            let ttl = Int(try redis.cli(["PTTL", "portcullis:rl:shared:route"]).trimmingCharacters(in: .whitespacesAndNewlines)) ?? -1
            #expect(ttl > 0)
        } catch {
            await first.stop()
            await second.stop()
            throw error
        }
        await first.stop()
        await second.stop()
    }

    @Test("Redis down: fail open by default, every request answered within the timeout, and recovery after a restart")
    func failOpen() async throws {
        let redis = try RedisServer()
        defer { redis.stop() }
        try await withGateway(Self.config(redis: redis.address)) { gw in
            try #expect(curl(["\(gw.baseURL)/warm"]).status == 200)
            redis.stop()
            for index in 0..<10 {
                let result = try curl(["\(gw.baseURL)/down\(index)"])
                #expect(result.status == 200)
            }
            var durations: [Double] = []
            for index in 0..<10 {
                let line = try await gw.accessLogLine(path: "/down\(index)")
                durations.append(line["duration_ms"] as? Double ?? -1)
                #expect((line["metadata"] as? [String: Any])?["rate_limit.decision"] as? String == "failed_open")
                let duration = try #require(line["duration_ms"] as? Double)
                // Decided without waiting for the 50 ms timeout; the slack is for a machine loaded by other tests,
                // whose scheduling delays the gateway's threads too (isolated runs: 1–11 ms, upstream included).
                #expect(duration < 50 + 100, "request \(index) took \(duration) ms")
            }
            print("rate_limit global, redis down: request durations \(durations.map { String(format: "%.1f", $0) }) ms")
            // Redis back on the same port: after the reconnect backoff, decisions come from Redis again.
            try redis.start()
            let deadline = Date().addingTimeInterval(5)
            var decision: String?
            var index = 0
            while decision != "allowed" && Date() < deadline {
                try await Task.sleep(for: .milliseconds(50))
                index += 1
                _ = try curl(["\(gw.baseURL)/back\(index)"])
                decision = (try await gw.accessLogLine(path: "/back\(index)")["metadata"] as? [String: Any])?["rate_limit.decision"] as? String
            }
            #expect(decision == "allowed")
        }
    }

    @Test("a Redis that stops answering (CLIENT PAUSE) costs each request at most the timeout, then fails open")
    func slowRedis() async throws {
        let redis = try RedisServer()
        defer { redis.stop() }
        try await withGateway(Self.config(redis: redis.address)) { gw in
            try #expect(curl(["\(gw.baseURL)/warm"]).status == 200)
            try redis.cli(["CLIENT", "PAUSE", "1500", "ALL"])
            let run = try await curlParallel((0..<20).map { "\(gw.baseURL)/slow\($0)" }, parallel: 20)
            #expect(run.statuses == Array(repeating: 200, count: 20))
            var durations: [Double] = []
            defer { print("rate_limit global, redis paused: waits before the upstream \(durations.map { String(format: "%.1f", $0) }) ms") }
            for index in 0..<20 {
                let line = try await gw.accessLogLine(path: "/slow\(index)")
                #expect((line["metadata"] as? [String: Any])?["rate_limit.decision"] as? String == "failed_open")
                // The time before the upstream was asked: the wait for the decision (the rest is the backend's).
                let waited = try #require(line["duration_ms"] as? Double) - (line["upstream_ms"] as? Double ?? 0)
                durations.append(waited)
                // Isolated runs: 50.2–56.6 ms. The slack is for a machine loaded by other tests.
                #expect(waited >= 45 && waited < 50 + 100, "request \(index) waited \(waited) ms")
            }
        }
    }

    @Test("fail closed: with Redis down, requests get 503 with Retry-After, at once")
    func failClosed() async throws {
        let redis = try RedisServer()
        redis.stop()
        try await withGateway(Self.config(redis: redis.address, ", failure_mode: closed")) { gw in
            for index in 0..<5 {
                let result = try curl(["\(gw.baseURL)/closed\(index)"])
                #expect(result.status == 503)
                #expect(result.header("retry-after") == "1")
                let line = try await gw.accessLogLine(path: "/closed\(index)")
                #expect((line["metadata"] as? [String: Any])?["rate_limit.decision"] as? String == "failed_closed")
                #expect((line["duration_ms"] as? Double ?? 1000) < 50 + 100)
            }
            #expect(gw.echoes[0].stats.requests == 0)
        }
    }

    @Test("a Redis that lost its scripts (SCRIPT FLUSH) is answered with EVAL: decisions stay correct")
    func noScriptFallback() async throws {
        let redis = try RedisServer()
        defer { redis.stop() }
        try await withGateway(Self.config(redis: redis.address)) { gw in
            try #expect(curl(["\(gw.baseURL)/a"]).status == 200)
            try redis.cli(["SCRIPT", "FLUSH"])
            try #expect(curl(["\(gw.baseURL)/b"]).status == 200)
            let line = try await gw.accessLogLine(path: "/b")
            #expect((line["metadata"] as? [String: Any])?["rate_limit.decision"] as? String == "allowed")
            try #expect(redis.cli(["SCRIPT", "EXISTS", "71f386f28052d2fff3b7a3467dd2baeab88e151e"]).contains("1"))
        }
    }
}
