import Atomics
import GatewayFilterAPI
import HTTPTypes
import NIOCore

/// `rate_limit: { key, rate, burst, name, redis, max_keys, status, failure_mode, failure_status,
/// missing_key, dry_run, response_headers }`: see README.md.
public struct RateLimitFilterFactory: HTTPFilterFactory {
    public static let name = "rate_limit"
    public let phases: FilterPhases

    enum Limiter: Sendable {
        case local(LocalRateLimiter)
        case global(GlobalRateLimiter)
    }

    /// Built once per configured entry, shared by every loop: the buckets live here.
    final class Shared: Sendable {
        let config: RateLimitFilterConfig
        let limiter: Limiter
        let policyValue: String
        /// `<name>:` before each key in Redis (after `redis.key_prefix`).
        let redisKeyPrefix: String
        /// Decisions by outcome, for `/metrics`.
        let decisions: [ManagedAtomic<Int>] = RateLimitDecision.Outcome.allCases.map { _ in ManagedAtomic(0) }

        func count(_ outcome: RateLimitDecision.Outcome) {
            decisions[RateLimitDecision.Outcome.allCases.firstIndex(of: outcome)!].wrappingIncrement(ordering: .relaxed)
        }

        init(config: RateLimitFilterConfig) {
            self.config = config
            let gcra = GCRA(rate: config.rate, burst: config.burst)
            if let redis = config.redis {
                limiter = .global(GlobalRateLimiter(gcra: gcra, settings: redis))
            } else {
                limiter = .local(LocalRateLimiter(gcra: gcra, capacity: config.maxKeys))
            }
            policyValue = RateLimitHeaders.policyValue(name: config.name, gcra: gcra)
            redisKeyPrefix = config.name + ":"
        }
    }

    let shared: Shared

    public init(config: RateLimitFilterConfig, environment: FilterEnvironment) {
        shared = Shared(config: config)
        phases = config.headersOnAllowed ? [.requestHead, .responseHead] : .requestHead
    }

    public func makeFilter(on eventLoop: EventLoop) -> any HTTPFilter { RateLimitFilter(shared: shared) }

    public var exportedCounters: [FilterCounter] {
        zip(RateLimitDecision.Outcome.allCases, shared.decisions).map { outcome, count in
            FilterCounter(name: "rate_limit_decisions_total", help: "Rate-limit decisions, by outcome.",
                          labels: [("limit", shared.config.name), ("outcome", outcome.rawValue)], value: count.load(ordering: .relaxed))
        }
    }

    /// The limiter's state, for tests and diagnostics.
    public var localLimiter: LocalRateLimiter? {
        if case .local(let limiter) = shared.limiter { return limiter }
        return nil
    }

    public var globalLimiter: GlobalRateLimiter? {
        if case .global(let limiter) = shared.limiter { return limiter }
        return nil
    }

    // MARK: - Config

    static let keys = ["name", "key", "rate", "burst", "redis", "max_keys", "status", "failure_mode", "failure_status",
                       "missing_key", "dry_run", "response_headers"]

    public static func parseConfig(_ value: any FilterConfigValue, environment: FilterEnvironment) -> RateLimitFilterConfig? {
        guard let map = value.mapping(allowed: keys) else { return nil }
        var valid = true
        var key = RateLimitKey.clientIP
        if let node = map["key"] {
            if let parsed = parseKey(node) { key = parsed } else { valid = false }
        }
        var rate: RateSpec?
        if let node = map.required("rate"), let text = node.string() {
            rate = RateSpec(parsing: text)
            if rate == nil { node.fail("invalid rate '\(text)' (a count per s, m or h, e.g. 100/s, 20/m, 1000/h)"); valid = false }
        } else {
            valid = false
        }
        var burst = rate?.count ?? 1
        if let node = map["burst"] {
            if let value = node.int(min: 1, max: 10_000_000) { burst = value } else { valid = false }
        }
        let name = map["name"]?.nonEmptyString() ?? "\(environment.listenerName):\(key):\(rate?.description ?? "")"
        if !name.utf8.allSatisfy({ $0 >= 0x20 && $0 < 0x7F }) {
            map["name"]?.fail("use printable ASCII only (it appears in RateLimit-Policy and Redis keys)")
            valid = false
        }
        guard let rate else { return nil }
        var config = RateLimitFilterConfig(name: name, rate: rate, burst: burst)
        config.key = key
        if let node = map["redis"] {
            if let redis = parseRedis(node) { config.redis = redis } else { valid = false }
        }
        if let node = map["max_keys"] {
            if config.redis != nil { node.fail("max_keys is for the local mode (without redis)"); valid = false }
            if let value = node.int(min: 64, max: 1 << 26) { config.maxKeys = value } else { valid = false }
        }
        if let node = map["status"] {
            if let code = node.int(min: 400, max: 599) { config.status = .init(code: code) } else { valid = false }
        }
        if let node = map["failure_mode"] {
            if let text = node.string(), let mode = RateLimitFilterConfig.FailureMode(rawValue: text) {
                config.failureMode = mode
            } else {
                node.fail("expected open or closed")
                valid = false
            }
        }
        if let node = map["failure_status"] {
            if let code = node.int(min: 400, max: 599) { config.failureStatus = .init(code: code) } else { valid = false }
        }
        if let node = map["missing_key"] {
            if let text = node.string(), let mode = RateLimitFilterConfig.MissingKey(rawValue: text) {
                config.missingKey = mode
            } else {
                node.fail("expected pass or client_ip")
                valid = false
            }
        }
        if let node = map["dry_run"] {
            if let flag = node.bool() { config.dryRun = flag } else { valid = false }
        }
        if let node = map["response_headers"] {
            if let flag = node.bool() { config.headersOnAllowed = flag } else { valid = false }
        }
        return valid ? config : nil
    }

    /// `client_ip`, `route`, `{ header: NAME }`, `{ metadata: NAME }` (also `header:NAME`, `metadata:NAME`).
    static func parseKey(_ node: any FilterConfigValue) -> RateLimitKey? {
        let help = "expected client_ip, route, { header: NAME } or { metadata: NAME }"
        if let text = node.scalarText {
            switch text {
            case "client_ip": return .clientIP
            case "route": return .route
            default:
                if text.hasPrefix("header:"), let name = HTTPField.Name(String(text.dropFirst(7))) { return .header(name) }
                if text.hasPrefix("metadata:"), text.count > 9 { return .metadata(String(text.dropFirst(9))) }
                node.fail(help)
                return nil
            }
        }
        guard let map = node.mapping(allowed: ["header", "metadata"]) else { return nil }
        if let header = map["header"] {
            guard let text = header.nonEmptyString() else { return nil }
            guard let name = HTTPField.Name(text) else { header.fail("'\(text)' is not a valid header name"); return nil }
            return .header(name)
        }
        if let metadata = map["metadata"] {
            return metadata.nonEmptyString().map { .metadata($0) }
        }
        map.value.fail(help)
        return nil
    }

    /// `redis: 127.0.0.1:6379` or `redis: { address, timeout, connect_timeout, max_pending, key_prefix }`.
    static func parseRedis(_ node: any FilterConfigValue) -> RedisSettings? {
        let map: (any FilterConfigMapping)?
        let addressNode: (any FilterConfigValue)?
        if node.scalarText != nil {
            map = nil
            addressNode = node
        } else {
            map = node.mapping(allowed: ["address", "timeout", "connect_timeout", "max_pending", "key_prefix"])
            guard let map else { return nil }
            addressNode = map.required("address")
        }
        guard let addressNode, let text = addressNode.nonEmptyString() else { return nil }
        guard let address = resolve(text) else {
            addressNode.fail("invalid redis address '\(text)' (host:port, e.g. 127.0.0.1:6379)")
            return nil
        }
        var settings = RedisSettings(address: address, addressText: text)
        guard let map else { return settings }
        var valid = true
        if let timeout = map["timeout"] {
            if let value = timeout.duration(), value > .zero { settings.timeout = value } else { timeout.fail("needs a positive duration, e.g. 50ms"); valid = false }
        }
        if let timeout = map["connect_timeout"] {
            if let value = timeout.duration(), value > .zero { settings.connectTimeout = value } else { timeout.fail("needs a positive duration, e.g. 500ms"); valid = false }
        }
        if let pending = map["max_pending"] {
            if let value = pending.int(min: 1, max: 1 << 20) { settings.maxPending = value } else { valid = false }
        }
        if let prefix = map["key_prefix"] {
            if let value = prefix.string() { settings.keyPrefix = value } else { valid = false }
        }
        return valid ? settings : nil
    }

    static func resolve(_ text: String) -> SocketAddress? {
        var host: Substring
        let portText: Substring
        if text.hasPrefix("["), let close = text.firstIndex(of: "]"), text[text.index(after: close)...].hasPrefix(":") {
            host = text[text.index(after: text.startIndex)..<close]
            portText = text[text.index(close, offsetBy: 2)...]
        } else if let colon = text.lastIndex(of: ":") {
            host = text[..<colon]
            portText = text[text.index(after: colon)...]
        } else {
            return nil
        }
        if host.isEmpty { host = "127.0.0.1" }
        guard let port = Int(portText), (1...65535).contains(port) else { return nil }
        return try? SocketAddress.makeAddressResolvingHost(String(host), port: port)
    }
}
