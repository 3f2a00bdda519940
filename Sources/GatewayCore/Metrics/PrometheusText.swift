import GatewayFilterAPI
import Upstream

/// Renders summed loop counters in the Prometheus text exposition format (version 0.0.4).
public enum PrometheusText {
    public static let classes = ["1xx", "2xx", "3xx", "4xx", "5xx"]

    /// - Parameter filterCounters: earlier config generations' filter counter totals by series key
    ///   (see `filterSeries`), added to this generation's.
    public static func render(_ metrics: LoopMetrics.Snapshot, health: [ClusterHealthStatus] = [], runtime: GatewayRuntime, draining: Bool,
                              filterCounters: [String: Int] = [:]) -> String {
        // One read of the (DNS-changeable) cluster list; counters and health are laid out to match it.
        let clusters = runtime.clusters
        let metrics = metrics.aligned(to: clusters)
        let health = health.isEmpty ? health : ClusterHealthStatus.aligned(health, to: clusters)
        var out = ""
        func header(_ name: String, _ type: String, _ help: String) {
            out += "# HELP \(name) \(help)\n# TYPE \(name) \(type)\n"
        }
        func line(_ name: String, _ labels: [(String, String)], _ value: String) {
            let text = labels.map { "\($0.0)=\"\(escape($0.1))\"" }.joined(separator: ",")
            out += labels.isEmpty ? "\(name) \(value)\n" : "\(name){\(text)} \(value)\n"
        }
        let listeners = runtime.listeners

        header("portcullis_draining", "gauge", "1 while the gateway drains (readiness fails).")
        line("portcullis_draining", [], draining ? "1" : "0")

        header("portcullis_requests_total", "counter", "Requests answered, by listener and status class.")
        for (index, counters) in metrics.listeners.enumerated() {
            for (slot, count) in counters.requests.counts.enumerated() {
                line("portcullis_requests_total", [("listener", listeners[index].name), ("code_class", classes[slot])], "\(count)")
            }
        }
        header("portcullis_route_requests_total", "counter", "Requests answered, by route (index in the listener's routes) and status class.")
        for (index, counters) in metrics.listeners.enumerated() {
            for (route, counts) in counters.routeRequests.enumerated() {
                let routeLabel = [("listener", listeners[index].name), ("route", "\(route)"), ("cluster", listeners[index].routes.routes[route].clusterName)]
                for (slot, count) in counts.counts.enumerated() {
                    line("portcullis_route_requests_total", routeLabel + [("code_class", classes[slot])], "\(count)")
                }
            }
        }
        header("portcullis_request_duration_seconds", "histogram", "Whole-request latency, by listener.")
        for (index, counters) in metrics.listeners.enumerated() {
            histogram(&out, "portcullis_request_duration_seconds", [("listener", listeners[index].name)], counters.latency)
        }
        let gauges: [(String, String, String, (LoopMetrics.ListenerCounters) -> String)] = [
            ("portcullis_active_requests", "gauge", "Requests in progress.", { "\($0.activeRequests)" }),
            ("portcullis_connections_total", "counter", "Client connections accepted (after TLS and PROXY protocol).", { "\($0.connectionsAccepted)" }),
            ("portcullis_active_connections", "gauge", "Client connections open.", { "\($0.activeConnections)" }),
            ("portcullis_tls_handshakes_total", "counter", "TLS handshakes completed.", { "\($0.tlsHandshakes)" }),
            ("portcullis_tls_handshake_failures_total", "counter", "TLS handshakes that failed.", { "\($0.tlsHandshakeFailures)" }),
            ("portcullis_proxy_protocol_errors_total", "counter", "Connections refused for a missing, malformed or untrusted PROXY header.", { "\($0.proxyProtocolErrors)" }),
            ("portcullis_http2_abuse_goaways_total", "counter", "HTTP/2 connections closed with ENHANCE_YOUR_CALM (floods, rapid reset, header bombs).", { "\($0.http2AbuseGoaways)" }),
            ("portcullis_websocket_upgrades_total", "counter", "WebSocket handshakes the upstream accepted (101): tunnels opened.", { "\($0.websocketUpgrades)" }),
            ("portcullis_active_tunnels", "gauge", "WebSocket tunnels open.", { "\($0.activeTunnels)" }),
        ]
        for (name, type, help, value) in gauges {
            header(name, type, help)
            for (index, counters) in metrics.listeners.enumerated() { line(name, [("listener", listeners[index].name)], value(counters)) }
        }

        renderFilterCounters(&out, runtime: runtime, carried: filterCounters)

        header("portcullis_upstream_requests_total", "counter", "Upstream responses, by cluster, endpoint and status class.")
        for (index, counters) in metrics.clusters.enumerated() {
            for (endpoint, counts) in counters.endpointRequests.enumerated() {
                for (slot, count) in counts.counts.enumerated() {
                    line("portcullis_upstream_requests_total", [("cluster", clusters[index].name), ("endpoint", clusters[index].endpoints[endpoint].label),
                                                                ("code_class", classes[slot])], "\(count)")
                }
            }
        }
        header("portcullis_upstream_failures_total", "counter", "Upstream attempts that failed without a response (connect, reset, timeout).")
        for (index, counters) in metrics.clusters.enumerated() {
            for (endpoint, count) in counters.endpointFailures.enumerated() {
                line("portcullis_upstream_failures_total", [("cluster", clusters[index].name), ("endpoint", clusters[index].endpoints[endpoint].label)], "\(count)")
            }
        }
        header("portcullis_endpoint_weight", "gauge", "Configured endpoint weight.")
        for cluster in clusters {
            for endpoint in cluster.endpoints {
                line("portcullis_endpoint_weight", [("cluster", cluster.name), ("endpoint", endpoint.label)], "\(endpoint.weight)")
            }
        }
        renderResilience(&out, metrics, health: health, clusters: clusters)
        header("portcullis_upstream_duration_seconds", "histogram", "Time from picking an endpoint to the end of its response, by cluster.")
        for (index, counters) in metrics.clusters.enumerated() {
            histogram(&out, "portcullis_upstream_duration_seconds", [("cluster", clusters[index].name)], counters.latency)
        }
        return out
    }

    /// Health, ejections, retries and circuit breakers, per cluster and endpoint.
    private static func renderResilience(_ out: inout String, _ metrics: LoopMetrics.Snapshot, health: [ClusterHealthStatus], clusters: [UpstreamCluster]) {
        func header(_ name: String, _ type: String, _ help: String) { out += "# HELP \(name) \(help)\n# TYPE \(name) \(type)\n" }
        func line(_ name: String, _ labels: [(String, String)], _ value: String) {
            out += "\(name){\(labels.map { "\($0.0)=\"\(escape($0.1))\"" }.joined(separator: ","))} \(value)\n"
        }
        let status = health.count == clusters.count ? health : clusters.map(ClusterHealthStatus.unmonitored)
        let perEndpoint: [(String, String, String, (ClusterHealthStatus, Int) -> String)] = [
            ("portcullis_endpoint_healthy", "gauge", "1 when the endpoint passes active health checks and is not ejected.",
             { $0.availability.healthy[$1] && !$0.availability.ejected[$1] ? "1" : "0" }),
            ("portcullis_endpoint_ejected", "gauge", "1 while outlier detection has the endpoint ejected.", { $0.availability.ejected[$1] ? "1" : "0" }),
            ("portcullis_outlier_ejections_total", "counter", "Outlier ejections of the endpoint.", { "\($0.ejectionsTotal[$1])" }),
            ("portcullis_health_check_failures_total", "counter", "Failed active health checks of the endpoint.", { "\($0.healthCheckFailures[$1])" }),
        ]
        for (name, type, help, value) in perEndpoint {
            header(name, type, help)
            for (index, cluster) in clusters.enumerated() {
                for endpoint in cluster.endpoints {
                    line(name, [("cluster", cluster.name), ("endpoint", endpoint.label)], value(status[index], endpoint.index))
                }
            }
        }
        header("portcullis_cluster_panic", "gauge", "1 while too few endpoints are up and the cluster balances over all of them.")
        for (index, cluster) in clusters.enumerated() { line("portcullis_cluster_panic", [("cluster", cluster.name)], status[index].availability.panic ? "1" : "0") }
        let perCluster: [(String, String, (LoopMetrics.ClusterCounters) -> UInt64)] = [
            ("portcullis_upstream_retries_total", "Retries started.", { $0.retries }),
            ("portcullis_upstream_retry_overflow_total", "Retries refused by the retry budget or max_retries.", { $0.retryOverflows }),
            ("portcullis_upstream_per_try_timeouts_total", "Attempts abandoned at the per-try timeout.", { $0.perTryTimeouts }),
            ("portcullis_upstream_tls_handshakes_total", "TLS handshakes with the cluster's endpoints that completed.", { $0.tlsHandshakes }),
            ("portcullis_upstream_tls_resumed_total", "Upstream TLS handshakes that resumed an earlier session.", { $0.tlsResumed }),
            ("portcullis_upstream_tls_handshake_failures_total", "Upstream TLS handshakes that failed (verification, alerts, timeouts).",
             { $0.tlsHandshakeFailures }),
        ]
        for (name, help, value) in perCluster {
            header(name, "counter", help)
            for (index, cluster) in clusters.enumerated() { line(name, [("cluster", cluster.name)], "\(value(metrics.clusters[index]))") }
        }
        header("portcullis_upstream_overflow_total", "counter", "Requests failed fast with 503 by a circuit breaker.")
        for (index, cluster) in clusters.enumerated() {
            for (slot, breaker) in CircuitBreaker.allCases.enumerated() {
                line("portcullis_upstream_overflow_total", [("cluster", cluster.name), ("breaker", breaker.rawValue)], "\(metrics.clusters[index].overflows[slot])")
            }
        }
    }

    /// One number a filter exports, with the labels that place it (listener, route, filter) rendered.
    public struct FilterSeries {
        public var name: String
        public var help: String
        public var kind: FilterCounter.Kind
        /// `listener="…",route="…",filter="…",…` as it appears between the braces.
        public var labels: String
        public var value: Int
        /// What identifies the series across reloads: its name and labels.
        public var key: String { "\(name){\(labels)}" }
    }

    /// Every configured filter's exported numbers, in config order. A route's chain starts with its
    /// listener's filters, which are listed once, with an empty route label.
    public static func filterSeries(_ runtime: GatewayRuntime) -> [FilterSeries] {
        var series: [FilterSeries] = []
        func add(_ counter: FilterCounter, listener: String, route: String, filter: String) {
            let labels = ([("listener", listener), ("route", route), ("filter", filter)] + counter.labels)
                .map { "\($0.0)=\"\(escape($0.1))\"" }.joined(separator: ",")
            series.append(FilterSeries(name: "portcullis_filter_" + counter.name, help: counter.help, kind: counter.kind, labels: labels, value: counter.value))
        }
        for listener in runtime.listeners {
            for configured in listener.filterChain.filters {
                for counter in configured.factory.exportedCounters { add(counter, listener: listener.name, route: "", filter: configured.name) }
            }
            for route in listener.routes.routes {
                for configured in route.filterChain.filters.dropFirst(listener.filterChain.filters.count) {
                    for counter in configured.factory.exportedCounters { add(counter, listener: listener.name, route: "\(route.index)", filter: configured.name) }
                }
            }
        }
        return series
    }

    /// The filters' numbers grouped by metric name (one HELP/TYPE each). Counters continue from
    /// `carried` (earlier config generations' totals by series key), so a reload does not reset them;
    /// gauges are this generation's own.
    private static func renderFilterCounters(_ out: inout String, runtime: GatewayRuntime, carried: [String: Int]) {
        var groups: [(name: String, help: String, kind: String, lines: [String])] = []
        for series in filterSeries(runtime) {
            let value = series.kind == .counter ? series.value + (carried[series.key] ?? 0) : series.value
            let line = "\(series.key) \(value)\n"
            if let index = groups.firstIndex(where: { $0.name == series.name }) {
                groups[index].lines.append(line)
            } else {
                groups.append((series.name, series.help, series.kind.rawValue, [line]))
            }
        }
        for group in groups {
            out += "# HELP \(group.name) \(group.help)\n# TYPE \(group.name) \(group.kind)\n"
            out += group.lines.joined()
        }
    }

    private static func histogram(_ out: inout String, _ name: String, _ labels: [(String, String)], _ histogram: LatencyHistogram) {
        let base = labels.map { "\($0.0)=\"\(escape($0.1))\"" }.joined(separator: ",")
        var cumulative: UInt64 = 0
        for (index, bound) in LatencyHistogram.bounds.enumerated() {
            cumulative += histogram.buckets[index]
            out += "\(name)_bucket{\(base),le=\"\(bound)\"} \(cumulative)\n"
        }
        cumulative += histogram.buckets[LatencyHistogram.bounds.count]
        out += "\(name)_bucket{\(base),le=\"+Inf\"} \(cumulative)\n"
        out += "\(name)_sum{\(base)} \(Double(histogram.sumNanos) / 1e9)\n"
        out += "\(name)_count{\(base)} \(histogram.count)\n"
    }

    public static func escape(_ value: String) -> String {
        var out = ""
        for character in value {
            switch character {
            case "\\": out += "\\\\"
            case "\"": out += "\\\""
            case "\n": out += "\\n"
            default: out.append(character)
            }
        }
        return out
    }
}
