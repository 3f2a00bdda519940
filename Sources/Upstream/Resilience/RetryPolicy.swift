import NIOCore

/// When and how often a cluster's requests are retried (`clusters[].retries`).
public struct RetryPolicy: Sendable, Equatable {
    /// The conditions a retry is taken on.
    public struct Conditions: OptionSet, Sendable, Hashable {
        public let rawValue: Int
        public init(rawValue: Int) { self.rawValue = rawValue }
        /// The connection could not be opened (refused, connect timeout).
        public static let connectFailure = Conditions(rawValue: 1 << 0)
        /// The connection broke before a response head, or the per-try timeout passed.
        public static let reset = Conditions(rawValue: 1 << 1)
        /// Any 5xx, and everything `connect_failure` and `reset` cover (Envoy's `5xx`).
        public static let serverError = Conditions(rawValue: 1 << 2)
        /// 502, 503, 504, connect failures and resets (Envoy's `gateway-error`).
        public static let gatewayError = Conditions(rawValue: 1 << 3)
    }

    /// Retries after the first attempt (Envoy's `num_retries`).
    public var attempts: Int = 1
    public var on: Conditions = [.connectFailure, .reset]
    /// Response statuses retried besides the conditions' (e.g. 503, 429).
    public var statuses: Set<Int> = []
    /// Bounds one attempt until its response head; nil: only the request timeout.
    public var perTryTimeout: TimeAmount?
    /// Exponential backoff with full jitter: a wait in [0, min(max, base * 2^(n-1))).
    public var backoffBase: TimeAmount = .milliseconds(25)
    public var backoffMax: TimeAmount = .milliseconds(250)
    /// Retries in flight may be at most this percent of the cluster's active requests...
    public var budgetPercent: Int = 20
    /// ...or this many, whichever is more, so a quiet cluster can still retry.
    public var minRetryConcurrency: Int = 3
    /// POST and PATCH too. Off by default: they may have taken effect before the failure.
    public var nonIdempotent = false
    /// Request bodies are kept for a retry up to this size; a longer one is not retried.
    public var maxBufferedBody: Int = 64 * 1024

    public init() {}

    /// Whether this failure (nil status) or status may be retried at all.
    public func covers(outcome: AttemptOutcome, status: Int? = nil) -> Bool {
        if let status {
            if statuses.contains(status) { return true }
            if on.contains(.serverError) && status >= 500 && status <= 599 { return true }
            return on.contains(.gatewayError) && (502...504).contains(status)
        }
        let broad = on.contains(.serverError) || on.contains(.gatewayError)
        switch outcome {
        case .connectFailure: return broad || on.contains(.connectFailure)
        case .reset: return broad || on.contains(.reset)
        case .success, .serverError: return false
        }
    }

    /// The wait before retry number `retry` (1-based): full jitter over an exponentially growing cap.
    public func backoff(retry: Int, random: inout FastRandom) -> TimeAmount {
        let shift = min(max(0, retry - 1), 20)
        let (grown, overflow) = backoffBase.nanoseconds.multipliedReportingOverflow(by: Int64(1) << shift)
        let cap = overflow ? backoffMax.nanoseconds : min(grown, backoffMax.nanoseconds)
        guard cap > 0 else { return .zero }
        return .nanoseconds(Int64(random.next(below: Int(cap))))
    }

    /// Envoy's retry budget: a retry may start while retries in flight stay below `budgetPercent` of
    /// the active requests, or below `minRetryConcurrency`, whichever allows more.
    public func budgetAllows(activeRequests: Int, activeRetries: Int) -> Bool {
        let allowed = max(minRetryConcurrency, activeRequests * budgetPercent / 100)
        return activeRetries < allowed
    }
}
