@testable import GatewayCore
import NIOCore
import Testing
import Upstream

@Suite("Config: load balancing, health, retries, circuit breakers")
struct UpstreamConfigTests {
    private static func cluster(_ keys: String) -> String {
        ConfigFixture.minimal(replacing: "    endpoints:", with: keys.split(separator: "\n").map { "    " + $0 }.joined(separator: "\n") + "\n    endpoints:")
    }

    @Test("every key is read, with Envoy-like defaults for what is left out")
    func everyKey() throws {
        let config = try ConfigFixture.parse(Self.cluster("""
            lb: maglev
            hash_on: { cookie: sid }
            health_check: { http: { path: /ready, expected_statuses: [200, 300-399], host: api.internal }, interval: 2s, jitter: 500ms, timeout: 1s, healthy_threshold: 2, unhealthy_threshold: 4 }
            outlier_detection: { consecutive_5xx: 7, base_ejection: 10s, max_ejection_percent: 30 }
            panic_threshold: 25
            retries: { attempts: 2, on: [5xx, "429"], per_try_timeout: 300ms, backoff: { base: 10ms }, budget_percent: 10, non_idempotent: true, max_buffered_body: 16k }
            circuit_breakers: { max_connections: 100, max_requests: 50 }
            """))
        let options = config.clusters[0].options
        #expect(options.lb == .maglev)
        #expect(options.hashOn == .cookie("sid"))
        let check = try #require(options.healthCheck)
        #expect(check.kind == .http(path: "/ready", host: "api.internal", expectedStatuses: [200..<201, 300..<400]))
        #expect(check.interval == .seconds(2) && check.jitter == .milliseconds(500) && check.timeout == .seconds(1))
        #expect(check.healthyThreshold == 2 && check.unhealthyThreshold == 4)
        let outlier = try #require(options.outlierDetection)
        #expect(outlier.consecutive5xx == 7 && outlier.consecutiveConnectFailures == 5)
        #expect(outlier.baseEjection == .seconds(10) && outlier.maxEjection == .seconds(300) && outlier.maxEjectionPercent == 30)
        #expect(options.panicThreshold == 25)
        let retries = try #require(options.retries)
        #expect(retries.attempts == 2 && retries.on == [.serverError] && retries.statuses == [429])
        #expect(retries.perTryTimeout == .milliseconds(300))
        #expect(retries.backoffBase == .milliseconds(10) && retries.backoffMax == .milliseconds(100), "max defaults to 10x base")
        #expect(retries.budgetPercent == 10 && retries.minRetryConcurrency == 3 && retries.nonIdempotent && retries.maxBufferedBody == 16 * 1024)
        #expect(options.circuitBreakers.maxConnections == 100 && options.circuitBreakers.maxRequests == 50)
        #expect(options.circuitBreakers.maxPending == 1024 && options.circuitBreakers.maxRetries == Int.max)
        #expect(options.upstreamProtocol == .http1, "HTTP/1.1 unless protocol: http2")
        #expect(try ConfigFixture.parse(Self.cluster("protocol: http2")).clusters[0].options.upstreamProtocol == .http2)
    }

    @Test("without the keys: round robin, no checks, no retries, panic at 50%, breakers at 1024")
    func defaults() throws {
        let options = try ConfigFixture.parse(ConfigFixture.minimal).clusters[0].options
        #expect(options.lb == .roundRobin && options.hashOn == nil && options.healthCheck == nil && options.outlierDetection == nil && options.retries == nil)
        #expect(options.panicThreshold == 50)
        #expect(options.circuitBreakers == CircuitBreakerLimits())
    }

    @Test("the printed effective config loads back to the same options")
    func roundTrip() throws {
        let yaml = Self.cluster("""
            lb: ring_hash
            hash_on: client_ip
            health_check: { tcp: {}, interval: 1s }
            outlier_detection: {}
            retries: { on: [gateway_error, "503"], per_try_timeout: 1s }
            circuit_breakers: { max_retries: 5 }
            """)
        let config = try ConfigFixture.parse(yaml)
        let printed = EffectiveConfigPrinter.yaml(config)
        let again = try ConfigFixture.parse(printed).clusters[0].options
        let options = config.clusters[0].options
        #expect(again.lb == options.lb && again.hashOn == options.hashOn && again.healthCheck == options.healthCheck)
        #expect(again.outlierDetection == options.outlierDetection && again.retries == options.retries && again.circuitBreakers == options.circuitBreakers)
        #expect(EffectiveConfigPrinter.yaml(try ConfigFixture.parse(printed)) == printed)
    }

    @Test("discovery: dns reads its keys, and the printed config loads back to them")
    func dnsDiscovery() throws {
        let yaml = Self.cluster("discovery: dns\ndns: { refresh: 250ms, family: v6, resolvers: [127.0.0.53, \"[::1]:5353\"], timeout: 1s }")
        let dns = try #require(try ConfigFixture.parse(yaml).clusters[0].dns)
        #expect(dns.refresh == .milliseconds(250) && dns.family == .v6 && dns.timeout == .milliseconds(1000))
        #expect(dns.resolvers == [HostPort(host: "127.0.0.53", port: 53), HostPort(host: "::1", port: 5353)])
        let printed = EffectiveConfigPrinter.yaml(try ConfigFixture.parse(yaml))
        #expect(try ConfigFixture.parse(printed).clusters[0].dns == dns)
        #expect(try ConfigFixture.parse(Self.cluster("discovery: dns")).clusters[0].dns == DNSClusterConfig())
        #expect(try ConfigFixture.parse(ConfigFixture.minimal).clusters[0].dns == nil)
    }

    @Test("sticky and zone keys are read; the effective config prints them back (without the key)")
    func stickyAndZones() throws {
        let yaml = """
            listeners:
              - name: public
                address: 127.0.0.1:8080
                routes: [ { match: { path_prefix: / }, cluster: web } ]
            clusters:
              - name: web
                endpoints:
                  - { address: 127.0.0.1:9001, zone: eu-1 }
                  - { address: 127.0.0.1:9002, weight: 0, zone: eu-2 }
                sticky: { cookie: { name: aff, ttl: 30m, path: /app, domain: example.com, same_site: none, secure: true, http_only: false }, mode: strict, key: "0123456789abcdef" }
                local_zone: { zone: eu-1, min_healthy_percent: 50 }
            """
        let config = try ConfigFixture.parse(yaml)
        let options = config.clusters[0].options
        var cookie = StickyCookieSettings(name: "aff")
        cookie.ttlSeconds = 1800
        cookie.path = "/app"
        cookie.domain = "example.com"
        cookie.sameSite = "None"
        cookie.secure = true
        cookie.httpOnly = false
        let sticky = try #require(options.sticky)
        #expect(sticky.mode == .cookie(cookie))
        #expect(sticky.onUnavailable == .strict && sticky.key == Array("0123456789abcdef".utf8))
        #expect(options.localZone == LocalZoneSettings(zone: "eu-1").with(percent: 50))
        #expect(config.clusters[0].endpoints.map(\.zone) == ["eu-1", "eu-2"] && config.clusters[0].endpoints[1].weight == 0)
        let printed = EffectiveConfigPrinter.yaml(config)
        #expect(!printed.contains("0123456789abcdef"), "the key is a secret")
        let again = try ConfigFixture.parse(printed).clusters[0].options
        #expect(again.sticky?.mode == sticky.mode && again.sticky?.onUnavailable == .strict && again.localZone == options.localZone)

        let header = try ConfigFixture.parse(Self.cluster("sticky: { header: X-Session }")).clusters[0].options.sticky
        #expect(header?.mode == .header("x-session") && header?.onUnavailable == .fallback && header?.key == nil)
        let app = try ConfigFixture.parse(Self.cluster("sticky: { app_cookie: JSESSIONID }")).clusters[0].options.sticky
        #expect(app?.mode == .appCookie(name: "JSESSIONID", path: "/"))
        let filterHash = try ConfigFixture.parse(Self.cluster("lb: maglev\nhash_on: filter")).clusters[0].options
        #expect(filterHash.hashOn == .filter)
    }

    @Test("invalid values are reported at their line with their key path", arguments: [
        ConfigErrorCase("sticky of no kind", cluster("sticky: { mode: strict }"),
                        keyPath: "clusters[0].sticky", at: "sticky:", message: "sticky needs cookie"),
        ConfigErrorCase("two sticky kinds", cluster("sticky: { header: x-a, app_cookie: sid }"),
                        keyPath: "clusters[0].sticky", at: "sticky:", message: "use one of cookie, header or app_cookie"),
        ConfigErrorCase("short sticky key", cluster("sticky: { cookie: {}, key: short }"),
                        keyPath: "clusters[0].sticky.key", at: "sticky:", message: "needs at least 16 bytes"),
        ConfigErrorCase("missing sticky key file", cluster("sticky: { cookie: {}, key_file: /nonexistent/sticky.key }"),
                        keyPath: "clusters[0].sticky.key_file", at: "sticky:", message: "cannot read '/nonexistent/sticky.key'"),
        ConfigErrorCase("unknown sticky mode", cluster("sticky: { header: x-a, mode: sometimes }"),
                        keyPath: "clusters[0].sticky.mode", at: "sticky:", message: "use strict or fallback"),
        ConfigErrorCase("SameSite=None without Secure", cluster("sticky: { cookie: { same_site: none } }"),
                        keyPath: "clusters[0].sticky.cookie.same_site", at: "sticky:", message: "needs secure: true"),
        ConfigErrorCase("bad cookie name", cluster("sticky: { cookie: { name: \"a;b\" } }"),
                        keyPath: "clusters[0].sticky.cookie.name", at: "sticky:", message: "is not a valid cookie name"),
        ConfigErrorCase("local zone no endpoint has", cluster("local_zone: mars"),
                        keyPath: "clusters[0].local_zone", at: "local_zone: mars", message: "no endpoint of this cluster has zone: mars"),
        ConfigErrorCase("hash_on without a hashing policy", cluster("hash_on: client_ip"),
                        keyPath: "clusters[0].hash_on", at: "hash_on: client_ip", message: "hash_on needs lb: ring_hash or maglev"),
        ConfigErrorCase("hashing policy without hash_on", cluster("lb: ring_hash"),
                        keyPath: "clusters[0].lb", at: "lb: ring_hash", message: "ring_hash needs hash_on"),
        ConfigErrorCase("unknown hash source", cluster("lb: maglev\nhash_on: path"),
                        keyPath: "clusters[0].hash_on", at: "hash_on: path", message: "unknown hash_on 'path'"),
        ConfigErrorCase("unknown retry condition", cluster("retries: { on: [reset, flaky] }"),
                        keyPath: "clusters[0].retries.on[1]", at: "retries:", message: "unknown retry condition 'flaky'"),
        ConfigErrorCase("health-check timeout above the interval", cluster("health_check: { tcp: {}, interval: 1s, timeout: 2s }"),
                        keyPath: "clusters[0].health_check.timeout", at: "health_check:", message: "must not be longer than the interval (1s)"),
        ConfigErrorCase("bad status range", cluster("health_check: { http: { expected_statuses: [200-99] } }"),
                        keyPath: "clusters[0].health_check.http.expected_statuses[0]", at: "health_check:", message: "invalid status range '200-99'"),
        ConfigErrorCase("health check of no kind", cluster("health_check: { interval: 1s }"),
                        keyPath: "clusters[0].health_check", at: "health_check:", message: "needs http: { path: /healthz }, tcp: {} or grpc: {}"),
        ConfigErrorCase("ejection percent", cluster("outlier_detection: { max_ejection_percent: 150 }"),
                        keyPath: "clusters[0].outlier_detection.max_ejection_percent", at: "outlier_detection:", message: "must be between 0 and 100"),
        ConfigErrorCase("panic threshold", cluster("panic_threshold: many"),
                        keyPath: "clusters[0].panic_threshold", at: "panic_threshold: many", message: "expected an integer"),
        ConfigErrorCase("zero circuit breaker", cluster("circuit_breakers: { max_requests: 0 }"),
                        keyPath: "clusters[0].circuit_breakers.max_requests", at: "circuit_breakers:", message: "must be between 1 and"),
        ConfigErrorCase("misspelt circuit breaker", cluster("circuit_breakers: { max_request: 10 }"),
                        keyPath: "clusters[0].circuit_breakers.max_request", at: "circuit_breakers:", message: "did you mean 'max_requests'?"),
        ConfigErrorCase("dns settings without dns discovery", cluster("dns: { refresh: 1s }"),
                        keyPath: "clusters[0].dns", at: "dns:", message: "dns settings need discovery: dns"),
        ConfigErrorCase("unknown discovery", cluster("discovery: consul"),
                        keyPath: "clusters[0].discovery", at: "discovery: consul", message: "unknown discovery 'consul'"),
        ConfigErrorCase("a resolver that is a name", cluster("discovery: dns\ndns: { resolvers: [ns1.example.com] }"),
                        keyPath: "clusters[0].dns.resolvers[0]", at: "dns:", message: "a resolver is an IP address"),
        ConfigErrorCase("unknown address family", cluster("discovery: dns\ndns: { family: v5 }"),
                        keyPath: "clusters[0].dns.family", at: "dns:", message: "unknown family 'v5'"),
        ConfigErrorCase("grpc health check on an http1 cluster", cluster("health_check: { grpc: { service: api } }"),
                        keyPath: "clusters[0].health_check", at: "health_check:", message: "needs protocol: http2 on this cluster"),
        ConfigErrorCase("unknown upstream protocol", cluster("protocol: http3"),
                        keyPath: "clusters[0].protocol", at: "protocol: http3", message: "unknown protocol 'http3' (supported: http1, http2, auto)"),
        ConfigErrorCase("backoff max below base", cluster("retries: { backoff: { base: 100ms, max: 50ms } }"),
                        keyPath: "clusters[0].retries.backoff.max", at: "retries:", message: "must not be shorter than base"),
    ])
    func invalid(_ testCase: ConfigErrorCase) throws {
        try testCase.verify()
    }
}

extension LocalZoneSettings {
    func with(percent: Int) -> LocalZoneSettings {
        var copy = self
        copy.minHealthyPercent = percent
        return copy
    }
}
