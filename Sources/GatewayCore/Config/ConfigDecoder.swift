import GatewayFilterAPI
import GatewayTLS
import Upstream
#if canImport(Glibc)
import Glibc
#endif

/// Reads each section of the document into typed config. Every accessor reports its own errors, so
/// decoding continues past the first problem.
struct ConfigDecoder {
    let diagnostics: ConfigDiagnostics
    let filters: FilterRegistry

    func decode(_ root: ConfigValue, file: String) -> GatewayConfig? {
        guard let top = root.mapping(allowed: ["workers", "listeners", "clusters", "access_log", "drain", "admin", "tracing"]) else { return nil }
        let workers = top["workers"]?.int(min: 0, max: 1024) ?? 0
        // Clusters first, so that each route checks its cluster where it is written, even when the
        // listener around it has errors of its own.
        let clusters = decodeClusters(top.required("clusters")?.sequence() ?? [])
        let listeners = decodeListeners(top.required("listeners")?.sequence() ?? [], clusters: clusters)
        var accessLog = AccessLogConfig()
        if let section = top["access_log"]?.mapping(allowed: ["enabled", "metadata", "format", "fields", "text", "sample_rate"]) {
            accessLog.enabled = section["enabled"]?.bool() ?? true
            for item in section["metadata"]?.sequence() ?? [] {
                guard let name = item.nonEmptyString() else { continue }
                if accessLog.metadata.contains(name) { item.fail("'\(name)' is listed twice") } else { accessLog.metadata.append(name) }
            }
            accessLog.format = decodeAccessLogFormat(section)
            if let value = section["sample_rate"], let text = value.scalarString {
                if let rate = Double(text), rate >= 0, rate <= 1 { accessLog.sampleRate = rate } else { value.fail("sample_rate must be a number from 0 to 1") }
            }
        }
        var drain = DrainConfig()
        if let section = top["drain"]?.mapping(allowed: ["delay", "timeout"]) {
            if let v = section["delay"]?.duration() { drain.delay = v }
            if let v = section["timeout"]?.duration() { drain.timeout = v }
        }
        var config = GatewayConfig(workers: workers, listeners: listeners, clusters: clusters, accessLog: accessLog, source: file)
        config.drain = drain
        if let section = top["admin"]?.mapping(allowed: ["address"]) {
            let address = section["address"].map { decodeAddress($0) } ?? HostPort(host: "127.0.0.1", port: 9901)
            if let address { config.admin = AdminConfig(address: address) }
        }
        if let section = top["tracing"]?.mapping(allowed: ["sample_rate"]) {
            var tracing = TracingConfig()
            if let value = section["sample_rate"], let text = value.scalarString {
                if let rate = Double(text), rate >= 0, rate <= 1 { tracing.sampleRate = rate } else { value.fail("sample_rate must be a number from 0 to 1") }
            }
            config.tracing = tracing
        }
        return config
    }

    private func decodeAccessLogFormat(_ section: ConfigMapping) -> AccessLogFormat {
        let kind = section["format"]?.string() ?? "json"
        switch kind {
        case "json":
            if section["text"] != nil { section["text"]?.fail("text is for format: text") }
            guard let items = section["fields"]?.sequence() else { return .allJSON }
            var fields: [AccessLogField] = []
            for item in items {
                guard let name = item.string() else { continue }
                guard let field = AccessLogField(rawValue: name) else {
                    item.fail("unknown access-log field '\(name)' (known: \(AccessLogField.allCases.map(\.rawValue).joined(separator: ", ")))")
                    continue
                }
                if fields.contains(field) { item.fail("'\(name)' is listed twice") } else { fields.append(field) }
            }
            return .json(fields)
        case "text":
            if section["fields"] != nil { section["fields"]?.fail("fields is for format: json; a text line names its fields in text") }
            guard let templateValue = section.required("text"), let template = templateValue.nonEmptyString() else { return .allJSON }
            let (segments, unknown) = AccessLogFormat.parseTemplate(template)
            for name in unknown {
                templateValue.fail("unknown access-log field '$\(name)' (known: \(AccessLogField.allCases.map(\.rawValue).joined(separator: ", ")))")
            }
            return .text(segments)
        default:
            section["format"]?.fail("unknown format '\(kind)' (use json or text)")
            return .allJSON
        }
    }

    /// Each entry's errors are reported at that entry's own node: an invalid entry earlier in the list
    /// (dropped from the result) must not shift where later errors point.
    private func decodeClusters(_ values: [ConfigValue]) -> [ClusterConfig] {
        var clusters: [ClusterConfig] = []
        var names: Set<String> = []
        for value in values {
            guard let cluster = decodeCluster(value) else { continue }
            if !names.insert(cluster.name).inserted { value.fail("duplicate cluster name '\(cluster.name)'") }
            clusters.append(cluster)
        }
        return clusters
    }

    private func decodeListeners(_ values: [ConfigValue], clusters: [ClusterConfig]) -> [ListenerConfig] {
        var listeners: [ListenerConfig] = []
        var names: Set<String> = []
        var addresses: [String: String] = [:]
        for value in values {
            guard let listener = decodeListener(value, clusters: clusters) else { continue }
            if !names.insert(listener.name).inserted { value.fail("duplicate listener name '\(listener.name)'") }
            if listener.address.port != 0, let other = addresses[listener.address.description] {
                value.fail("address \(listener.address) is already used by listener '\(other)'")
            }
            addresses[listener.address.description] = listener.name
            listeners.append(listener)
        }
        return listeners
    }

    static let listenerKeys = ["name", "address", "proxy_protocol", "trusted_sources", "tls", "http2", "reuse_port", "limits", "timeouts", "filters", "routes"]
    static let routeKeys = ["match", "cluster", "limits", "timeouts", "filters", "websocket"]

    private func decodeListener(_ value: ConfigValue, clusters: [ClusterConfig]) -> ListenerConfig? {
        guard let map = value.mapping(allowed: Self.listenerKeys) else { return nil }
        let name = map.required("name")?.nonEmptyString()
        let address = map.required("address").flatMap(decodeAddress)
        let environment = FilterEnvironment(clusterNames: clusters.map(\.name), listenerName: name ?? "")
        let listenerFilters = map["filters"].map { decodeFilters($0, environment: environment) } ?? []
        var limits = RequestLimits()
        if let section = map["limits"]?.mapping(allowed: ["max_header_bytes", "max_headers", "max_uri_bytes", "max_body_bytes"]) {
            if let v = section["max_header_bytes"]?.byteSize() { limits.maxHeaderBytes = Int(clamping: v) }
            if let v = section["max_headers"]?.int(min: 1, max: 10_000) { limits.maxHeaders = v }
            if let v = section["max_uri_bytes"]?.byteSize() { limits.maxURIBytes = Int(clamping: v) }
            if let v = section["max_body_bytes"]?.byteSize() { limits.maxBodyBytes = v == 0 ? nil : v }
            if limits.maxHeaderBytes < 1024 { section["max_header_bytes"]?.fail("must be at least 1k") }
            if limits.maxURIBytes < 256 { section["max_uri_bytes"]?.fail("must be at least 256") }
        }
        var timeouts = ListenerTimeouts()
        if let section = map["timeouts"]?.mapping(allowed: ["header_read", "body_read", "idle", "request"]) {
            if let v = section["header_read"]?.duration() { timeouts.headerRead = v }
            if let v = section["body_read"]?.duration() { timeouts.bodyRead = v }
            if let v = section["idle"]?.duration() { timeouts.idle = v }
            if let v = section["request"]?.duration() { timeouts.request = v }
        }
        // Read the list once: every accessor reports, so asking again would report its errors again.
        let routeValues = map.required("routes")?.sequence()
        let routes = routeValues?.compactMap { decodeRoute($0, clusters: clusters, environment: environment) } ?? []
        if routeValues?.isEmpty == true { map["routes"]?.fail("a listener needs at least one route") }
        var proxyProtocol = ProxyProtocolMode.off
        if let modeValue = map["proxy_protocol"], let text = modeValue.scalarString {
            // YAML 1.1 habits: `off` may arrive as a boolean-looking scalar; it is read as text here.
            if let mode = ProxyProtocolMode(rawValue: text.lowercased()) {
                proxyProtocol = mode
            } else if text.lowercased() == "false" || text.lowercased() == "no" {
                proxyProtocol = .off
            } else {
                modeValue.fail("unknown proxy_protocol '\(text)' (use off, v1, v2 or any)")
            }
        }
        var trusted: [CIDRBlock] = []
        for item in map["trusted_sources"]?.sequence() ?? [] {
            guard let text = item.string() else { continue }
            if let block = CIDRBlock(parsing: text) { trusted.append(block) } else { item.fail("invalid CIDR '\(text)' (e.g. 10.0.0.0/8 or 2001:db8::/32)") }
        }
        if !trusted.isEmpty && proxyProtocol == .off { map["trusted_sources"]?.fail("trusted_sources needs proxy_protocol to be v1, v2 or any") }
        let tls = map["tls"].flatMap(decodeTLS)
        let http2 = map["http2"].map(decodeHTTP2) ?? HTTP2Config()
        if http2.cleartext && tls != nil { map["http2"]?.fail("cleartext (h2c) is for plaintext listeners; TLS listeners offer h2 through tls.alpn") }
        guard let name, let address else { return nil }
        var listener = ListenerConfig(name: name, address: address, limits: limits, timeouts: timeouts, routes: routes)
        listener.tls = tls
        listener.proxyProtocol = proxyProtocol
        listener.trustedSources = trusted
        listener.http2 = http2
        if let v = map["reuse_port"]?.bool() { listener.reusePort = v }
        listener.filters = listenerFilters
        return listener
    }

    private func decodeTLS(_ value: ConfigValue) -> TLSListenerConfig? {
        guard let map = value.mapping(allowed: ["certificates", "alpn", "ciphers", "client_ca", "client_auth",
                                                "session_ticket_rotation", "session_ticket_keys"]) else { return nil }
        var certificates: [TLSCertificateFiles] = []
        for item in map.required("certificates")?.sequence() ?? [] {
            guard let pair = item.mapping(allowed: ["cert", "key"]) else { continue }
            let cert = pair.required("cert").flatMap { existingFile($0) }
            let key = pair.required("key").flatMap { existingFile($0) }
            if let cert, let key { certificates.append(TLSCertificateFiles(certificateChain: cert, privateKey: key)) }
        }
        if let list = map["certificates"], list.sequence()?.isEmpty == true { list.fail("a TLS listener needs at least one certificate") }
        var alpn = ["h2", "http/1.1"]
        if let alpnValue = map["alpn"], let items = alpnValue.sequence() {
            alpn = []
            for item in items {
                guard let name = item.string() else { continue }
                if name == "http/1.1" || name == "h2" {
                    if alpn.contains(name) { item.fail("ALPN protocol '\(name)' is listed twice") } else { alpn.append(name) }
                } else {
                    item.fail("unknown ALPN protocol '\(name)' (supported: h2, http/1.1)")
                }
            }
        }
        guard !certificates.isEmpty else { return nil }
        var tls = TLSListenerConfig(certificates: certificates, alpn: alpn)
        if let ciphers = map["ciphers"]?.nonEmptyString() { tls.ciphers = ciphers }
        let clientCA = map["client_ca"].flatMap { existingFile($0) }
        var mode = clientCA == nil ? "off" : "required"
        if let authValue = map["client_auth"], let text = authValue.string() {
            if ["off", "optional", "required"].contains(text) { mode = text } else { authValue.fail("unknown client_auth '\(text)' (use off, optional or required)") }
            if text != "off" && map["client_ca"] == nil { authValue.fail("client_auth needs client_ca, the CA bundle client certificates must chain to") }
        }
        if let rotation = map["session_ticket_rotation"]?.duration() { tls.sessionTicketRotation = rotation }
        if let files = map["session_ticket_keys"]?.sequence() {
            tls.sessionTicketKeyFiles = files.compactMap { existingFile($0) }
            if files.count > 8 { map["session_ticket_keys"]?.fail("at most 8 session-ticket key files") }
            if map["session_ticket_rotation"] != nil { map["session_ticket_rotation"]?.fail("session_ticket_rotation applies to random keys; with session_ticket_keys, rotate by replacing the files") }
        }
        if let clientCA, mode != "off" { tls.clientVerification = TLSClientVerification(caFile: clientCA, required: mode == "required") }
        return tls
    }

    /// A path that must name a readable file.
    func existingFile(_ value: ConfigValue) -> String? {
        guard let path = value.nonEmptyString() else { return nil }
        guard let handle = fopen(path, "r") else {
            value.fail("cannot read '\(path)': \(String(cString: strerror(errno)))")
            return nil
        }
        fclose(handle)
        return path
    }

    private func decodeAddress(_ value: ConfigValue) -> HostPort? {
        guard let text = value.string() else { return nil }
        guard let address = HostPort(parsing: text) else {
            value.fail("invalid address '\(text)' (expected host:port, e.g. 127.0.0.1:8080 or [::1]:8080)")
            return nil
        }
        return address
    }

    private func decodeRoute(_ value: ConfigValue, clusters: [ClusterConfig], environment: FilterEnvironment) -> RouteConfig? {
        guard let map = value.mapping(allowed: Self.routeKeys) else { return nil }
        var match = RouteMatch()
        if let section = map.required("match")?.mapping(allowed: ["host", "path_prefix", "path"]) {
            if let host = section["host"]?.nonEmptyString() {
                let rest = host.dropFirst(host.hasPrefix("*.") ? 2 : 0)
                if rest.isEmpty || rest.contains("*") {
                    section["host"]?.fail("wildcards are only allowed as a leading '*.' label")
                }
                match.host = host.lowercased()
            }
            if let prefix = section["path_prefix"]?.string() {
                if !prefix.hasPrefix("/") { section["path_prefix"]?.fail("must start with '/'") }
                match.pathPrefix = prefix
            }
            if let path = section["path"]?.string() {
                if !path.hasPrefix("/") { section["path"]?.fail("must start with '/'") }
                match.path = path
            }
            if match.path != nil && match.pathPrefix != nil { section.value.fail("use either path or path_prefix, not both") }
            if match.path == nil && match.pathPrefix == nil { match.pathPrefix = "/" }
        }
        let clusterValue = map.required("cluster")
        let cluster = clusterValue?.nonEmptyString()
        if let cluster, !clusters.contains(where: { $0.name == cluster }) {
            let known = clusters.map(\.name).joined(separator: ", ")
            clusterValue?.fail("unknown cluster '\(cluster)' (defined: \(known.isEmpty ? "none" : known))")
        }
        var maxBody: Int64?? = nil
        if let section = map["limits"]?.mapping(allowed: ["max_body_bytes"]) {
            if let v = section["max_body_bytes"]?.byteSize() { maxBody = .some(v == 0 ? nil : v) }
        }
        var requestTimeout: ConfigDuration? = nil
        if let section = map["timeouts"]?.mapping(allowed: ["request"]) {
            requestTimeout = section["request"]?.duration()
        }
        let filters = map["filters"].map { decodeFilters($0, environment: environment) } ?? []
        let websocket = map["websocket"]?.bool() ?? true
        guard let cluster else { return nil }
        return RouteConfig(match: match, cluster: cluster, maxBodyBytes: maxBody, requestTimeout: requestTimeout, filters: filters, websocket: websocket)
    }

    private func decodeCluster(_ value: ConfigValue) -> ClusterConfig? {
        guard let map = value.mapping(allowed: Self.clusterKeys) else { return nil }
        let name = map.required("name")?.nonEmptyString()
        let endpoints = map.required("endpoints")?.sequence()?.compactMap(decodeEndpoint) ?? []
        var lb = LoadBalancingPolicy.roundRobin
        if let lbValue = map["lb"], let text = lbValue.string() {
            if let policy = LoadBalancingPolicy(rawValue: text) {
                lb = policy
            } else {
                lbValue.fail("unknown load-balancing policy '\(text)' (supported: \(LoadBalancingPolicy.allCases.map(\.rawValue).joined(separator: ", ")))")
            }
        }
        guard let name else { return nil }
        var cluster = ClusterConfig(name: name, endpoints: endpoints, lb: lb)
        if let section = map["timeouts"]?.mapping(allowed: ["connect", "idle"]) {
            if let v = section["connect"]?.duration() {
                if v == .disabled { section["connect"]?.fail("a connect timeout cannot be disabled") } else { cluster.connectTimeout = v }
            }
            if let v = section["idle"]?.duration() { cluster.idleTimeout = v }
        }
        if let section = map["pool"]?.mapping(allowed: ["max_idle_per_endpoint", "max_requests_per_connection"]) {
            if let v = section["max_idle_per_endpoint"]?.int(min: 0, max: 100_000) { cluster.maxIdlePerEndpoint = v }
            if let v = section["max_requests_per_connection"]?.int(min: 0) { cluster.maxRequestsPerConnection = v }
        }
        decodeResilience(map, into: &cluster)
        decodeDiscovery(map, into: &cluster)
        return cluster
    }

    private func decodeEndpoint(_ value: ConfigValue) -> EndpointConfig? {
        guard let map = value.mapping(allowed: ["address", "weight", "zone"]) else { return nil }
        let address = map.required("address").flatMap(decodeAddress)
        // Weight 0: draining. The balancer never picks it; only a sticky session already on it does.
        let weight = map["weight"]?.int(min: 0, max: 10_000) ?? 1
        let zone = map["zone"]?.nonEmptyString()
        if let address, address.port == 0 { map["address"]?.fail("an endpoint needs a port") }
        guard let address else { return nil }
        return EndpointConfig(address: address, weight: weight, zone: zone)
    }

    /// `filters:` is a list of one-key maps, `- name: { config }`. Each factory reads and validates its own
    /// config through the same diagnostics, so its errors carry file, line and key like any other.
    private func decodeFilters(_ value: ConfigValue, environment: FilterEnvironment) -> [ConfiguredFilter] {
        var result: [ConfiguredFilter] = []
        for item in value.sequence() ?? [] {
            guard case .mapping(let pairs, _) = item.node, pairs.count == 1, let name = pairs[0].key.string else {
                item.fail("a filter is a map with one key, its name: `- ip_filter: { deny: [10.0.0.0/8] }`")
                continue
            }
            let path = "\(item.path).\(name)"
            guard let type = filters.factoryType(named: name) else {
                let known = filters.names
                let hint = ConfigMapping.closest(name, in: known).map { " (did you mean '\($0)'?)" } ?? ""
                diagnostics.error(pairs[0].key, path, "unknown filter '\(name)'\(hint); registered: \(known.isEmpty ? "none" : known.joined(separator: ", "))")
                continue
            }
            let config = ConfigValue(node: pairs[0].value, path: path, diagnostics: diagnostics)
            if let factory = Self.makeFactory(type, config: config, environment: environment) {
                result.append(ConfiguredFilter(name: name, factory: factory))
            }
        }
        return result
    }

    private static func makeFactory<Factory: HTTPFilterFactory>(_ type: Factory.Type, config: ConfigValue,
                                                               environment: FilterEnvironment) -> Factory? {
        let before = config.diagnostics.errors.count
        guard let parsed = Factory.parseConfig(FilterConfigNode(value: config), environment: environment) else {
            if config.diagnostics.errors.count == before { config.fail("invalid filter config") }
            return nil
        }
        do {
            return try Factory(config: parsed, environment: environment)
        } catch {
            config.fail("\(error)")
            return nil
        }
    }
}
