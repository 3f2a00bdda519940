/// Reads each section of the document into typed config. Every accessor reports its own errors, so
/// decoding continues past the first problem.
struct ConfigDecoder {
    let diagnostics: ConfigDiagnostics

    func decode(_ root: ConfigValue, file: String) -> GatewayConfig? {
        guard let top = root.mapping(allowed: ["workers", "listeners", "clusters", "access_log"]) else { return nil }
        let workers = top["workers"]?.int(min: 0, max: 1024) ?? 0
        let clusters = top.required("clusters")?.sequence()?.compactMap(decodeCluster) ?? []
        let listeners = top.required("listeners")?.sequence()?.compactMap(decodeListener) ?? []
        var accessLog = AccessLogConfig()
        if let section = top["access_log"]?.mapping(allowed: ["enabled"]) {
            accessLog.enabled = section["enabled"]?.bool() ?? true
        }
        let config = GatewayConfig(workers: workers, listeners: listeners, clusters: clusters, accessLog: accessLog, source: file)
        validateReferences(config, top: top)
        return config
    }

    private func validateReferences(_ config: GatewayConfig, top: ConfigMapping) {
        var clusterNames: Set<String> = []
        for (index, cluster) in config.clusters.enumerated() where !clusterNames.insert(cluster.name).inserted {
            top["clusters"]?.sequence()?[index].fail("duplicate cluster name '\(cluster.name)'")
        }
        var listenerNames: Set<String> = []
        var addresses: [String: String] = [:]
        let listenerValues = top["listeners"]?.sequence() ?? []
        for (index, listener) in config.listeners.enumerated() {
            let value = index < listenerValues.count ? listenerValues[index] : nil
            if !listenerNames.insert(listener.name).inserted { value?.fail("duplicate listener name '\(listener.name)'") }
            if listener.address.port != 0, let other = addresses[listener.address.description] {
                value?.fail("address \(listener.address) is already used by listener '\(other)'")
            }
            addresses[listener.address.description] = listener.name
            let routeValues = value?.mapping(allowed: Self.listenerKeys)?["routes"]?.sequence() ?? []
            for (routeIndex, route) in listener.routes.enumerated() where !clusterNames.contains(route.cluster) {
                let known = config.clusters.map(\.name).joined(separator: ", ")
                let routeValue = routeIndex < routeValues.count ? routeValues[routeIndex].mapping(allowed: Self.routeKeys)?["cluster"] : nil
                (routeValue ?? value)?.fail("unknown cluster '\(route.cluster)' (defined: \(known.isEmpty ? "none" : known))")
            }
        }
    }

    static let listenerKeys = ["name", "address", "limits", "timeouts", "routes"]
    static let routeKeys = ["match", "cluster", "limits", "timeouts"]

    private func decodeListener(_ value: ConfigValue) -> ListenerConfig? {
        guard let map = value.mapping(allowed: Self.listenerKeys) else { return nil }
        let name = map.required("name")?.nonEmptyString()
        let address = map.required("address").flatMap(decodeAddress)
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
        let routes = map.required("routes")?.sequence()?.compactMap(decodeRoute) ?? []
        if let routesValue = map["routes"], routes.isEmpty, routesValue.sequence()?.isEmpty == true {
            routesValue.fail("a listener needs at least one route")
        }
        guard let name, let address else { return nil }
        return ListenerConfig(name: name, address: address, limits: limits, timeouts: timeouts, routes: routes)
    }

    private func decodeAddress(_ value: ConfigValue) -> HostPort? {
        guard let text = value.string() else { return nil }
        guard let address = HostPort(parsing: text) else {
            value.fail("invalid address '\(text)' (expected host:port, e.g. 127.0.0.1:8080 or [::1]:8080)")
            return nil
        }
        return address
    }

    private func decodeRoute(_ value: ConfigValue) -> RouteConfig? {
        guard let map = value.mapping(allowed: Self.routeKeys) else { return nil }
        var match = RouteMatch()
        if let section = map.required("match")?.mapping(allowed: ["host", "path_prefix", "path"]) {
            if let host = section["host"]?.nonEmptyString() {
                if host.dropFirst(host.hasPrefix("*.") ? 2 : 0).contains("*") {
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
        let cluster = map.required("cluster")?.nonEmptyString()
        var maxBody: Int64?? = nil
        if let section = map["limits"]?.mapping(allowed: ["max_body_bytes"]) {
            if let v = section["max_body_bytes"]?.byteSize() { maxBody = .some(v == 0 ? nil : v) }
        }
        var requestTimeout: ConfigDuration? = nil
        if let section = map["timeouts"]?.mapping(allowed: ["request"]) {
            requestTimeout = section["request"]?.duration()
        }
        guard let cluster else { return nil }
        return RouteConfig(match: match, cluster: cluster, maxBodyBytes: maxBody, requestTimeout: requestTimeout)
    }

    private func decodeCluster(_ value: ConfigValue) -> ClusterConfig? {
        guard let map = value.mapping(allowed: ["name", "endpoints", "lb", "timeouts", "pool"]) else { return nil }
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
        return cluster
    }

    private func decodeEndpoint(_ value: ConfigValue) -> EndpointConfig? {
        guard let map = value.mapping(allowed: ["address", "weight"]) else { return nil }
        let address = map.required("address").flatMap(decodeAddress)
        let weight = map["weight"]?.int(min: 0, max: 10_000) ?? 1
        if let address, address.port == 0 { map["address"]?.fail("an endpoint needs a port") }
        guard let address else { return nil }
        return EndpointConfig(address: address, weight: weight)
    }
}
