import Foundation
import Testing

/// Every example script in lua/, as configured in its header comment, through real requests.
@Suite("Lua example scripts")
struct LuaExampleTests {
    static func script(_ name: String) -> String { packageRoot + "/lua/" + name }

    static func run(_ filters: String, accessLog: String = "", _ body: (TestGateway) async throws -> Void) async throws {
        LuaLogLines.start()
        try await withGateway(backends: 2, luaConfig(filters, accessLog: accessLog), body)
    }

    @Test("ab_route.lua: x-beta: 1 goes to the beta cluster; the variant is stamped and logged", arguments: [false, true])
    func abRoute(h2: Bool) async throws {
        try await Self.run("[ { lua: { script: \(Self.script("ab_route.lua")), config: { header: x-beta, cluster: beta } } } ]",
                           accessLog: "access_log: { metadata: [lua.variant] }") { gw in
            let beta = try curl(h2: h2, ["-H", "x-beta: 1", "\(gw.baseURL)/ab-b"])
            #expect(beta.json["name"] as? String == "echo-1")
            #expect(beta.header("x-variant") == "b")
            let plain = try curl(h2: h2, ["\(gw.baseURL)/ab-a"])
            #expect(plain.json["name"] as? String == "echo-0")
            #expect(plain.header("x-variant") == "a")
            let line = try await gw.accessLogLine(path: "/ab-b")
            #expect((line["metadata"] as? [String: Any])?["lua.variant"] as? String == "b")
        }
    }

    @Test("api_key.lua: missing or unknown keys get 401 JSON; a known key passes as x-consumer, without the key", arguments: [false, true])
    func apiKey(h2: Bool) async throws {
        try await Self.run("[ { lua: { script: \(Self.script("api_key.lua")), config: { keys: { k-123: alice, k-456: bob } } } } ]") { gw in
            let missing = try curl(h2: h2, ["\(gw.baseURL)/"])
            #expect(missing.status == 401)
            #expect(missing.json["error"] as? String == "invalid or missing API key")
            #expect(try curl(h2: h2, ["-H", "x-api-key: nope", "\(gw.baseURL)/"]).status == 401)
            #expect(try curl(h2: h2, ["-H", "x-api-key: __loaded", "\(gw.baseURL)/"]).status == 401)
            let ok = try curl(h2: h2, ["-H", "x-api-key: k-456", "\(gw.baseURL)/"])
            #expect(ok.status == 200)
            let headers = try #require(ok.json["headers"] as? [String: Any])
            #expect(headers["x-consumer"] as? String == "bob")
            #expect(headers["x-api-key"] == nil)
        }
    }

    @Test("quota.lua: the limit+1-th request of a user in a window is 429, counted across both event loops; other users are unaffected")
    func quota() async throws {
        try await Self.run("[ { lua: { script: \(Self.script("quota.lua")), config: { limit: 3, window: 3600 } } } ]") { gw in
            let user = "u-\(UUID().uuidString)"
            var remaining: [String?] = []
            for index in 0..<3 {
                let result = try curl(h2: index % 2 == 1, ["-H", "x-user: \(user)", "\(gw.baseURL)/"])
                #expect(result.status == 200)
                remaining.append(result.header("x-quota-remaining"))
            }
            #expect(remaining == ["2", "1", "0"])
            let over = try curl(h2: false, ["-H", "x-user: \(user)", "\(gw.baseURL)/"])
            #expect(over.status == 429)
            #expect(over.header("retry-after") == "3600")
            #expect(try curl(h2: true, ["-H", "x-user: other-\(user)", "\(gw.baseURL)/"]).status == 200)
            #expect(try curl(h2: true, ["\(gw.baseURL)/"]).status == 400)
        }
    }

    @Test("stamp.lua: the upstream sees the start time and client IP; the client sees request id, server and timing", arguments: [false, true])
    func stamp(h2: Bool) async throws {
        try await Self.run("[ { lua: { script: \(Self.script("stamp.lua")), config: { server: edge-1 } } } ]") { gw in
            let result = try curl(h2: h2, ["-H", "X-Request-Id: stamp-\(h2)", "\(gw.baseURL)/s"])
            #expect(result.header("x-request-id") == "stamp-\(h2)")
            #expect(result.header("server") == "edge-1")
            #expect(result.header("x-upstream-time-ms").flatMap(Int.init) != nil)
            let headers = try #require(result.json["headers"] as? [String: Any])
            #expect(headers["x-client-ip"] as? String == "127.0.0.1")
            let start = (headers["x-request-start"] as? String).flatMap(Double.init) ?? 0
            #expect(abs(start / 1000 - Date().timeIntervalSince1970) < 60)
        }
    }

    @Test("json_rewrite.lua: drops configured fields, adds request id and time, sends the new length; non-JSON is 400", arguments: [false, true])
    func jsonRewrite(h2: Bool) async throws {
        try await Self.run("[ { lua: { script: \(Self.script("json_rewrite.lua")), config: { max_bytes: 1000, drop: [password] } } } ]") { gw in
            let result = try curl(h2: h2, ["-H", "X-Request-Id: json-\(h2)", "--data-binary", #"{"user":"al","password":"secret"}"#, "\(gw.baseURL)/j"])
            #expect(result.status == 200)
            let sent = try #require(try JSONSerialization.jsonObject(with: Data((result.json["body"] as? String ?? "").utf8)) as? [String: Any])
            #expect(sent["user"] as? String == "al")
            #expect(sent["password"] == nil)
            #expect(sent["request_id"] as? String == "json-\(h2)")
            #expect(sent["received_at"] is Int)
            #expect(try curl(h2: h2, ["--data-binary", "not json", "\(gw.baseURL)/j"]).status == 400)
            let large = try curl(h2: h2, ["--data-binary", String(repeating: "1", count: 2000), "\(gw.baseURL)/j"])
            #expect(large.isEarlyReply(413))
            #expect(try curl(h2: h2, ["\(gw.baseURL)/get"]).status == 200)
        }
    }

    @Test("auth_callout.lua: a 200 from the auth cluster lets the request through; other answers are 403; no credentials is 401", arguments: [false, true])
    func authCallout(h2: Bool) async throws {
        let yaml = """
            workers: 2
            listeners:
              - name: test
                address: 127.0.0.1:0
                http2: { cleartext: true }
                routes:
                  - match: { path_prefix: /denied }
                    cluster: backend
                    filters: [ { lua: { script: \(Self.script("auth_callout.lua")), config: { cluster: auth, path: "/check?status=403" } } } ]
                  - match: { path_prefix: / }
                    cluster: backend
                    filters: [ { lua: { script: \(Self.script("auth_callout.lua")), config: { cluster: auth } } } ]
            clusters:
              - name: backend
                endpoints: [ { address: "{{echo0}}" } ]
              - name: auth
                endpoints: [ { address: "{{echo1}}" } ]
            """
        LuaLogLines.start()
        try await withGateway(backends: 2, yaml) { gw in
            #expect(try curl(h2: h2, ["\(gw.baseURL)/x"]).status == 401)
            let ok = try curl(h2: h2, ["-H", "authorization: Bearer good", "\(gw.baseURL)/x"])
            #expect(ok.status == 200)
            let headers = try #require(ok.json["headers"] as? [String: Any])
            #expect(headers["x-auth-status"] as? String == "200")
            #expect(headers["x-auth-echo"] as? String == "echo-1")
            #expect(try curl(h2: h2, ["-H", "authorization: Bearer good", "\(gw.baseURL)/denied"]).status == 403)
            #expect(gw.echoes[1].stats.requests == 2)
        }
    }

    @Test("tarpit_scanners.lua: ctx:tarpit() hands probing clients to the tarpit filter; others pass at once")
    func tarpitScanners() async throws {
        let filters = "[ { lua: { script: \(Self.script("tarpit_scanners.lua")) } }, { tarpit: { match: { requested: true }, delay: 400ms, drip: { bytes: 4096, interval: 10ms } } } ]"
        try await Self.run(filters, accessLog: "access_log: { metadata: [tarpit.decision] }") { gw in
            let quick = try shell("curl -s -o /dev/null -w '%{http_code} %{time_total}' '\(gw.baseURL)/shop'")
            let slow = try shell("curl -s -o /dev/null -w '%{http_code} %{time_total}' '\(gw.baseURL)/wp-admin/setup.php'")
            let quickParts = quick.stdout.split(separator: " "), slowParts = slow.stdout.split(separator: " ")
            #expect(quickParts.first == "200" && (Double(quickParts.last ?? "9") ?? 9) < 0.3, "\(quick.stdout)")
            #expect(slowParts.first == "429" && (Double(slowParts.last ?? "0") ?? 0) >= 0.4, "\(slow.stdout)")
            let line = try await gw.accessLogLine(path: "/wp-admin/setup.php")
            #expect((line["metadata"] as? [String: String])?["tarpit.decision"]?.hasPrefix("tarpitted") == true, "\(line)")
        }
    }
}
