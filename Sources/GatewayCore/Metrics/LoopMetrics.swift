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
