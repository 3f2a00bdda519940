import NIOCore
import Testing
import Upstream

@Suite("Retry policy: conditions, backoff, budget")
struct RetryPolicyTests {
    @Test("the budget allows max(min_retry_concurrency, budget_percent of active requests) retries in flight")
    func budget() {
        var policy = RetryPolicy()
        policy.budgetPercent = 20
        policy.minRetryConcurrency = 3
        #expect(policy.budgetAllows(activeRequests: 1, activeRetries: 2))
        #expect(!policy.budgetAllows(activeRequests: 1, activeRetries: 3), "the floor is 3")
        #expect(policy.budgetAllows(activeRequests: 100, activeRetries: 19))
        #expect(!policy.budgetAllows(activeRequests: 100, activeRetries: 20), "20% of 100")
        #expect(!policy.budgetAllows(activeRequests: 1000, activeRetries: 200))
        policy.minRetryConcurrency = 0
        policy.budgetPercent = 0
        #expect(!policy.budgetAllows(activeRequests: 1000, activeRetries: 0), "a zero budget allows none")
    }

    @Test("backoff is full jitter under base * 2^(n-1), capped at max")
    func backoff() {
        var policy = RetryPolicy()
        policy.backoffBase = .milliseconds(25)
        policy.backoffMax = .milliseconds(100)
        var random = FastRandom(seed: 9)
        for (retry, cap) in [(1, 25), (2, 50), (3, 100), (4, 100), (30, 100)] {
            var largest: Int64 = 0
            for _ in 0..<2000 {
                let wait = policy.backoff(retry: retry, random: &random).nanoseconds
                #expect(wait >= 0 && wait < Int64(cap) * 1_000_000)
                largest = max(largest, wait)
            }
            #expect(largest > Int64(cap) * 900_000, "jitter spans the range for retry \(retry)")
        }
    }

    @Test("conditions: connect_failure, reset, 5xx, gateway_error and listed statuses")
    func conditions() {
        var policy = RetryPolicy()
        policy.on = [.connectFailure]
        #expect(policy.covers(outcome: .connectFailure))
        #expect(!policy.covers(outcome: .reset))
        #expect(!policy.covers(outcome: .serverError, status: 503))
        policy.statuses = [503]
        #expect(policy.covers(outcome: .serverError, status: 503))
        #expect(!policy.covers(outcome: .serverError, status: 500))
        policy.on = [.gatewayError]
        #expect(policy.covers(outcome: .reset) && policy.covers(outcome: .connectFailure))
        #expect(policy.covers(outcome: .serverError, status: 502) && !policy.covers(outcome: .serverError, status: 500))
        policy.on = [.serverError]
        #expect(policy.covers(outcome: .serverError, status: 500))
        #expect(!policy.covers(outcome: .success, status: 404))
    }

    @Test("circuit-breaker counters refuse past the limit and give slots back")
    func breakers() {
        var limits = CircuitBreakerLimits()
        limits.maxRequests = 2
        let resources = ClusterResources(limits: limits)
        #expect(resources.tryAcquire(.maxRequests))
        #expect(resources.tryAcquire(.maxRequests))
        #expect(!resources.tryAcquire(.maxRequests))
        #expect(resources.activeRequests == 2, "a refused acquire takes nothing")
        resources.release(.maxRequests)
        #expect(resources.tryAcquire(.maxRequests))
    }
}
