import GatewayFilterAPI
import HTTPTypes
import NIOCore

/// Counts each request against its key's token bucket, in this process (`LocalRateLimiter`) or in
/// Redis (`GlobalRateLimiter`), and answers 429 with `Retry-After` and the RateLimit fields when the
/// bucket is empty. The decision is recorded in metadata for the access log and later filters.
final class RateLimitFilter: HTTPFilter {
    static let decisionKey = FilterMetadataKey<String>("rate_limit.decision")
    static let resultKey = FilterMetadataKey<RateLimitDecision>("rate_limit.result")

    private let shared: RateLimitFilterFactory.Shared
    /// Kept for the response's RateLimit fields (`response_headers: true`).
    private var allowed: RateLimitDecision?

    init(shared: RateLimitFilterFactory.Shared) { self.shared = shared }

    func onRequestHead(_ head: inout HTTPRequest, endStream: Bool, _ ctx: FilterContext) throws -> FilterVerdict {
        let config = shared.config
        var key = config.key.value(of: head, ctx)
        if key == nil, config.missingKey == .clientIP { key = RateLimitKey.clientIP.value(of: head, ctx) }
        guard let key else {
            record(RateLimitDecision(outcome: .noKey, policy: config.name, limit: config.burst, remaining: config.burst,
                                     retryAfterNanos: 0, resetNanos: 0), ctx)
            return .proceed
        }
        switch shared.limiter {
        case .local(let limiter):
            return verdict(limiter.acquire(key: key, now: NIODeadline.now().uptimeNanoseconds), ctx)
        case .global(let limiter):
            // The one asynchronous step: a Redis round trip on this loop's connection, bounded by its timeout.
            let bound = NIOLoopBound((filter: self, ctx: ctx), eventLoop: ctx.eventLoop)
            let future = limiter.acquire(key: shared.redisKeyPrefix + key, on: ctx.eventLoop, ctx: ctx)
                .map { step in bound.value.filter.verdict(step, bound.value.ctx) }
                .recover { error in bound.value.filter.redisFailed(error, bound.value.ctx) }
            return .suspend(future)
        }
    }

    func onResponseHead(_ head: inout HTTPResponse, endStream: Bool, _ ctx: FilterContext) throws -> FilterVerdict {
        if let allowed { RateLimitHeaders.add(to: &head.headerFields, allowed, policyValue: shared.policyValue, retryAfter: false) }
        return .proceed
    }

    private func verdict(_ step: GCRA.Step, _ ctx: FilterContext) -> FilterVerdict {
        let config = shared.config
        switch step {
        case .allowed(_, let remaining, let reset):
            let decision = RateLimitDecision(outcome: .allowed, policy: config.name, limit: config.burst, remaining: remaining,
                                             retryAfterNanos: 0, resetNanos: reset)
            record(decision, ctx)
            if config.headersOnAllowed { allowed = decision }
            return .proceed
        case .limited(let retryAfter, let reset):
            let decision = RateLimitDecision(outcome: .limited, policy: config.name, limit: config.burst, remaining: 0,
                                             retryAfterNanos: retryAfter, resetNanos: reset)
            record(decision, ctx)
            if config.dryRun { return .proceed }
            var reply = FilterLocalReply.text(config.status, "rate limit exceeded, retry in \(decision.retryAfterSeconds)s")
            RateLimitHeaders.add(to: &reply.headerFields, decision, policyValue: shared.policyValue, retryAfter: true)
            return .respond(reply)
        }
    }

    private func redisFailed(_ error: Error, _ ctx: FilterContext) -> FilterVerdict {
        let config = shared.config
        let failOpen = config.failureMode == .open
        if case .global(let limiter) = shared.limiter {
            limiter.events.decisionFailed(error as? RedisClientError ?? .server("\(error)"), failOpen: failOpen)
        }
        record(RateLimitDecision(outcome: failOpen ? .failedOpen : .failedClosed, policy: config.name, limit: config.burst,
                                 remaining: 0, retryAfterNanos: 1_000_000_000, resetNanos: 0), ctx)
        if failOpen { return .proceed }
        var reply = FilterLocalReply.text(config.failureStatus, "rate limit unavailable")
        reply.headerFields[.retryAfter] = "1"
        return .respond(reply)
    }

    private func record(_ decision: RateLimitDecision, _ ctx: FilterContext) {
        ctx.metadata[Self.decisionKey] = decision.outcome.rawValue
        shared.count(decision.outcome)
        ctx.metadata[Self.resultKey] = decision
    }
}
