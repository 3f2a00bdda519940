import HTTPTypes
import NIOCore
import Upstream

/// What a stream keeps to retry its request: the body parts already forwarded (references to the same
/// buffers, not copies), whether the end went out, and the current attempt's bookkeeping. A request
/// without a retry policy or without a body never fills any of it.
struct RetryState {
    var body: [ByteBuffer] = []
    var bodyBytes = 0
    /// The body outgrew `max_buffered_body`: this request can no longer be retried.
    var bodyTooLarge = false
    var endForwarded = false
    var trailers: HTTPFields?
    /// The endpoint the last attempt failed on, for the next pick to avoid; -1 for none.
    var failedEndpoint = -1
    /// When the current attempt gives up waiting for a response head (`per_try_timeout`).
    var tryDeadline = NIODeadline.distantFuture
    var gotResponseHead = false
    /// Counts connects, so that the answer to an abandoned connect is recognised and dropped.
    var attemptID = 0
    /// The retry attempt in flight holds a slot under `max_retries` (and counts against the budget).
    var holdsRetrySlot = false
    var backoff: Scheduled<Void>?
}

/// Retries (`clusters[].retries`): on connect failure, reset, per-try timeout and configured statuses,
/// for idempotent methods unless configured otherwise, within the cluster's retry budget, after an
/// exponential backoff with jitter, on another endpoint when there is one.
extension ProxyStream {
    /// The body parts that were queued before the cluster was known are the first to keep.
    func startKeepingBodyForRetries(_ policy: RetryPolicy) {
        retry.body = pendingBody
        retry.bodyBytes = pendingBodyBytes
        retry.bodyTooLarge = pendingBodyBytes > policy.maxBufferedBody
        if retry.bodyTooLarge { retry.body = [] }
    }

    func keepForRetry(_ body: ByteBuffer) {
        guard let policy = cluster?.cluster.options.retries, !retry.bodyTooLarge else { return }
        retry.bodyBytes += body.readableBytes
        if retry.bodyBytes > policy.maxBufferedBody {
            // Past the limit the request cannot be replayed: drop what was kept.
            retry.bodyTooLarge = true
            retry.body = []
            return
        }
        retry.body.append(body)
    }

    /// Ends the current attempt's in-flight count (least request) and its hold on a retry slot; its
    /// outcome, when given, goes to outlier detection.
    func endAttempt(_ outcome: AttemptOutcome?) {
        guard let endpoint = attemptEndpoint, let cluster else { return }
        attemptEndpoint = nil
        retry.tryDeadline = .distantFuture
        cluster.exchangeEnded(endpoint)
        if let outcome { cluster.record(outcome, for: endpoint) }
        releaseRetrySlot()
    }

    /// A retry attempt holds its slot until it has an answer (or fails).
    func releaseRetrySlot() {
        guard retry.holdsRetrySlot, let cluster else { return }
        retry.holdsRetrySlot = false
        cluster.cluster.resources.release(.maxRetries)
    }

    func releaseClusterSlots() {
        guard let cluster else { return }
        if holdsRequestSlot {
            holdsRequestSlot = false
            cluster.cluster.resources.release(.maxRequests)
        }
        releaseRetrySlot()
    }

    /// An attempt failed without a response: retry it when the policy allows, else fail the stream.
    func attemptFailed(_ error: UpstreamError) {
        let outcome: AttemptOutcome?
        switch error {
        case .connectFailed, .connectTimeout: outcome = .connectFailure
        case .connectionReset, .protocolError, .perTryTimeout: outcome = .reset
        case .noHealthyEndpoint, .overflow, .stickyEndpointUnavailable: outcome = nil
        }
        let failed = attemptEndpoint
        endAttempt(outcome)
        // Nothing reached the application when the connect failed: any method may go elsewhere.
        if let outcome, let policy = cluster?.cluster.options.retries, policy.covers(outcome: outcome),
           mayRetry(policy, anyMethod: outcome == .connectFailure) {
            retryRequest(policy, after: failed)
            return
        }
        if outcome == .connectFailure, let failed, failed.index == sticky.pinned, let sticky = cluster?.cluster.sticky {
            if sticky.isStrict {
                // Strict stickiness: the session's endpoint refused it, and nothing else may take it.
                failUpstream(.stickyEndpointUnavailable)
                return
            }
            if !self.sticky.fallbackTried && requestFraming == .none {
                // Fallback: the session's endpoint is gone. Nothing reached it, so the request (without a
                // body to replay) goes elsewhere once, retry policy or not, and the answer re-names the endpoint.
                self.sticky.fallbackTried = true
                retry.failedEndpoint = failed.index
                pickAndConnect()
                return
            }
        }
        failUpstream(error)
    }

    /// A response head arrived. Its status counts for outlier detection; when the policy retries it,
    /// the response is dropped (nothing has reached the client) and true is returned.
    func attemptShouldRetry(status: Int) -> Bool {
        retry.gotResponseHead = true
        retry.tryDeadline = .distantFuture
        guard let cluster, let endpoint = attemptEndpoint else { return false }
        let outcome: AttemptOutcome = status >= 500 ? .serverError : .success
        cluster.record(outcome, for: endpoint)
        guard let policy = cluster.cluster.options.retries, policy.covers(outcome: outcome, status: status) else { return false }
        // This attempt has its answer: if it was a retry, its slot is free whether or not another follows.
        releaseRetrySlot()
        guard mayRetry(policy) else { return false }
        if case .forwarding(let connection) = state { connection.abort() }
        endAttempt(nil)
        retryRequest(policy, after: endpoint)
        return true
    }

    /// The per-try timeout passed before a response head.
    func perTryTimedOut() {
        guard !retry.gotResponseHead, attemptEndpoint != nil else { return }
        loop.metrics.clusters[cluster!.cluster.index].perTryTimeouts += 1
        if case .forwarding(let connection) = state { connection.abort() }
        state = .waitingForUpstream
        attemptFailed(.perTryTimeout)
    }

    /// Whether one more attempt is allowed: attempts left, a replayable request, and room in the budget.
    private func mayRetry(_ policy: RetryPolicy, anyMethod: Bool = false) -> Bool {
        guard !logged, !responseStarted, record.upstreamAttempts <= policy.attempts, !retry.bodyTooLarge,
              anyMethod || policy.nonIdempotent || Self.isIdempotent(storedRequest.method), let cluster else { return false }
        let resources = cluster.cluster.resources
        // The budget keeps retries a fraction of real traffic, so a failing cluster is not hit with a
        // multiple of its load; `max_retries` is an absolute cap on top.
        guard policy.budgetAllows(activeRequests: resources.activeRequests, activeRetries: resources.activeRetries),
              resources.tryAcquire(.maxRetries) else {
            loop.metrics.clusters[cluster.cluster.index].retryOverflows += 1
            return false
        }
        return true
    }

    private func retryRequest(_ policy: RetryPolicy, after failed: Endpoint?) {
        guard let cluster else { return }
        loop.metrics.clusters[cluster.cluster.index].retries += 1
        // `mayRetry` took the slot.
        retry.holdsRetrySlot = true
        retry.failedEndpoint = failed?.index ?? -1
        state = .waitingForUpstream
        // Replay what had been sent; parts still arriving join `pendingBody` as usual.
        pendingBody = retry.body
        pendingBodyBytes = retry.bodyBytes
        pendingEnd = retry.endForwarded
        pendingTrailers = retry.trailers
        let delay = policy.backoff(retry: record.upstreamAttempts, random: &loop.random)
        let stream = NIOLoopBound(self, eventLoop: loop.eventLoop)
        retry.backoff = loop.eventLoop.scheduleTask(in: delay) {
            let stream = stream.value
            stream.retry.backoff = nil
            guard !stream.logged, case .waitingForUpstream = stream.state else { return }
            stream.pickAndConnect()
        }
    }

    /// Counts a circuit-breaker overflow, then fails as any upstream error does.
    func failUpstream(_ error: UpstreamError) {
        if case .overflow(let breaker) = error, let cluster, let slot = CircuitBreaker.allCases.firstIndex(of: breaker) {
            loop.metrics.clusters[cluster.cluster.index].overflows[slot] += 1
        }
        fail(.upstream(error))
    }

    // MARK: - Hash keys

    /// The request's key for `ring_hash` and `maglev`; nil when the request has none (then any endpoint).
    func requestHash(_ cluster: UpstreamCluster) -> UInt64? {
        if let hashKeyOverride { return hashKeyOverride }
        switch cluster.options.hashOn {
        case .header?:
            guard let name = cluster.hashHeaderName, let value = request.headerFields[name] else { return nil }
            return StableHash.hash(value.utf8)
        case .cookie(let name)?:
            for field in request.headerFields where field.name == .cookie {
                if let hash = Self.cookieHash(field.value, name: name) { return hash }
            }
            return nil
        case .clientIP?:
            return Self.addressHash(record.downstreamAddress)
        case .filter?, nil:
            return nil
        }
    }

    /// Hashes cookie `name`'s value in a `Cookie` field (`a=1; sid=xyz`) without copying it out.
    static func cookieHash(_ field: String, name: String) -> UInt64? {
        let bytes = field.utf8
        var index = bytes.startIndex
        while index < bytes.endIndex {
            while index < bytes.endIndex, bytes[index] == UInt8(ascii: " ") || bytes[index] == UInt8(ascii: ";") { index = bytes.index(after: index) }
            let pairStart = index
            while index < bytes.endIndex, bytes[index] != UInt8(ascii: ";") { index = bytes.index(after: index) }
            let pair = bytes[pairStart..<index]
            guard let equals = pair.firstIndex(of: UInt8(ascii: "=")) else { continue }
            if pair[pairStart..<equals].elementsEqual(name.utf8) {
                return StableHash.hash(pair[pair.index(after: equals)...])
            }
        }
        return nil
    }

    /// Hashes the IP of `ip:port` or `[v6]:port`, so a client keeps its endpoint across connections.
    static func addressHash(_ address: String) -> UInt64 {
        let bytes = address.utf8
        var end = bytes.lastIndex(of: UInt8(ascii: ":")) ?? bytes.endIndex
        var start = bytes.startIndex
        if bytes.first == UInt8(ascii: "["), let close = bytes.firstIndex(of: UInt8(ascii: "]")) {
            start = bytes.index(after: start)
            end = close
        }
        return StableHash.hash(bytes[start..<end])
    }
}
