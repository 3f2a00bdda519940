import Upstream

/// The counters of one event loop, written only on that loop (no locks, no atomics on the request path)
/// and copied out by the admin listener, which sums the loops. Indexes are the config's order of
/// listeners, routes and clusters, fixed at load.
public final class LoopMetrics {
    public struct ListenerCounters: Sendable {
        public var requests = StatusClassCounts()
        public var latency = LatencyHistogram()
        public var activeRequests = 0
        public var connectionsAccepted: UInt64 = 0
        public var activeConnections = 0
        public var tlsHandshakes: UInt64 = 0
        public var tlsHandshakeFailures: UInt64 = 0
        public var proxyProtocolErrors: UInt64 = 0
        /// HTTP/2 connections closed for abuse (floods, rapid reset, header bombs).
        public var http2AbuseGoaways: UInt64 = 0
        /// WebSocket handshakes the upstream accepted (101), and the tunnels they opened that are still open.
        public var websocketUpgrades: UInt64 = 0
        public var activeTunnels = 0
        /// Per route, in the listener's route order.
        public var routeRequests: [StatusClassCounts]
    }

    public struct ClusterCounters: Sendable {
        public var latency = LatencyHistogram()
        /// The endpoints the per-endpoint arrays count, in order. A DNS cluster's list changes while
        /// serving, so loops and scrapes match endpoints by label, not position.
        public var endpointLabels: [String]
        /// Per endpoint, in `endpointLabels` order.
        public var endpointRequests: [StatusClassCounts]
        /// Requests that ended without an upstream response (connect failure, reset, timeout), per endpoint.
        public var endpointFailures: [UInt64]
        /// Retries started.
        public var retries: UInt64 = 0
        /// Retries refused by the retry budget or `max_retries`.
        public var retryOverflows: UInt64 = 0
        /// Attempts abandoned at the per-try timeout.
        public var perTryTimeouts: UInt64 = 0
        /// Requests failed fast by each circuit breaker, in `CircuitBreaker.allCases` order.
        public var overflows = Array(repeating: UInt64(0), count: CircuitBreaker.allCases.count)
        /// Upstream TLS handshakes completed, of them resumed, and failed (copied from the pools).
        public var tlsHandshakes: UInt64 = 0
        public var tlsResumed: UInt64 = 0
        public var tlsHandshakeFailures: UInt64 = 0
    }

    public struct Snapshot: Sendable {
        public var listeners: [ListenerCounters]
        public var clusters: [ClusterCounters]

        /// Adds another loop's counters (same config, so the same shapes).
        public mutating func add(_ other: Snapshot) {
            for (index, counters) in other.listeners.enumerated() {
                listeners[index].requests.add(counters.requests)
                listeners[index].latency.add(counters.latency)
                listeners[index].activeRequests += counters.activeRequests
                listeners[index].connectionsAccepted += counters.connectionsAccepted
                listeners[index].activeConnections += counters.activeConnections
                listeners[index].tlsHandshakes += counters.tlsHandshakes
                listeners[index].tlsHandshakeFailures += counters.tlsHandshakeFailures
                listeners[index].proxyProtocolErrors += counters.proxyProtocolErrors
                listeners[index].http2AbuseGoaways += counters.http2AbuseGoaways
                listeners[index].websocketUpgrades += counters.websocketUpgrades
                listeners[index].activeTunnels += counters.activeTunnels
                for route in counters.routeRequests.indices { listeners[index].routeRequests[route].add(counters.routeRequests[route]) }
            }
            for (index, counters) in other.clusters.enumerated() {
                clusters[index].latency.add(counters.latency)
                clusters[index].retries += counters.retries
                clusters[index].retryOverflows += counters.retryOverflows
                clusters[index].perTryTimeouts += counters.perTryTimeouts
                clusters[index].tlsHandshakes += counters.tlsHandshakes
                clusters[index].tlsResumed += counters.tlsResumed
                clusters[index].tlsHandshakeFailures += counters.tlsHandshakeFailures
                for slot in counters.overflows.indices { clusters[index].overflows[slot] += counters.overflows[slot] }
                let sameEndpoints = counters.endpointLabels == clusters[index].endpointLabels
                for (endpoint, label) in counters.endpointLabels.enumerated() {
                    var position = endpoint
                    if !sameEndpoints {
                        if let found = clusters[index].endpointLabels.firstIndex(of: label) {
                            position = found
                        } else {
                            clusters[index].appendEndpoint(label)
                            position = clusters[index].endpointLabels.count - 1
                        }
                    }
                    clusters[index].endpointRequests[position].add(counters.endpointRequests[endpoint])
                    clusters[index].endpointFailures[position] += counters.endpointFailures[endpoint]
                }
            }
        }

        /// The per-endpoint counters laid out exactly as `clusters` lists their endpoints now (a loop may
        /// not have seen the latest DNS answer yet when the snapshot was taken).
        public func aligned(to upstreamClusters: [UpstreamCluster]) -> Snapshot {
            var result = self
            for (index, cluster) in upstreamClusters.enumerated() where index < result.clusters.count {
                result.clusters[index].remap(to: cluster.endpoints.map(\.label))
            }
            return result
        }
    }

    public var listeners: [ListenerCounters]
    public var clusters: [ClusterCounters]

    public init(runtime: GatewayRuntime) {
        listeners = runtime.listeners.map { ListenerCounters(routeRequests: Array(repeating: StatusClassCounts(), count: $0.routes.routes.count)) }
        clusters = runtime.clusters.map {
            ClusterCounters(endpointLabels: $0.endpoints.map(\.label),
                            endpointRequests: Array(repeating: StatusClassCounts(), count: $0.endpoints.count),
                            endpointFailures: Array(repeating: 0, count: $0.endpoints.count))
        }
    }

    /// A cluster's endpoint list changed: counters follow their endpoints by label; removed endpoints'
    /// counters go, new ones start at zero.
    public func remapEndpoints(ofCluster index: Int, to labels: [String]) {
        clusters[index].remap(to: labels)
    }

    public var snapshot: Snapshot { Snapshot(listeners: listeners, clusters: clusters) }
}

extension LoopMetrics.ClusterCounters {
    mutating func appendEndpoint(_ label: String) {
        endpointLabels.append(label)
        endpointRequests.append(StatusClassCounts())
        endpointFailures.append(0)
    }

    mutating func remap(to labels: [String]) {
        guard labels != endpointLabels else { return }
        var requests = Array(repeating: StatusClassCounts(), count: labels.count)
        var failures = Array(repeating: UInt64(0), count: labels.count)
        for (position, label) in labels.enumerated() {
            guard let old = endpointLabels.firstIndex(of: label) else { continue }
            requests[position] = endpointRequests[old]
            failures[position] = endpointFailures[old]
        }
        endpointLabels = labels
        endpointRequests = requests
        endpointFailures = failures
    }
}

/// Counters outlive a reload: each series is known by its labels (listener; listener, route and cluster;
/// cluster; cluster and endpoint address), and a series that exists in both configs keeps its value.
extension LoopMetrics.Snapshot {
    /// All zero, shaped for `runtime`.
    public static func zero(for runtime: GatewayRuntime) -> Self { LoopMetrics(runtime: runtime).snapshot }

    /// These counters, taken under `old`, in the shape of `new`: series of `new` that `old` also had get
    /// their values; series `old` alone had are dropped; new ones start at zero. Admin path only (it
    /// builds dictionaries).
    public func remapped(from old: GatewayRuntime, to new: GatewayRuntime) -> Self {
        if old === new { return self }
        var out = Self.zero(for: new)
        let oldListeners = Dictionary(old.listeners.map { ($0.name, $0) }, uniquingKeysWith: { first, _ in first })
        for (index, listener) in new.listeners.enumerated() {
            guard let before = oldListeners[listener.name] else { continue }
            var counters = listeners[before.index]
            // Routes have no names: a route is the same series when its position and cluster are.
            counters.routeRequests = listener.routes.routes.map { route in
                guard route.index < before.routes.routes.count, before.routes.routes[route.index].clusterName == route.clusterName else {
                    return StatusClassCounts()
                }
                return counters.routeRequests[route.index]
            }
            out.listeners[index] = counters
        }
        let oldClusters = Dictionary(old.clusters.map { ($0.name, $0) }, uniquingKeysWith: { first, _ in first })
        for (index, cluster) in new.clusters.enumerated() {
            guard let before = oldClusters[cluster.name] else { continue }
            // Endpoints are matched by address (the counters carry their labels: a DNS cluster's list moves).
            var counters = clusters[before.index]
            counters.remap(to: cluster.endpoints.map(\.label))
            out.clusters[index] = counters
        }
        return out
    }

    /// The counters with the gauges (active requests and connections) at zero: what a generation leaves
    /// behind once its last connection closed.
    public var countersOnly: Self {
        var copy = self
        for index in copy.listeners.indices {
            copy.listeners[index].activeRequests = 0
            copy.listeners[index].activeConnections = 0
            copy.listeners[index].activeTunnels = 0
        }
        return copy
    }
}
