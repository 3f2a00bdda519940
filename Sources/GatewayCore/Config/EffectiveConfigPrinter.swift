import NIOCore
import Upstream

/// Renders a loaded config back to YAML with every default filled in: what `portcullis check` prints,
/// so a user sees exactly what the gateway will run with.
public enum EffectiveConfigPrinter {
    public static func yaml(_ config: GatewayConfig) -> String {
        var out = "workers: \(config.workers)\n"
        let metadata = config.accessLog.metadata.isEmpty ? "" : ", metadata: [\(config.accessLog.metadata.map(quote).joined(separator: ", "))]"
        var format = ""
        switch config.accessLog.format {
        case .json(let fields) where fields.count == AccessLogField.allCases.count: break
        case .json(let fields): format = ", format: json, fields: [\(fields.map(\.rawValue).joined(separator: ", "))]"
        case .text(let segments):
            let template = segments.map { segment -> String in
                switch segment {
                case .literal(let text): return text
                case .field(let field): return "${\(field.rawValue)}"
                }
            }.joined()
            format = ", format: text, text: \(quote(template))"
        }
        let sampling = config.accessLog.sampleRate < 1 ? ", sample_rate: \(config.accessLog.sampleRate)" : ""
        out += "access_log: { enabled: \(config.accessLog.enabled)\(metadata)\(format)\(sampling) }\n"
        // An empty list must print as `[]`: a bare `key:` reads back as null, i.e. a missing key.
        out += config.listeners.isEmpty ? "listeners: []\n" : "listeners:\n"
        for listener in config.listeners {
            out += "  - name: \(quote(listener.name))\n"
            out += "    address: \(quote(listener.address.description))\n"
            out += "    proxy_protocol: \(listener.proxyProtocol.rawValue)\n"
            out += "    reuse_port: \(listener.reusePort)\n"
            if !listener.trustedSources.isEmpty {
                out += "    trusted_sources: [\(listener.trustedSources.map { quote($0.description) }.joined(separator: ", "))]\n"
            }
            if let tls = listener.tls {
                out += "    tls:\n"
                out += "      certificates: [\(tls.certificates.map { "{ cert: \(quote($0.certificateChain)), key: \(quote($0.privateKey)) }" }.joined(separator: ", "))]\n"
                out += "      alpn: [\(tls.alpn.map(quote).joined(separator: ", "))]\n"
                out += "      ciphers: \(quote(tls.ciphers))\n"
                if tls.sessionTicketKeyFiles.isEmpty {
                    out += "      session_ticket_rotation: \(tls.sessionTicketRotation)\n"
                } else {
                    out += "      session_ticket_keys: [\(tls.sessionTicketKeyFiles.map(quote).joined(separator: ", "))]\n"
                }
                if let client = tls.clientVerification {
                    out += "      client_ca: \(quote(client.caFile))\n      client_auth: \(client.required ? "required" : "optional")\n"
                }
            }
            out += http2YAML(listener.http2, defaultHeaderList: listener.limits.maxHeaderBytes)
            let limits = listener.limits
            out += "    limits: { max_header_bytes: \(ByteSizeParser.format(Int64(limits.maxHeaderBytes))), max_headers: \(limits.maxHeaders), "
            out += "max_uri_bytes: \(ByteSizeParser.format(Int64(limits.maxURIBytes))), max_body_bytes: \(limits.maxBodyBytes.map(ByteSizeParser.format) ?? "0") }\n"
            let t = listener.timeouts
            out += "    timeouts: { header_read: \(t.headerRead), body_read: \(t.bodyRead), idle: \(t.idle), request: \(t.request) }\n"
            if !listener.filters.isEmpty { out += "    filters: [\(listener.filters.map(\.name).joined(separator: ", "))]\n" }
            out += "    routes:\n"
            for route in listener.routes {
                var match: [String] = []
                if let host = route.match.host { match.append("host: \(quote(host))") }
                if let prefix = route.match.pathPrefix { match.append("path_prefix: \(quote(prefix))") }
                if let path = route.match.path { match.append("path: \(quote(path))") }
                out += "      - match: { \(match.joined(separator: ", ")) }\n"
                out += "        cluster: \(quote(route.cluster))\n"
                if let maxBody = route.maxBodyBytes { out += "        limits: { max_body_bytes: \(maxBody.map(ByteSizeParser.format) ?? "0") }\n" }
                if let timeout = route.requestTimeout { out += "        timeouts: { request: \(timeout) }\n" }
                if !route.filters.isEmpty { out += "        filters: [\(route.filters.map(\.name).joined(separator: ", "))]\n" }
                if !route.websocket { out += "        websocket: false\n" }
            }
        }
        out += config.clusters.isEmpty ? "clusters: []\n" : "clusters:\n"
        for cluster in config.clusters {
            out += "  - name: \(quote(cluster.name))\n"
            out += "    lb: \(cluster.lb.rawValue)\n"
            out += "    protocol: \(cluster.options.upstreamProtocol.rawValue)\n"
            out += "    timeouts: { connect: \(cluster.connectTimeout), idle: \(cluster.idleTimeout) }\n"
            out += "    pool: { max_idle_per_endpoint: \(cluster.maxIdlePerEndpoint), max_requests_per_connection: \(cluster.maxRequestsPerConnection) }\n"
            out += resilienceYAML(cluster.options)
            if let dns = cluster.dns {
                out += "    discovery: dns\n"
                out += "    dns: { refresh: \(dns.refresh), family: \(dns.family.rawValue), resolvers: [\(dns.resolvers.map { quote($0.description) }.joined(separator: ", "))], timeout: \(dns.timeout), initial_timeout: \(dns.initialTimeout) }\n"
            }
            if let tls = cluster.options.tls?.configuration {
                // No ca: the system store.
                var fields = tls.caFile.map { ["ca: \(quote($0))"] } ?? []
                fields.append("verify: \(tls.verify)")
                if let name = tls.serverName { fields.append("sni: \(quote(name))") }
                if let files = tls.clientCertificate {
                    fields.append("client_certificate: { cert: \(quote(files.certificateChain)), key: \(quote(files.privateKey)) }")
                }
                fields.append("min_version: \"\(tls.minimumVersion.rawValue)\"")
                if let ciphers = tls.ciphers { fields.append("ciphers: \(quote(ciphers))") }
                if !tls.alpn.isEmpty { fields.append("alpn: [\(tls.alpn.map(quote).joined(separator: ", "))]") }
                fields.append("session_resumption: \(tls.sessionResumption)")
                out += "    tls: { \(fields.joined(separator: ", ")) }\n"
            }
            out += cluster.endpoints.isEmpty ? "    endpoints: []\n" : "    endpoints:\n"
            for endpoint in cluster.endpoints {
                out += "      - { address: \(quote(endpoint.address.description)), weight: \(endpoint.weight)\(endpoint.zone.map { ", zone: \(quote($0))" } ?? "") }\n"
            }
        }
        return out
    }

    private static func resilienceYAML(_ options: UpstreamClusterOptions) -> String {
        var out = ""
        if let hashOn = options.hashOn {
            switch hashOn {
            case .header(let name): out += "    hash_on: { header: \(quote(name)) }\n"
            case .cookie(let name): out += "    hash_on: { cookie: \(quote(name)) }\n"
            case .clientIP: out += "    hash_on: client_ip\n"
            case .filter: out += "    hash_on: filter\n"
            }
        }
        if let sticky = options.sticky {
            var fields: [String] = []
            switch sticky.mode {
            case .cookie(let c):
                var cookie = ["name: \(quote(c.name))", "ttl: \(c.ttlSeconds.map { "\($0)s" } ?? "off")", "path: \(quote(c.path))"]
                if let domain = c.domain { cookie.append("domain: \(quote(domain))") }
                cookie.append("same_site: \(c.sameSite?.lowercased() ?? "off")")
                cookie.append("secure: \(c.secure)")
                cookie.append("http_only: \(c.httpOnly)")
                fields.append("cookie: { \(cookie.joined(separator: ", ")) }")
            case .header(let name): fields.append("header: \(quote(name))")
            case .appCookie(let name, let path): fields.append("app_cookie: { name: \(quote(name)), path: \(quote(path)) }")
            }
            fields.append("mode: \(sticky.onUnavailable.rawValue)")
            // The key is a secret: never printed.
            out += "    sticky: { \(fields.joined(separator: ", ")) }\n"
        }
        if let zone = options.localZone {
            out += "    local_zone: { zone: \(quote(zone.zone)), min_healthy_percent: \(zone.minHealthyPercent) }\n"
        }
        if let check = options.healthCheck {
            let kind: String
            switch check.kind {
            case .tcp: kind = "tcp: {}"
            case .grpc(let service, let authority):
                kind = "grpc: { service: \(quote(service))\(authority.map { ", authority: \(quote($0))" } ?? "") }"
            case .http(let path, let host, let statuses):
                let ranges = statuses.map { $0.count == 1 ? "\($0.lowerBound)" : "\"\($0.lowerBound)-\($0.upperBound - 1)\"" }
                kind = "http: { path: \(quote(path)), expected_statuses: [\(ranges.joined(separator: ", "))]\(host.map { ", host: \(quote($0))" } ?? "") }"
            }
            out += "    health_check: { \(kind), interval: \(duration(check.interval)), jitter: \(duration(check.jitter)), "
            out += "timeout: \(duration(check.timeout)), healthy_threshold: \(check.healthyThreshold), unhealthy_threshold: \(check.unhealthyThreshold) }\n"
        }
        if let o = options.outlierDetection {
            out += "    outlier_detection: { consecutive_5xx: \(o.consecutive5xx), consecutive_connect_failures: \(o.consecutiveConnectFailures), "
            out += "base_ejection: \(duration(o.baseEjection)), max_ejection: \(duration(o.maxEjection)), max_ejection_percent: \(o.maxEjectionPercent) }\n"
        }
        out += "    panic_threshold: \(options.panicThreshold)\n"
        if let r = options.retries {
            var on: [String] = []
            if r.on.contains(.connectFailure) { on.append("connect_failure") }
            if r.on.contains(.reset) { on.append("reset") }
            if r.on.contains(.serverError) { on.append("5xx") }
            if r.on.contains(.gatewayError) { on.append("gateway_error") }
            on += r.statuses.sorted().map { "\"\($0)\"" }
            out += "    retries: { attempts: \(r.attempts), on: [\(on.joined(separator: ", "))], per_try_timeout: \(r.perTryTimeout.map(duration) ?? "off"), "
            out += "backoff: { base: \(duration(r.backoffBase)), max: \(duration(r.backoffMax)) }, budget_percent: \(r.budgetPercent), "
            out += "min_retry_concurrency: \(r.minRetryConcurrency), non_idempotent: \(r.nonIdempotent), max_buffered_body: \(ByteSizeParser.format(Int64(r.maxBufferedBody))) }\n"
        }
        let c = options.circuitBreakers
        out += "    circuit_breakers: { max_connections: \(c.maxConnections), max_pending: \(c.maxPending), max_requests: \(c.maxRequests)"
        out += c.maxRetries == Int.max ? " }\n" : ", max_retries: \(c.maxRetries) }\n"
        return out
    }

    private static func duration(_ amount: TimeAmount) -> String { ConfigDuration(amount).description }

    private static func http2YAML(_ h2: HTTP2Config, defaultHeaderList: Int) -> String {
        var out = "    http2: { cleartext: \(h2.cleartext), max_concurrent_streams: \(h2.maxConcurrentStreams), "
        out += "max_header_list_size: \(ByteSizeParser.format(Int64(h2.maxHeaderListBytes ?? defaultHeaderList))), "
        out += "max_frame_size: \(h2.maxFrameSize), initial_stream_window: \(ByteSizeParser.format(Int64(h2.initialStreamWindow))), "
        out += "connection_window: \(ByteSizeParser.format(Int64(h2.connectionWindow))), max_continuation_frames: \(h2.maxContinuationFrames), "
        out += "max_resets_per_second: \(h2.maxResetsPerSecond), max_control_frames_per_second: \(h2.maxControlFramesPerSecond), "
        out += "max_empty_data_frames_per_second: \(h2.maxEmptyDataFramesPerSecond) }\n"
        return out
    }

    private static func quote(_ text: String) -> String {
        "\"" + text.replacingAll("\\", with: "\\\\").replacingAll("\"", with: "\\\"") + "\""
    }
}

extension String {
    func replacingAll(_ target: Character, with replacement: String) -> String {
        var out = ""
        for character in self { if character == target { out += replacement } else { out.append(character) } }
        return out
    }
}
