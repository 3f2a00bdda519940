import Atomics
import NIOCore

/// Counters of one global limit's dealings with Redis, shared by its connections on every loop, and
/// the (rate-limited) log of its failures.
public final class RedisEvents: Sendable {
    private let log: RateLimitedLog
    private let address: String
    let connectAttempts = ManagedAtomic<Int>(0)
    let connections = ManagedAtomic<Int>(0)
    let disconnections = ManagedAtomic<Int>(0)
    let timeouts = ManagedAtomic<Int>(0)
    let unavailable = ManagedAtomic<Int>(0)
    let overloaded = ManagedAtomic<Int>(0)
    let otherErrors = ManagedAtomic<Int>(0)

    init(address: String) {
        self.address = address
        log = RateLimitedLog(label: "portcullis.rate_limit")
    }

    func connectAttempt() { connectAttempts.wrappingIncrement(ordering: .relaxed) }
    func connected() { connections.wrappingIncrement(ordering: .relaxed) }

    func disconnected(reason: String, retryIn: TimeAmount) {
        disconnections.wrappingIncrement(ordering: .relaxed)
        log.warning("redis connection failed", metadata: ["redis_addr": "\(address)", "reason": "\(reason)",
                                                          "retry_in_ms": "\(retryIn.nanoseconds / 1_000_000)"])
    }

    /// A decision made without Redis.
    func decisionFailed(_ error: RedisClientError, failOpen: Bool) {
        let counter = switch error {
        case .timeout: timeouts
        case .unavailable: unavailable
        case .overloaded: overloaded
        default: otherErrors
        }
        counter.wrappingIncrement(ordering: .relaxed)
        log.warning("rate limit decided without redis", metadata: ["redis_addr": "\(address)", "error": "\(error.kind)",
                                                                    "outcome": "\(failOpen ? "allowed" : "rejected")"])
    }

    /// Counter values by stable name, for tests and diagnostics.
    public var snapshot: [String: Int] {
        ["connect_attempts": connectAttempts.load(ordering: .relaxed), "connections": connections.load(ordering: .relaxed),
         "disconnections": disconnections.load(ordering: .relaxed), "timeouts": timeouts.load(ordering: .relaxed),
         "unavailable": unavailable.load(ordering: .relaxed), "overloaded": overloaded.load(ordering: .relaxed),
         "other_errors": otherErrors.load(ordering: .relaxed)]
    }
}
