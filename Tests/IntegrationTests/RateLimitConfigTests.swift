import Foundation
import Testing

/// `rate_limit` and `tarpit` config errors, through the real binary's `check`.
@Suite("rate_limit and tarpit config errors")
struct RateLimitConfigTests {
    @Test("bad rates, keys, Redis addresses and an empty tarpit match are reported at their keys")
    func errors() throws {
        let path = NSTemporaryDirectory() + "portcullis-\(UUID().uuidString).yaml"
        try """
        listeners:
          - name: public
            address: 127.0.0.1:8080
            filters:
              - rate_limit: { rate: 10/d }
              - rate_limit: { rate: 10/s, key: { cookie: x } }
              - rate_limit: { rate: 10/s, redis: { address: "no-port" }, failure_mode: maybe }
              - tarpit: { delay: 1s }
            routes:
              - match: { path_prefix: / }
                cluster: api
        clusters:
          - name: api
            endpoints: [ { address: 127.0.0.1:9001 } ]
        """.write(toFile: path, atomically: true, encoding: .utf8)
        defer { try? FileManager.default.removeItem(atPath: path) }
        let output = try run(ConfigCommandTests.binary, ["check", "--config", path])
        #expect(output.exitCode == 2)
        let expected = [
            "\(path):5:29: listeners[0].filters[0].rate_limit.rate: invalid rate '10/d'",
            "listeners[0].filters[1].rate_limit.key.cookie: unknown key 'cookie'",
            "listeners[0].filters[2].rate_limit.redis.address: invalid redis address 'no-port'",
            "listeners[0].filters[2].rate_limit.failure_mode: expected open or closed",
            "listeners[0].filters[3].tarpit: needs a `match` with at least one rule",
        ]
        for line in expected { #expect(output.stderr.contains(line), "\(line)\n---\n\(output.stderr)") }
    }

    @Test("a valid config with both filters passes check")
    func valid() throws {
        let path = NSTemporaryDirectory() + "portcullis-\(UUID().uuidString).yaml"
        try """
        listeners:
          - name: public
            address: 127.0.0.1:8080
            filters:
              - tarpit: { match: { addresses: [203.0.113.0/24], headers: { user-agent: "*bot*" }, too_many_4xx: { count: 5, window: 1m }, rate_limited: true }, drip: off }
              - rate_limit: { key: { metadata: auth.subject }, rate: 100/m, burst: 10, missing_key: client_ip, response_headers: true }
            routes:
              - match: { path_prefix: / }
                cluster: api
                filters: [ { rate_limit: { name: api, key: header:x-api-key, rate: 5/s, redis: "127.0.0.1:6379", failure_mode: closed } } ]
        clusters:
          - name: api
            endpoints: [ { address: 127.0.0.1:9001 } ]
        """.write(toFile: path, atomically: true, encoding: .utf8)
        defer { try? FileManager.default.removeItem(atPath: path) }
        let output = try run(ConfigCommandTests.binary, ["check", "--config", path])
        #expect(output.exitCode == 0, "\(output.stderr)")
        #expect(output.stdout.contains("filters: [tarpit, rate_limit]"), "\(output.stdout)")
    }
}
