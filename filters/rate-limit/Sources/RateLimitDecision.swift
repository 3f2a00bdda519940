/// What the rate limit decided for a request, as later filters and the access log see it:
/// `rate_limit.decision` holds `outcome.rawValue`, `rate_limit.result` this whole value.
///
/// ```swift
/// if ctx.metadata[RateLimitDecision.decisionKey] == "limited" { ... }   // any filter, no import needed:
/// // FilterMetadataKey<String>("rate_limit.decision") names the same entry.
/// ```
public struct RateLimitDecision: Sendable, CustomStringConvertible {
    public enum Outcome: String, Sendable, CaseIterable {
        case allowed
        /// Over the limit: refused (or, with `dry_run`, let through).
        case limited
        /// Redis unusable, let through (`failure_mode: open`).
        case failedOpen = "failed_open"
        /// Redis unusable, refused (`failure_mode: closed`).
        case failedClosed = "failed_closed"
        /// The request had no value for the key (`missing_key: pass`).
        case noKey = "no_key"
    }

    public var outcome: Outcome
    public var policy: String
    public var limit: Int
    public var remaining: Int
    /// Nanoseconds until one more request is allowed (0 when allowed).
    public var retryAfterNanos: UInt64
    /// Nanoseconds until the bucket is full again.
    public var resetNanos: UInt64

    public var description: String {
        "\(outcome.rawValue) policy=\(policy) remaining=\(remaining) retry_after_ms=\(retryAfterNanos / 1_000_000)"
    }

    /// Seconds for `Retry-After`: rounded up, at least 1, so a client never retries too early.
    public var retryAfterSeconds: Int { max(1, Int((retryAfterNanos + 999_999_999) / 1_000_000_000)) }
    public var resetSeconds: Int { Int((resetNanos + 999_999_999) / 1_000_000_000) }
}
