import EchoBackend
import Foundation
import Testing

/// Health checks, outlier ejection, panic mode, retries and circuit breakers against real backends that
/// are refused, reset, stopped and restarted. One worker, so one loop sees every request and round
/// robin starts at the first endpoint.
@Suite("Upstream resilience", .serialized)
struct UpstreamResilienceTests {
    private static func config(_ endpoints: [String], _ cluster: String) -> String {
        "admin: { address: 127.0.0.1:0 }\n" + simpleConfig(endpoints: endpoints, clusterExtra: cluster, workers: 1)
    }

    private func clusters(_ gw: TestGateway) async throws -> [String: Any] {
        let url = "http://127.0.0.1:\(gw.adminPort)/clusters"
        let result = try await offPool { try curl([url]) }
        let clusters = try #require(result.json["clusters"] as? [[String: Any]])
        return clusters[0]
    }

    private func endpoint(_ cluster: [String: Any], _ index: Int) -> [String: Any] {
        ((cluster["endpoints"] as? [[String: Any]]) ?? [])[index]
    }

    private func metrics(_ gw: TestGateway) async throws -> String {
        let url = "http://127.0.0.1:\(gw.adminPort)/metrics"
        return try await offPool { try curl([url]).body }
    }

    /// Polls the admin API until `condition` holds (bounded).
    private func waitForCluster(_ gw: TestGateway, within seconds: Double = 5, _ what: String,
                                _ condition: ([String: Any]) -> Bool) async throws -> [String: Any] {
        let deadline = Date().addingTimeInterval(seconds)
        while true {
            let cluster = try await clusters(gw)
            if condition(cluster) { return cluster }
            if Date() > deadline { throw TestFailure("timed out waiting for \(what): \(cluster)") }
            try await Task.sleep(for: .milliseconds(25))
        }
    }

    private func get(_ gw: TestGateway, _ path: String, method: String = "GET") async throws -> CurlResult {
        let url = "\(gw.baseURL)\(path)"
        return try await offPool { try curl(method == "GET" ? [url] : ["-X", method, "--data", "payload", url]) }
    }

    @Test("connect failures eject the failing endpoint; traffic goes to the healthy one; admin and metrics show the ejection")
    func outlierEjection() async throws {
        let cluster = "outlier_detection: { consecutive_connect_failures: 2, base_ejection: 30s, max_ejection_percent: 50 }"
        try await withGateway(backends: 1, workers: 1, Self.config(["{{closed}}", "{{echo0}}"], cluster)) { gw in
            var failures = 0
            for i in 0..<4 where try await get(gw, "/warm\(i)").status == 502 { failures += 1 }
            #expect(failures == 2, "round robin sends 2 of 4 to the refused port before it is ejected")
            let ejected = try await waitForCluster(gw, "the ejection") { endpoint($0, 0)["health"] as? String == "ejected" }
            #expect(endpoint(ejected, 0)["ejections"] as? Int == 1)
            #expect(endpoint(ejected, 1)["health"] as? String == "healthy")
            for i in 0..<10 {
                let result = try await get(gw, "/after\(i)")
                #expect(result.status == 200)
                #expect(result.header("x-echo-name") == "echo-0")
            }
            let text = try await metrics(gw)
            let closed = try #require(endpoint(ejected, 0)["address"] as? String)
            #expect(text.contains("portcullis_outlier_ejections_total{cluster=\"backend\",endpoint=\"\(closed)\"} 1"))
            #expect(text.contains("portcullis_endpoint_healthy{cluster=\"backend\",endpoint=\"\(closed)\"} 0"))
            #expect(text.contains("portcullis_endpoint_ejected{cluster=\"backend\",endpoint=\"\(closed)\"} 1"))
        }
    }

    @Test("repeated 5xx eject too, and max_ejection_percent keeps the last endpoint in")
    func fiveHundredsEjectWithinCap() async throws {
        let cluster = "outlier_detection: { consecutive_5xx: 2, base_ejection: 30s, max_ejection_percent: 100 }"
        try await withGateway(backends: 2, workers: 1, Self.config(["{{echo0}}", "{{echo1}}"], cluster)) { gw in
            for i in 0..<8 { _ = try await get(gw, "/?status=500&n=\(i)") }
            let state = try await waitForCluster(gw, "one ejection") { c in (0..<2).contains { endpoint(c, $0)["health"] as? String == "ejected" } }
            let ejected = (0..<2).filter { endpoint(state, $0)["health"] as? String == "ejected" }
            #expect(ejected.count == 1, "never the whole cluster")
            let ok = try await get(gw, "/ok")
            #expect(ok.status == 200)
        }
    }

    @Test("an active HTTP health check marks a stopped backend down and a restarted one up again")
    func activeHealthCheck() async throws {
        let cluster = "health_check: { http: { path: /healthz }, interval: 100ms, timeout: 100ms, unhealthy_threshold: 2, healthy_threshold: 2 }"
        try await withGateway(backends: 2, workers: 1, Self.config(["{{echo0}}", "{{echo1}}"], cluster)) { gw in
            // "passing" once a probe has answered ("pending" before).
            _ = try await waitForCluster(gw, "both healthy") { c in (0..<2).allSatisfy { endpoint(c, $0)["active_check"] as? String == "passing" } }
            let port = gw.echoes[1].port
            try await gw.echoes[1].channel.close()
            let down = try await waitForCluster(gw, "echo-1 down") { endpoint($0, 1)["health"] as? String == "unhealthy" }
            #expect(endpoint(down, 0)["health"] as? String == "healthy")
            #expect((endpoint(down, 1)["health_check_failures"] as? Int ?? 0) >= 2)
            for i in 0..<6 {
                let result = try await get(gw, "/down\(i)")
                #expect(result.status == 200)
                #expect(result.header("x-echo-name") == "echo-0")
            }
            let restarted = try await EchoServer.start(host: "127.0.0.1", port: port, name: "echo-1-again", group: gw.group)
            defer { restarted.channel.close(promise: nil) }
            _ = try await waitForCluster(gw, "echo-1 up") { endpoint($0, 1)["health"] as? String == "healthy" }
            var names = Set<String>()
            for i in 0..<6 { names.insert(try await get(gw, "/up\(i)").header("x-echo-name") ?? "") }
            #expect(names == ["echo-0", "echo-1-again"])
        }
    }

    @Test("panic: with too few endpoints healthy, traffic is spread over all of them; with panic off, only the healthy")
    func panicMode() async throws {
        let check = "health_check: { tcp: {}, interval: 100ms, timeout: 100ms }"
        try await withGateway(backends: 1, workers: 1, Self.config(["{{closed}}", "{{closed}}", "{{echo0}}"], check)) { gw in
            let state = try await waitForCluster(gw, "panic") { $0["panic"] as? Bool == true }
            #expect(state["healthy_endpoints"] as? Int == 1)
            var statuses: [Int] = []
            for i in 0..<6 { statuses.append(try await get(gw, "/panic\(i)").status) }
            #expect(statuses.filter { $0 == 502 }.count == 4, "round robin over all three: \(statuses)")
            do {
                let value = try await metrics(gw)
                #expect(value.contains("portcullis_cluster_panic{cluster=\"backend\"} 1"))
            }
        }
        try await withGateway(backends: 1, workers: 1, Self.config(["{{closed}}", "{{closed}}", "{{echo0}}"], check + "\npanic_threshold: 0")) { gw in
            _ = try await waitForCluster(gw, "two down") { c in (0..<2).allSatisfy { endpoint(c, $0)["health"] as? String == "unhealthy" } }
            for i in 0..<6 {
                let result = try await get(gw, "/calm\(i)")
                #expect(result.status == 200)
            }
        }
    }

    @Test("a retry turns a reset into a 200 from the other endpoint; the access log shows 2 attempts")
    func retryAfterReset() async throws {
        try await withGateway(backends: 1, workers: 1, Self.config(["{{reset}}", "{{echo0}}"], "retries: { attempts: 1, on: [reset] }")) { gw in
            let result = try await get(gw, "/retried")
            #expect(result.status == 200)
            #expect(result.header("x-echo-name") == "echo-0")
            let line = try await gw.accessLogLine(path: "/retried")
            #expect(line["upstream_attempts"] as? Int == 2)
            #expect(line["upstream_addr"] as? String == "127.0.0.1:\(gw.echoes[0].port)")
            do {
                let value = try await metrics(gw)
                #expect(value.contains("portcullis_upstream_retries_total{cluster=\"backend\"} 1"))
            }
        }
    }

    @Test("a connect failure is retried elsewhere, for any method")
    func retryAfterConnectFailure() async throws {
        try await withGateway(backends: 1, workers: 1, Self.config(["{{closed}}", "{{echo0}}"], "retries: { attempts: 1, on: [connect_failure] }")) { gw in
            let result = try await get(gw, "/post-refused", method: "POST")
            #expect(result.status == 200)
            #expect(result.json["method"] as? String == "POST")
            do {
                let value = try await gw.accessLogLine(path: "/post-refused")
                #expect(value["upstream_attempts"] as? Int == 2)
            }
        }
    }

    @Test("a POST that was reset is not retried unless non_idempotent is set, and its body is replayed when it is")
    func postNotRetried() async throws {
        try await withGateway(backends: 1, workers: 1, Self.config(["{{reset}}", "{{echo0}}"], "retries: { attempts: 1, on: [reset] }")) { gw in
            do {
                let value = try await get(gw, "/post", method: "POST")
                #expect(value.status == 502)
            }
            do {
                let value = try await gw.accessLogLine(path: "/post")
                #expect(value["upstream_attempts"] as? Int == 1)
            }
        }
        try await withGateway(backends: 1, workers: 1, Self.config(["{{reset}}", "{{echo0}}"], "retries: { attempts: 1, on: [reset], non_idempotent: true }")) { gw in
            let result = try await get(gw, "/post", method: "POST")
            #expect(result.status == 200)
            #expect(result.json["body"] as? String == "payload" || result.body.contains("payload"))
            do {
                let value = try await gw.accessLogLine(path: "/post")
                #expect(value["upstream_attempts"] as? Int == 2)
            }
        }
    }

    @Test("the retry budget stops a retry storm: with room for one retry in flight, most 503s are not retried")
    func budgetStopsStorm() async throws {
        let retries = "retries: { attempts: 3, on: [\"503\"], budget_percent: 0, min_retry_concurrency: 1, backoff: { base: 1ms } }"
        try await withGateway(backends: 2, workers: 1, Self.config(["{{echo0}}", "{{echo1}}"], retries)) { gw in
            // One curl process for all ten (blocking test threads are scarce on a small machine).
            let statuses = try await Self.parallelStatuses((0..<10).map { "\(gw.baseURL)/?status=503&delay_ms=300&n=\($0)" })
            #expect(statuses == Array(repeating: 503, count: 10))
            let text = try await metrics(gw)
            let retried = Self.counter(text, "portcullis_upstream_retries_total{cluster=\"backend\"}")
            let refused = Self.counter(text, "portcullis_upstream_retry_overflow_total{cluster=\"backend\"}")
            // One retry in flight at a time: the requests that fail together are refused; a few that
            // arrive later (curl processes start staggered) may find the slot free again.
            #expect(retried >= 1 && retried <= 10, "retries \(retried)")
            #expect(refused >= 6, "refused \(refused)")
            let origin = gw.echoes[0].stats.requests + gw.echoes[1].stats.requests
            #expect(origin <= 20, "without a budget the backends would see 40 requests, saw \(origin)")
        }
    }

    @Test("a circuit breaker answers 503 at once past max_requests, says why, and counts it")
    func circuitBreaker() async throws {
        try await withGateway(backends: 1, workers: 1, Self.config(["{{echo0}}"], "circuit_breakers: { max_requests: 2 }")) { gw in
            async let slow = Self.parallelStatuses(["\(gw.baseURL)/?delay_ms=1000&n=1", "\(gw.baseURL)/?delay_ms=1000&n=2"])
            // Both slow requests hold their slots once the backend has them.
            let deadline = Date().addingTimeInterval(5)
            while gw.echoes[0].stats.requests < 2 && Date() < deadline { try await Task.sleep(for: .milliseconds(10)) }
            let started = Date()
            let third = try await get(gw, "/third")
            #expect(third.status == 503)
            #expect(third.body.contains("upstream overflow"))
            #expect(Date().timeIntervalSince(started) < 0.5, "fails fast")
            let line = try await gw.accessLogLine(path: "/third")
            #expect(line["error"] as? String == "upstream overflow: circuit breaker max_requests")
            let slowStatuses = try await slow
            #expect(slowStatuses == [200, 200])
            do {
                let value = try await metrics(gw)
                #expect(value.contains("portcullis_upstream_overflow_total{cluster=\"backend\",breaker=\"max_requests\"} 1"))
            }
            do {
                let value = try await get(gw, "/fourth")
                #expect(value.status == 200, "slots are given back")
            }
        }
    }

    @Test("a per-try timeout gives up on a hung endpoint and retries on the other")
    func perTryTimeout() async throws {
        let retries = "retries: { attempts: 1, on: [reset], per_try_timeout: 200ms }"
        try await withGateway(backends: 2, workers: 1, Self.config(["{{echo0}}", "{{echo1}}"], retries)) { gw in
            // Both endpoints hang on this query: two attempts, each cut at 200 ms, then 504.
            let started = Date()
            let result = try await get(gw, "/?fail=hang")
            #expect(result.status == 504)
            #expect(Date().timeIntervalSince(started) < 2)
            let line = try await gw.accessLogLine(path: "/?fail=hang")
            #expect(line["upstream_attempts"] as? Int == 2)
            #expect(line["error"] as? String == "upstream per-try timeout")
        }
    }

    @Test("ring hash and Maglev send the same header value to the same endpoint", arguments: ["ring_hash", "maglev"])
    func hashOnHeader(_ policy: String) async throws {
        try await withGateway(backends: 2, workers: 1, Self.config(["{{echo0}}", "{{echo1}}"], "lb: \(policy)\nhash_on: { header: x-user }")) { gw in
            var byUser: [String: Set<String>] = [:]
            // Endpoint labels carry random ports, so the mapping differs per run: 24 users make "all on one
            // endpoint" a 1-in-8-million event (8 users failed about one run in 128).
            for round in 0..<2 {
                for user in 0..<24 {
                    let result = try await offPool { try curl(["-H", "x-user: user-\(user)", "\(gw.baseURL)/h\(round)"]) }
                    byUser["user-\(user)", default: []].insert(result.header("x-echo-name") ?? "")
                }
            }
            #expect(byUser.values.allSatisfy { $0.count == 1 }, "\(byUser)")
            #expect(Set(byUser.values.flatMap { $0 }).count == 2, "24 users spread over both endpoints")
        }
    }

    /// Status codes of GET requests made concurrently by one curl process, in URL order.
    private static func parallelStatuses(_ urls: [String]) async throws -> [Int] {
        let arguments = ["-sS", "--max-time", "30", "-Z", "--parallel-immediate", "--parallel-max", "\(urls.count)"]
            + urls.flatMap { ["-o", "/dev/null", "-w", "%{url} %{http_code}\\n", $0] }
        let output = try await offPool { try run("/usr/bin/env", ["curl"] + arguments) }
        var byURL: [String: Int] = [:]
        for line in output.stdout.split(separator: "\n") {
            let parts = line.split(separator: " ")
            if parts.count == 2 { byURL[String(parts[0])] = Int(parts[1]) }
        }
        return urls.map { byURL[$0] ?? 0 }
    }

    private static func counter(_ text: String, _ prefix: String) -> Int {
        for line in text.split(separator: "\n") where line.hasPrefix(prefix + " ") {
            return Int(line.dropFirst(prefix.count + 1)) ?? -1
        }
        return -1
    }
}
