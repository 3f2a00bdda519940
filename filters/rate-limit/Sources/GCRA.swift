/// The generic cell rate algorithm: a token bucket kept as one number, the theoretical arrival time
/// (TAT) of the next request. One number is what makes the local limiter a single compare-and-swap and
/// the Redis script a single GET/SET; both use this same arithmetic.
///
/// A bucket of `burst` tokens refilled one per `emissionInterval`: a key whose TAT is at or before `now`
/// has a full bucket; each request moves its TAT one interval later; a request is refused when that would
/// put the TAT more than `burst` intervals ahead of `now`.
///
/// ```swift
/// let gcra = GCRA(rate: RateSpec(count: 100, periodNanos: 1_000_000_000), burst: 100)
/// let step = gcra.step(tat: 0, now: now)   // .allowed(newTAT:, remaining:, resetNanos:)
/// ```
public struct GCRA: Sendable, Equatable {
    /// Nanoseconds between two tokens.
    public let emissionInterval: UInt64
    /// `burst * emissionInterval`: how far ahead of now the TAT may run.
    public let tolerance: UInt64
    public let burst: Int

    public init(rate: RateSpec, burst: Int) {
        precondition(rate.count > 0 && burst > 0)
        emissionInterval = max(1, rate.periodNanos / UInt64(rate.count))
        self.burst = burst
        tolerance = emissionInterval * UInt64(burst)
    }

    public enum Step: Equatable, Sendable {
        /// Store `newTAT`; `remaining` tokens are left; the bucket is full again after `resetNanos`.
        case allowed(newTAT: UInt64, remaining: Int, resetNanos: UInt64)
        /// Leave the TAT; one token is back after `retryAfterNanos`, the bucket is full after `resetNanos`.
        case limited(retryAfterNanos: UInt64, resetNanos: UInt64)
    }

    public func step(tat: UInt64, now: UInt64) -> Step {
        let start = max(tat, now)
        let newTAT = start + emissionInterval
        let ahead = newTAT - now
        if ahead > tolerance {
            // One token comes back when the TAT has fallen within the tolerance again.
            return .limited(retryAfterNanos: ahead - tolerance, resetNanos: start - now)
        }
        return .allowed(newTAT: newTAT, remaining: Int((tolerance - ahead) / emissionInterval), resetNanos: ahead)
    }

    /// Whether the next request would be refused, without taking a token.
    public func isExhausted(tat: UInt64, now: UInt64) -> Bool {
        max(tat, now) + emissionInterval - now > tolerance
    }
}

/// `100/s`, `20/m`, `1000/h`: `count` requests per period.
public struct RateSpec: Sendable, Equatable, CustomStringConvertible {
    public let count: Int
    public let periodNanos: UInt64

    public init(count: Int, periodNanos: UInt64) {
        self.count = count
        self.periodNanos = periodNanos
    }

    /// Parses `N/s`, `N/m`, `N/h` (also `N/sec`, `N/min`, `N/hour`).
    public init?(parsing text: String) {
        let parts = text.filter { $0 != " " }.split(separator: "/", maxSplits: 1).map(String.init)
        guard parts.count == 2, let count = Int(parts[0]), count > 0, count <= 1_000_000_000 else { return nil }
        switch parts[1] {
        case "s", "sec", "second": periodNanos = 1_000_000_000
        case "m", "min", "minute": periodNanos = 60_000_000_000
        case "h", "hour": periodNanos = 3_600_000_000_000
        default: return nil
        }
        self.count = count
    }

    public var description: String {
        switch periodNanos {
        case 1_000_000_000: "\(count)/s"
        case 60_000_000_000: "\(count)/m"
        default: "\(count)/h"
        }
    }

    /// The period in whole seconds, for headers.
    public var periodSeconds: Int { Int(periodNanos / 1_000_000_000) }
}
