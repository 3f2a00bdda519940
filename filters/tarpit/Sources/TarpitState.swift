import Atomics
import RateLimitFilter

/// What every loop's tarpit filters share: the count of streams held now (for the cap) and the
/// per-client 4xx buckets. Both lock-free: an atomic counter and `LocalRateLimiter`'s slot table.
final class TarpitState: Sendable {
    let maxConcurrent: Int
    private let active = ManagedAtomic<Int>(0)
    /// A bucket of `count` 4xx per `window` per client address; empty means "too many".
    let errors: LocalRateLimiter?

    init(config: TarpitFilterConfig) {
        maxConcurrent = config.maxConcurrent
        if let rule = config.tooMany4xx {
            let rate = RateSpec(count: rule.count, periodNanos: UInt64(rule.window.nanoseconds))
            errors = LocalRateLimiter(gcra: GCRA(rate: rate, burst: rule.count), capacity: config.maxClients)
        } else {
            errors = nil
        }
    }

    /// Streams held right now.
    var activeCount: Int { active.load(ordering: .relaxed) }

    /// Takes a place under the cap; false when it is full.
    func enter() -> Bool {
        var current = active.load(ordering: .relaxed)
        while current < maxConcurrent {
            let (exchanged, original) = active.weakCompareExchange(expected: current, desired: current + 1, ordering: .relaxed)
            if exchanged { return true }
            current = original
        }
        return false
    }

    func leave() { active.wrappingDecrement(ordering: .relaxed) }
}
