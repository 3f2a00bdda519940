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
        /// Per endpoint, in the cluster's endpoint order.
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
                for endpoint in counters.endpointRequests.indices {
                    clusters[index].endpointRequests[endpoint].add(counters.endpointRequests[endpoint])
                    clusters[index].endpointFailures[endpoint] += counters.endpointFailures[endpoint]
                }
            }
        }
    }

    public var listeners: [ListenerCounters]
    public var clusters: [ClusterCounters]

    public init(runtime: GatewayRuntime) {
        listeners = runtime.listeners.map { ListenerCounters(routeRequests: Array(repeating: StatusClassCounts(), count: $0.routes.routes.count)) }
        clusters = runtime.clusters.map {
            ClusterCounters(endpointRequests: Array(repeating: StatusClassCounts(), count: $0.endpoints.count),
                            endpointFailures: Array(repeating: 0, count: $0.endpoints.count))
        }
    }

    public var snapshot: Snapshot { Snapshot(listeners: listeners, clusters: clusters) }
}
