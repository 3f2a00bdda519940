import Synchronization

/// Circuit-breaker limits of a cluster (`clusters[].circuit_breakers`), process-wide like Envoy's.
public struct CircuitBreakerLimits: Sendable, Equatable {
    /// Upstream connections open (all loops).
    public var maxConnections: Int = 1024
    /// Requests waiting for a new connection to open.
    public var maxPending: Int = 1024
    /// Requests in flight to the cluster.
    public var maxRequests: Int = 1024
    /// Retries in flight. Unlimited by default: the retry budget bounds retries relative to traffic.
    public var maxRetries: Int = Int.max

    public init() {}
}

/// Which circuit breaker tripped.
public enum CircuitBreaker: String, Sendable, CaseIterable {
    case maxConnections = "max_connections"
    case maxPending = "max_pending"
    case maxRequests = "max_requests"
    case maxRetries = "max_retries"
}

/// The cluster's counters that limits are checked against, shared by every loop. They are atomics,
/// not per-loop counters, because a limit means one number for the process (as in Envoy): split per
/// loop, an unevenly loaded loop would trip early while another had room. Two uncontended atomic adds
/// per request is the price; no lock is taken.
public final class ClusterResources: Sendable {
    public let limits: CircuitBreakerLimits
    private let connections = Atomic<Int>(0)
    private let pending = Atomic<Int>(0)
    private let requests = Atomic<Int>(0)
    private let retries = Atomic<Int>(0)

    public init(limits: CircuitBreakerLimits) { self.limits = limits }

    public var activeConnections: Int { connections.load(ordering: .relaxed) }
    public var pendingRequests: Int { pending.load(ordering: .relaxed) }
    public var activeRequests: Int { requests.load(ordering: .relaxed) }
    public var activeRetries: Int { retries.load(ordering: .relaxed) }

    /// Takes a slot under `breaker`'s limit, or returns false (and takes nothing) when it is full.
    public func tryAcquire(_ breaker: CircuitBreaker) -> Bool {
        // Add first, check after: two loops racing for the last slot cannot both get it.
        let after: Int
        switch breaker {
        case .maxConnections: after = connections.wrappingAdd(1, ordering: .relaxed).newValue
        case .maxPending: after = pending.wrappingAdd(1, ordering: .relaxed).newValue
        case .maxRequests: after = requests.wrappingAdd(1, ordering: .relaxed).newValue
        case .maxRetries: after = retries.wrappingAdd(1, ordering: .relaxed).newValue
        }
        if after > limit(breaker) {
            release(breaker)
            return false
        }
        return true
    }

    public func release(_ breaker: CircuitBreaker) {
        switch breaker {
        case .maxConnections: connections.wrappingSubtract(1, ordering: .relaxed)
        case .maxPending: pending.wrappingSubtract(1, ordering: .relaxed)
        case .maxRequests: requests.wrappingSubtract(1, ordering: .relaxed)
        case .maxRetries: retries.wrappingSubtract(1, ordering: .relaxed)
        }
    }

    public func limit(_ breaker: CircuitBreaker) -> Int {
        switch breaker {
        case .maxConnections: limits.maxConnections
        case .maxPending: limits.maxPending
        case .maxRequests: limits.maxRequests
        case .maxRetries: limits.maxRetries
        }
    }
}
