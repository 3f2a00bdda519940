import GatewayTLS
import HTTPTypes
import NIOCore
import Upstream

/// The cluster keys of the upstream manager: hashing, health checks, outlier detection, panic mode,
/// retries and circuit breakers. Defaults follow Envoy's where Envoy has one.
extension ConfigDecoder {
    static let clusterKeys = ["name", "endpoints", "lb", "timeouts", "pool", "hash_on", "health_check", "outlier_detection",
                              "panic_threshold", "retries", "circuit_breakers", "discovery", "dns", "sticky", "local_zone", "tls", "protocol"]

    /// `discovery: static | dns` and the `dns:` section.
    func decodeDiscovery(_ map: ConfigMapping, into cluster: inout ClusterConfig) {
        var isDNS = false
        if let value = map["discovery"], let text = value.string() {
            switch text {
            case "static": break
            case "dns": isDNS = true
            default: value.fail("unknown discovery '\(text)' (use static or dns)")
            }
        }
        guard let section = map["dns"] else {
            if isDNS { cluster.dns = DNSClusterConfig() }
            return
        }
        guard isDNS else {
            section.fail("dns settings need discovery: dns")
            return
        }
        guard let keys = section.mapping(allowed: ["refresh", "family", "resolvers", "timeout", "initial_timeout"]) else { return }
        var dns = DNSClusterConfig()
        if let value = keys["refresh"], let refresh = value.duration() {
            if refresh == .disabled { value.fail("a DNS refresh interval cannot be disabled") } else { dns.refresh = refresh }
        }
        if let value = keys["timeout"], let timeout = value.duration() {
            if timeout == .disabled { value.fail("a DNS timeout cannot be disabled") } else { dns.timeout = timeout }
        }
        if let value = keys["initial_timeout"], let timeout = value.duration() {
            // 0: do not wait; the cluster starts empty and fills in when the answer arrives.
            dns.initialTimeout = timeout
        }
        if let value = keys["family"], let text = value.string() {
            if let family = AddressFamilyPreference(rawValue: text) {
                dns.family = family
            } else {
                value.fail("unknown family '\(text)' (use auto, v4 or v6)")
            }
        }
        for item in keys["resolvers"]?.sequence() ?? [] {
            guard let text = item.string() else { continue }
            // A resolver given without a port listens on 53.
            let address = HostPort(parsing: text) ?? HostPort(parsing: text.contains(":") ? "[\(text)]:53" : "\(text):53")
            guard let address, (try? SocketAddress(ipAddress: address.host, port: address.port)) != nil else {
                item.fail("a resolver is an IP address with an optional port, e.g. 127.0.0.1:53 or [::1]:53; got '\(text)'")
                continue
            }
            dns.resolvers.append(address)
        }
        cluster.dns = dns
    }

    func decodeResilience(_ map: ConfigMapping, into cluster: inout ClusterConfig) {
        if let value = map["protocol"], let text = value.string() {
            if let kind = UpstreamProtocol(rawValue: text) {
                cluster.options.upstreamProtocol = kind
            } else {
                value.fail("unknown protocol '\(text)' (supported: \(UpstreamProtocol.allCases.map(\.rawValue).joined(separator: ", ")))")
            }
        }
        if let value = map["hash_on"] {
            cluster.options.hashOn = decodeHashOn(value)
            if !cluster.lb.isConsistentHash { value.fail("hash_on needs lb: ring_hash or maglev") }
        } else if cluster.lb.isConsistentHash {
            map["lb"]?.fail("\(cluster.lb.rawValue) needs hash_on: { header: NAME } | { cookie: NAME } | client_ip | filter")
        }
        if let value = map["sticky"] { cluster.options.sticky = decodeSticky(value) }
        if let value = map["local_zone"] {
            cluster.options.localZone = decodeLocalZone(value)
            if let zone = cluster.options.localZone?.zone, !cluster.endpoints.contains(where: { $0.zone == zone }) {
                value.fail("no endpoint of this cluster has zone: \(zone)")
            }
        }
        if let value = map["health_check"] {
            cluster.options.healthCheck = decodeHealthCheck(value)
            if case .grpc? = cluster.options.healthCheck?.kind, cluster.options.upstreamProtocol != .http2 {
                value.fail("a grpc health check speaks HTTP/2: it needs protocol: http2 on this cluster")
            }
        }
        if let value = map["outlier_detection"] { cluster.options.outlierDetection = decodeOutlier(value) }
        if let v = map["panic_threshold"]?.int(min: 0, max: 100) { cluster.options.panicThreshold = v }
        if let value = map["retries"] { cluster.options.retries = decodeRetries(value) }
        if let value = map["circuit_breakers"], let limits = decodeCircuitBreakers(value) { cluster.options.circuitBreakers = limits }
        if let value = map["tls"] { cluster.options.tls = decodeClusterTLS(value, upstreamProtocol: cluster.options.upstreamProtocol) }
        if cluster.options.upstreamProtocol == .auto, let tls = cluster.options.tls {
            // Health probes speak HTTP/1.1: they offer only that, whatever the endpoint prefers.
            var configuration = tls.configuration
            configuration.alpn = ["http/1.1"]
            cluster.options.tlsHTTP1Only = try? TLSClientContext(configuration)
        }
    }

    /// `client_ip`, `filter`, `{ header: x-user }` or `{ cookie: sid }`.
    private func decodeHashOn(_ value: ConfigValue) -> HashKeySource? {
        if let text = value.scalarString {
            if text == "client_ip" { return .clientIP }
            if text == "filter" { return .filter }
            value.fail("unknown hash_on '\(text)' (use client_ip, filter, { header: NAME } or { cookie: NAME })")
            return nil
        }
        guard let section = value.mapping(allowed: ["header", "cookie"]) else { return nil }
        let header = section["header"]?.nonEmptyString()
        let cookie = section["cookie"]?.nonEmptyString()
        switch (header, cookie) {
        case (let name?, nil): return .header(name.lowercased())
        case (nil, let name?): return .cookie(name)
        case (_?, _?): value.fail("use either header or cookie, not both")
        case (nil, nil): value.fail("expected { header: NAME } or { cookie: NAME }")
        }
        return nil
    }

    /// `{ cookie: { name, ttl, path, domain, same_site, secure, http_only } | header: NAME |
    /// app_cookie: NAME | { name, path }, mode: strict | fallback, key: TEXT | key_file: PATH }`.
    private func decodeSticky(_ value: ConfigValue) -> StickySettings? {
        guard let section = value.mapping(allowed: ["cookie", "header", "app_cookie", "mode", "key", "key_file"]) else { return nil }
        var modes: [StickySettings.Mode] = []
        if let cookieValue = section["cookie"], let cookie = cookieValue.mapping(allowed: ["name", "ttl", "path", "domain", "same_site", "secure", "http_only"]) {
            var settings = StickyCookieSettings(name: "pc_aff")
            if let name = cookie["name"]?.nonEmptyString() {
                if Self.isCookieToken(name) { settings.name = name } else { cookie["name"]?.fail("'\(name)' is not a valid cookie name") }
            }
            if let ttl = cookie["ttl"], let duration = ttl.duration() {
                if case .milliseconds(let ms) = duration, ms >= 1000 { settings.ttlSeconds = Int(ms / 1000) } else if duration != .disabled { ttl.fail("must be at least 1s (or off for a session cookie)") }
            }
            if let path = cookie["path"]?.nonEmptyString() {
                if path.hasPrefix("/") && Self.isAttributeText(path) { settings.path = path } else { cookie["path"]?.fail("must start with '/' and hold no ';' or control characters") }
            }
            if let domain = cookie["domain"]?.nonEmptyString() {
                if Self.isAttributeText(domain) { settings.domain = domain } else { cookie["domain"]?.fail("holds ';' or control characters") }
            }
            if let sameSite = cookie["same_site"]?.nonEmptyString() {
                switch sameSite.lowercased() {
                case "strict": settings.sameSite = "Strict"
                case "lax": settings.sameSite = "Lax"
                case "none": settings.sameSite = "None"
                case "off": settings.sameSite = nil
                default: cookie["same_site"]?.fail("use strict, lax, none or off")
                }
            }
            if let v = cookie["secure"]?.bool() { settings.secure = v }
            if let v = cookie["http_only"]?.bool() { settings.httpOnly = v }
            if settings.sameSite == "None" && !settings.secure { cookie["same_site"]?.fail("SameSite=None needs secure: true (browsers drop it otherwise)") }
            modes.append(.cookie(settings))
        }
        if let header = section["header"]?.nonEmptyString() {
            if HTTPField.Name(header) != nil { modes.append(.header(header.lowercased())) } else { section["header"]?.fail("'\(header)' is not a header name") }
        }
        if let app = section["app_cookie"] {
            var name: String?
            var path = "/"
            if let text = app.scalarString {
                name = text
            } else if let map = app.mapping(allowed: ["name", "path"]) {
                name = map.required("name")?.nonEmptyString()
                if let p = map["path"]?.nonEmptyString() {
                    if p.hasPrefix("/") && Self.isAttributeText(p) { path = p } else { map["path"]?.fail("must start with '/' and hold no ';' or control characters") }
                }
            }
            if let name {
                if Self.isCookieToken(name) { modes.append(.appCookie(name: name, path: path)) } else { app.fail("'\(name)' is not a valid cookie name") }
            }
        }
        guard modes.count == 1 else {
            if modes.count > 1 { value.fail("use one of cookie, header or app_cookie") } else if section["cookie"] == nil && section["header"] == nil && section["app_cookie"] == nil {
                value.fail("sticky needs cookie: { name: pc_aff, ttl: 1h }, header: NAME or app_cookie: NAME")
            }
            return nil
        }
        var sticky = StickySettings(mode: modes[0])
        if let mode = section["mode"], let text = mode.string() {
            if let v = StickySettings.OnUnavailable(rawValue: text) { sticky.onUnavailable = v } else { mode.fail("use strict or fallback") }
        }
        switch (section["key"], section["key_file"]) {
        case (let key?, nil):
            if let text = key.nonEmptyString() {
                if text.utf8.count >= 16 { sticky.key = Array(text.utf8) } else { key.fail("needs at least 16 bytes (32 random bytes are best)") }
            }
        case (nil, let file?):
            if let path = file.nonEmptyString() {
                do {
                    let text = try ConfigLoader.readFile(path).trimmingCharacters(in: " ")
                    let bytes = Array(text.utf8.reversed().drop { $0 == 10 || $0 == 13 }.reversed())
                    if bytes.count >= 16 { sticky.key = bytes } else { file.fail("'\(path)' holds fewer than 16 bytes") }
                } catch {
                    file.fail("cannot read '\(path)': \(error)")
                }
            }
        case (_?, _?):
            value.fail("use either key or key_file, not both")
        case (nil, nil):
            break
        }
        return sticky
    }

    /// `local_zone: eu-1` or `{ zone: eu-1, min_healthy_percent: 70 }`.
    private func decodeLocalZone(_ value: ConfigValue) -> LocalZoneSettings? {
        if let text = value.scalarString {
            guard !text.isEmpty else { value.fail("expected a zone name"); return nil }
            return LocalZoneSettings(zone: text)
        }
        guard let map = value.mapping(allowed: ["zone", "min_healthy_percent"]), let zone = map.required("zone")?.nonEmptyString() else { return nil }
        var settings = LocalZoneSettings(zone: zone)
        if let v = map["min_healthy_percent"]?.int(min: 1, max: 100) { settings.minHealthyPercent = v }
        return settings
    }

    /// RFC 6265 token characters.
    static func isCookieToken(_ text: String) -> Bool {
        !text.isEmpty && text.utf8.allSatisfy { $0 > 0x20 && $0 < 0x7F && !"()<>@,;:\\\"/[]?={}".utf8.contains($0) }
    }

    static func isAttributeText(_ text: String) -> Bool { text.utf8.allSatisfy { $0 >= 0x20 && $0 < 0x7F && $0 != UInt8(ascii: ";") } }

    private func decodeHealthCheck(_ value: ConfigValue) -> HealthCheckSettings? {
        guard let section = value.mapping(allowed: ["http", "tcp", "grpc", "interval", "jitter", "timeout", "healthy_threshold", "unhealthy_threshold"]) else { return nil }
        var kind: HealthCheckSettings.Kind?
        if let http = section["http"]?.mapping(allowed: ["path", "expected_statuses", "host"]) {
            var path = "/healthz"
            if let p = http["path"]?.nonEmptyString() {
                if p.hasPrefix("/") { path = p } else { http["path"]?.fail("must start with '/'") }
            }
            var ranges = [200..<300]
            if let list = http["expected_statuses"]?.sequence() {
                ranges = list.compactMap(decodeStatusRange)
                if list.isEmpty { http["expected_statuses"]?.fail("needs at least one status or range") }
            }
            kind = .http(path: path, host: http["host"]?.nonEmptyString(), expectedStatuses: ranges)
        }
        if let tcp = section["tcp"] {
            _ = tcp.mapping(allowed: [])
            if kind != nil { tcp.fail("use one of http, tcp and grpc") } else { kind = .tcp }
        }
        if let grpc = section["grpc"] {
            let map = grpc.mapping(allowed: ["service", "authority"])
            if kind != nil {
                grpc.fail("use one of http, tcp and grpc")
            } else if let map {
                kind = .grpc(service: map["service"]?.scalarString ?? "", authority: map["authority"]?.nonEmptyString())
            }
        }
        guard let kind else {
            value.fail("a health check needs http: { path: /healthz }, tcp: {} or grpc: {}")
            return nil
        }
        var check = HealthCheckSettings(kind: kind)
        if let v = positiveDuration(section["interval"]) { check.interval = v }
        if let v = section["jitter"]?.duration() { check.jitter = v.timeAmount ?? .zero }
        if let v = positiveDuration(section["timeout"]) { check.timeout = v }
        if let v = section["healthy_threshold"]?.int(min: 1, max: 1000) { check.healthyThreshold = v }
        if let v = section["unhealthy_threshold"]?.int(min: 1, max: 1000) { check.unhealthyThreshold = v }
        if check.timeout > check.interval { section["timeout"]?.fail("must not be longer than the interval (\(ConfigDuration(check.interval)))") }
        return check
    }

    /// `200`, or `200-299` (both ends included, as written).
    private func decodeStatusRange(_ value: ConfigValue) -> Range<Int>? {
        guard let text = value.scalarString else { value.fail("expected a status like 200 or a range like 200-399"); return nil }
        let parts = text.split(separator: "-", omittingEmptySubsequences: false).map { Int(String($0).trimmingCharacters(in: " ")) }
        if parts.count == 1, let code = parts[0], (100...599).contains(code) { return code..<(code + 1) }
        if parts.count == 2, let low = parts[0], let high = parts[1], (100...599).contains(low), (low...599).contains(high) { return low..<(high + 1) }
        value.fail("invalid status range '\(text)' (e.g. 200, or 200-399)")
        return nil
    }

    private func decodeOutlier(_ value: ConfigValue) -> OutlierSettings? {
        guard let section = value.mapping(allowed: ["consecutive_5xx", "consecutive_connect_failures", "base_ejection", "max_ejection",
                                                    "max_ejection_percent"]) else { return nil }
        var outlier = OutlierSettings()
        if let v = section["consecutive_5xx"]?.int(min: 0, max: 100_000) { outlier.consecutive5xx = v }
        if let v = section["consecutive_connect_failures"]?.int(min: 0, max: 100_000) { outlier.consecutiveConnectFailures = v }
        if let v = positiveDuration(section["base_ejection"]) { outlier.baseEjection = v }
        if let v = positiveDuration(section["max_ejection"]) { outlier.maxEjection = v }
        if let v = section["max_ejection_percent"]?.int(min: 0, max: 100) { outlier.maxEjectionPercent = v }
        if outlier.maxEjection < outlier.baseEjection { section["max_ejection"]?.fail("must not be shorter than base_ejection") }
        if outlier.consecutive5xx == 0 && outlier.consecutiveConnectFailures == 0 {
            value.fail("consecutive_5xx and consecutive_connect_failures are both 0: nothing would ever be ejected")
        }
        return outlier
    }

    private func decodeRetries(_ value: ConfigValue) -> RetryPolicy? {
        guard let section = value.mapping(allowed: ["attempts", "on", "per_try_timeout", "backoff", "budget_percent", "min_retry_concurrency",
                                                    "non_idempotent", "max_buffered_body"]) else { return nil }
        var retries = RetryPolicy()
        if let v = section["attempts"]?.int(min: 0, max: 10) { retries.attempts = v }
        if let list = section["on"]?.sequence() {
            retries.on = []
            for item in list {
                guard let text = item.scalarString else { item.fail("expected a condition or a status"); continue }
                switch text {
                case "connect_failure": retries.on.insert(.connectFailure)
                case "reset": retries.on.insert(.reset)
                case "5xx": retries.on.insert(.serverError)
                case "gateway_error": retries.on.insert(.gatewayError)
                default:
                    if let code = Int(text), (100...599).contains(code) {
                        retries.statuses.insert(code)
                    } else {
                        item.fail("unknown retry condition '\(text)' (use connect_failure, reset, 5xx, gateway_error or a status like 503)")
                    }
                }
            }
        }
        if let v = section["per_try_timeout"]?.duration() { retries.perTryTimeout = v.timeAmount }
        if let backoff = section["backoff"]?.mapping(allowed: ["base", "max"]) {
            if let v = positiveDuration(backoff["base"]) {
                retries.backoffBase = v
                // Envoy: max defaults to 10 times base.
                if backoff["max"] == nil { retries.backoffMax = v * 10 }
            }
            if let v = positiveDuration(backoff["max"]) { retries.backoffMax = v }
            if retries.backoffMax < retries.backoffBase { backoff["max"]?.fail("must not be shorter than base") }
        }
        if let v = section["budget_percent"]?.int(min: 0, max: 100) { retries.budgetPercent = v }
        if let v = section["min_retry_concurrency"]?.int(min: 0, max: 1_000_000) { retries.minRetryConcurrency = v }
        if let v = section["non_idempotent"]?.bool() { retries.nonIdempotent = v }
        if let v = section["max_buffered_body"]?.byteSize() { retries.maxBufferedBody = Int(clamping: v) }
        return retries
    }

    private func decodeCircuitBreakers(_ value: ConfigValue) -> CircuitBreakerLimits? {
        guard let section = value.mapping(allowed: ["max_connections", "max_pending", "max_requests", "max_retries"]) else { return nil }
        var limits = CircuitBreakerLimits()
        if let v = section["max_connections"]?.int(min: 1) { limits.maxConnections = v }
        if let v = section["max_pending"]?.int(min: 1) { limits.maxPending = v }
        if let v = section["max_requests"]?.int(min: 1) { limits.maxRequests = v }
        if let v = section["max_retries"]?.int(min: 0) { limits.maxRetries = v }
        return limits
    }

    /// A duration that must not be `off`.
    private func positiveDuration(_ value: ConfigValue?) -> TimeAmount? {
        guard let value, let duration = value.duration() else { return nil }
        guard let amount = duration.timeAmount else {
            value.fail("cannot be off")
            return nil
        }
        return amount
    }
}

extension ConfigDuration {
    init(_ amount: TimeAmount) {
        let ms = amount.nanoseconds / 1_000_000
        self = ms == 0 ? .disabled : .milliseconds(ms)
    }
}
