import GatewayFilterAPI
import HTTP1
import HTTPTypes
import NIOCore
import Upstream

/// One request's way through the gateway, independent of the client's protocol: route, pick an
/// endpoint, forward the request, stream the response back, and log exactly one access-log line.
///
/// It lives on the event loop of its client connection and talks to both sides through protocols
/// (`DownstreamResponder`, `UpstreamResponseDelegate`); backpressure is relayed both ways: a full
/// upstream socket pauses the request body, a full client socket pauses the upstream response.
public final class ProxyStream {
    enum State {
        /// Request filters are running (the heads, or a buffered body): no upstream is used yet. Request
        /// body parts wait in `requestInput`.
        case filtering
        /// Routing is done; an endpoint is being picked or connected. Request body parts wait here.
        case waitingForUpstream
        case forwarding(any UpstreamExchange)
        /// The upstream side is done, or was never used (a filter answered): only the rest of the response
        /// is left to pass the response filters and reach the client.
        case completingResponse
        case finished
    }

    /// Request body bytes held while the upstream connection is being set up, before the client is paused.
    static let maxPendingBodyBytes = 64 * 1024

    let loop: LoopContext
    let listener: ListenerRuntime
    /// The client's address without its port (X-Forwarded-For, spans). Connections work it out once and
    /// pass it in, so a keep-alive request does not take the address apart again.
    let downstreamIP: String
    /// The client connection's TLS details, for filters.
    public let tls: DownstreamTLS?
    /// W3C trace context and the spans of this stream.
    var tracing: StreamTracing
    var responder: DownstreamResponder?
    /// The request; with `rawRequestFields` set, its `headerFields` are still empty. Method, authority
    /// and path are always here: read them from this, not from `request`, on the proxy's own path.
    var storedRequest: HTTPRequest
    /// An HTTP/1.1 request's field lines as received, forwarded as bytes while nothing needs the fields
    /// (filters may edit them in place: ProxyStream+ReceivedFields.swift).
    var rawRequestFields: HTTP1RawRequestFields?

    /// The request with its fields: the first use builds them from `rawRequestFields`, which are then
    /// dropped (the fields may be edited from there on).
    var request: HTTPRequest {
        get {
            if rawRequestFields != nil { materializeRequestFields() }
            return storedRequest
        }
        _modify {
            if rawRequestFields != nil { materializeRequestFields() }
            yield &storedRequest
        }
    }

    private func materializeRequestFields() {
        guard let raw = rawRequestFields else { return }
        storedRequest.headerFields = raw.materialize()
        rawRequestFields = nil
    }
    var requestFraming: HTTP1BodyFraming
    private let stripConnectionFields: Bool
    private var edits: ForwardingEdits?
    var state: State = .filtering
    var route: Route?
    var cluster: ClusterLoopState?
    var endpoint: Endpoint?
    /// The endpoint whose in-flight count (least request) and outcome this attempt still owes.
    var attemptEndpoint: Endpoint?
    /// The request holds a slot under the cluster's `max_requests` breaker.
    var holdsRequestSlot = false
    /// Retries, their buffered body and the per-try deadline (ProxyStream+Retry.swift).
    var retry = RetryState()
    /// The sticky session this request names (ProxyStream+Sticky.swift).
    var sticky = StickyStreamState()
    /// A hash key a filter set (`setHashKey`): overrides `hash_on` and the sticky header.
    var hashKeyOverride: UInt64?
    var requestComplete: Bool
    var responseStarted = false
    var pendingBody: [ByteBuffer] = []
    var pendingBodyBytes = 0
    var pendingEnd = false
    var pendingTrailers: HTTPFields?
    var requestBodyPaused = false
    /// Transparent retries after a reset the exchange says is safe to retry (`resetIsSafeToRetry`).
    private var staleRetries = 0
    var logged = false
    var record: AccessLogRecord
    private let started: NIODeadline
    private var deadline = NIODeadline.distantFuture
    private var deadlineRegistered = false
    var upstreamStarted: NIODeadline?
    /// A gRPC request: its errors are answered gRPC-style, its `grpc-timeout` bounds it.
    let isGRPC: Bool

    // MARK: Filter state (ProxyStream+Filters.swift). A stream without filters never touches it past
    // the two `isEmpty` checks in `start()`, and none of it allocates until used.

    /// The listener's chain until the route is known, then the route's (the listener's filters first).
    var chain = FilterChain.empty
    /// One instance per configured filter that has been reached, in chain order.
    var filters = FilterInstances()
    /// Every request-head hook has run and the route is chosen.
    var headsDone = false
    /// Request body parts go through `requestInput` and the body hooks rather than straight upstream.
    var requestBodyHooked = false
    /// The response goes through the response hooks (the chain has at least one).
    var responseHooked = false
    var filterMetadata = FilterMetadata()
    var clusterOverride: (index: Int, name: String)?
    var requestSuspended = false
    var responseSuspended = false
    /// A request-head hook asked for the whole body before anything goes upstream.
    var bufferingRequest = false
    /// The buffered body has passed the hooks; the upstream is connected with its length.
    var connectAfterBufferedBody = false
    var requestInput: [ByteBuffer] = []
    var requestInputBytes = 0
    var requestInputEnded = false
    var requestInputTrailers: HTTPFields?
    var requestEndForwarded = false
    var requestChunk: ByteBuffer?
    var requestChunkEnd = false
    /// The body hooks have heard `endStream: true` (with the last chunk, or an empty one after it).
    var requestBodyEndDelivered = false
    var requestTrailers: HTTPFields?
    /// The response head while the response-head hooks have it.
    var filterResponse: HTTPResponse?
    var responseBodyLength = ResponseBodyLength.none
    var responseHeadPending = false
    /// Response hooks run from this filter down to the first: the last one reached, or the one before a
    /// filter that answered.
    var responseFilterTop = -1
    var responseInput: [ByteBuffer] = []
    var responseInputBytes = 0
    var responseInputEnded = false
    var responseInputTrailers: HTTPFields?
    var responseChunk: ByteBuffer?
    var responseChunkEnd = false
    /// The body hooks have seen the response's last part (`endStream: true`).
    var responseEndDelivered = false
    var responseTrailers: HTTPFields?
    var upstreamPausedByFilters = false
    /// Counts local replies, so the timer of a dripped one (`FilterLocalReply.drip`) can tell that a
    /// later reply replaced it.
    var dripGeneration = 0

    /// - Parameters:
    ///   - request: The request as received; authority and path are what routing sees.
    ///   - framing: How its body is delimited: `.none`, a known length, or chunked (unknown length).
    ///   - hasConnectionSpecificFields: The request may carry hop-by-hop fields or `Expect` to strip;
    ///     false lets the common request skip that pass.
    ///   - rawFields: The request's fields as received (`request.headerFields` is then empty).
    ///   - downstreamIP: `downstreamAddress` without its port, if the caller has it already.
    public init(request: HTTPRequest, rawFields: HTTP1RawRequestFields? = nil, framing: HTTP1BodyFraming, hasConnectionSpecificFields: Bool = true,
                protocolName: String, downstreamAddress: String, downstreamIP: String? = nil, downstreamL4Address: String? = nil,
                tls: DownstreamTLS? = nil, listener: ListenerRuntime, loop: LoopContext, responder: DownstreamResponder) {
        self.loop = loop
        self.downstreamIP = downstreamIP ?? Self.ipOnly(downstreamAddress)
        self.listener = listener
        self.responder = responder
        self.storedRequest = request
        self.rawRequestFields = rawFields
        self.requestFraming = framing
        self.stripConnectionFields = hasConnectionSpecificFields
        self.requestComplete = framing == .none
        if let rawFields {
            self.isGRPC = GRPC.isGRPC(method: request.method, contentType: rawFields.contentType)
        } else {
            self.isGRPC = GRPC.isGRPC(request)
        }
        self.started = .now()
        self.record = AccessLogRecord(startUnixNanos: Self.unixNanosNow(), listener: listener.name,
                                      downstreamAddress: downstreamAddress, protocolName: protocolName, status: 0)
        record.downstreamL4Address = downstreamL4Address
        self.tls = tls
        record.tlsClientSubject = tls?.clientSubject
        record.tlsClientSANs = tls?.clientSANsJoined
        record.method = request.method.rawValue
        record.authority = request.authority
        record.path = request.path
        let traceparent = rawFields != nil ? rawFields?.traceparent : request.headerFields[StreamTracing.traceparent]
        tracing = StreamTracing(traceparent: traceparent, loop: loop)
        record.traceID = (tracing.context.traceHigh, tracing.context.traceLow)
        loop.metrics.listeners[listener.index].activeRequests += 1
    }

    // MARK: - From the client side

    /// Runs the listener's request-head filters, routes the request, runs the route's, and starts the
    /// upstream exchange. Call once, right after init.
    public func start() {
        let received = rawRequestFields != nil ? rawRequestFields?.requestID : storedRequest.headerFields.firstValue(.xRequestID)
        let requestID = received.flatMap { Self.isAcceptableRequestID($0) ? $0 : nil } ?? loop.requestIDs.next()
        record.requestID = requestID
        if listener.filterChain.isEmpty {
            // No listener filters: route at once, as a gateway without filters always did.
            guard routeRequest() else { return }
            if chain.isEmpty {
                headsDone = true
                connectUpstream()
                return
            }
        } else {
            // A listener filter may wait on something that never comes: the listener's timeout bounds it.
            setDeadline(listener.requestTimeout)
            startListenerFilters()
        }
        guard runFilters(.requestHead, from: 0) else { return }
        hookCompleted(.requestHead)
    }

    /// Chooses the route from the request as the listener's filters left it. False after failing the stream.
    func routeRequest() -> Bool {
        guard let route = listener.routes.match(authority: storedRequest.authority, path: storedRequest.path ?? "/") else {
            fail(.noRoute)
            return false
        }
        self.route = route
        record.upstreamCluster = clusterOverride?.name ?? route.clusterName
        if let max = route.maxBodyBytes {
            if case .contentLength(let length) = requestFraming, length > max {
                fail(.bodyTooLarge)
                return false
            }
            if record.bytesIn > max {
                fail(.bodyTooLarge)
                return false
            }
        }
        setDeadline(route.requestTimeout)
        if isGRPC, let timeout = GRPC.timeout(request), started + timeout < deadline {
            // The client's deadline is sooner than the route's: the gateway gives up then, and says so
            // as DEADLINE_EXCEEDED rather than let the client's own timer cut the stream.
            deadline = started + timeout
            registerDeadlines()
        }
        if !route.filterChain.isEmpty { startRouteFilters(route.filterChain) }
        return true
    }

    private func setDeadline(_ timeout: TimeAmount?) {
        guard let timeout else {
            deadline = .distantFuture
            return
        }
        deadline = started + timeout
        registerDeadlines()
    }

    /// The loop's sweeper checks the request deadline and the per-try deadline.
    func registerDeadlines() {
        if !deadlineRegistered {
            deadlineRegistered = true
            loop.requestDeadlines.add(self)
        }
    }

    /// Picks an endpoint of the route's cluster (or the one a filter chose) and connects.
    func connectUpstream() {
        guard let route else { return }
        state = .waitingForUpstream
        prepareUpstreamRequest(requestID: record.requestID ?? "")
        let cluster = loop.clusters[clusterOverride?.index ?? route.clusterIndex]
        self.cluster = cluster
        guard cluster.cluster.resources.tryAcquire(.maxRequests) else {
            failUpstream(.overflow(.maxRequests))
            return
        }
        holdsRequestSlot = true
        if let policy = cluster.cluster.options.retries { startKeepingBodyForRetries(policy) }
        pickAndConnect()
    }

    /// Picks an endpoint (avoiding the one a retry failed on) and connects to it.
    func pickAndConnect() {
        guard let cluster else { return }
        if let policy = cluster.cluster.sticky {
            pickSticky(cluster, policy)
            return
        }
        let hash = cluster.cluster.options.hashOn == nil && hashKeyOverride == nil ? nil : requestHash(cluster.cluster)
        guard let endpoint = cluster.pickEndpoint(hash: hash, excluding: retry.failedEndpoint) else {
            fail(.upstream(.noHealthyEndpoint))
            return
        }
        connect(to: endpoint, fresh: false)
    }

    public func receiveBody(_ body: ByteBuffer) {
        record.bytesIn += Int64(body.readableBytes)
        let limit = bufferingRequest ? bufferedBodyLimit : route?.maxBodyBytes
        if let limit, record.bytesIn > limit {
            fail(.bodyTooLarge)
            return
        }
        if headsDone && !requestBodyHooked {
            forwardRequestBody(body)
        } else {
            queueRequestBody(body)
        }
    }

    public func receiveEnd(_ trailers: HTTPFields?) {
        requestComplete = true
        if headsDone && !requestBodyHooked {
            forwardRequestEnd(trailers)
        } else {
            queueRequestEnd(trailers)
        }
    }

    /// A body part that passed the filters (or met none) goes upstream, or waits for the connection.
    func forwardRequestBody(_ body: ByteBuffer) {
        switch state {
        case .filtering, .waitingForUpstream:
            keepForRetry(body)
            pendingBody.append(body)
            pendingBodyBytes += body.readableBytes
            if pendingBodyBytes > Self.maxPendingBodyBytes { pauseRequestBody() }
        case .forwarding(let connection):
            keepForRetry(body)
            connection.sendBody(body)
        case .completingResponse, .finished:
            break
        }
    }

    func forwardRequestEnd(_ trailers: HTTPFields?) {
        retry.endForwarded = true
        retry.trailers = trailers
        switch state {
        case .filtering, .waitingForUpstream:
            pendingEnd = true
            pendingTrailers = trailers
        case .forwarding(let connection):
            connection.sendEnd(trailers: trailers)
        case .completingResponse, .finished:
            break
        }
    }

    public func downstreamReadComplete() {
        if case .forwarding(let connection) = state { connection.flush() }
    }

    public func downstreamWritabilityChanged(_ isWritable: Bool) {
        guard case .forwarding(let connection) = state else { return }
        if isWritable { connection.resumeReading() } else { connection.pauseReading() }
    }

    public func downstreamClosed() { fail(.downstreamClosed) }

    public func requestBodyTimedOut() { fail(.bodyReadTimeout) }

    public func requestMalformed(_ error: HTTP1ParseError) { fail(.malformed(error)) }

    /// The request is a WebSocket handshake (HTTP/1.1 `Upgrade: websocket`), set by the client connection
    /// before `start()`. On a route that allows it, the upgrade is passed on, and a 101 makes a tunnel.
    public var requestsWebSocket = false

    public var isFinished: Bool {
        if case .finished = state { return true }
        return false
    }

    // MARK: - Upstream exchange

    private func prepareUpstreamRequest(requestID: String) {
        let clientIP = downstreamIP
        var forwardedFor = clientIP
        var strip = stripConnectionFields
        var teTrailers = false
        var nominates = false
        if let raw = rawRequestFields {
            if let received = raw.forwardedFor { forwardedFor = "\(received), \(clientIP)" }
            teTrailers = strip && raw.asksForTrailers
            nominates = strip && raw.connectionNominatesFields
        } else {
            let fields = storedRequest.headerFields
            if fields.contains(.xForwardedFor), let received = fields[.xForwardedFor] { forwardedFor = "\(received), \(clientIP)" }
            teTrailers = strip && HopByHop.asksForTrailers(fields)
            nominates = strip && HopByHop.connectionNominatesFields(fields)
        }
        if nominates {
            // Rare: the client names extra fields to drop; remove them (and the rest) structurally.
            HopByHop.strip(&request.headerFields)
            request.headerFields[.expect] = nil
            strip = false
        }
        // The other edits are applied while the head is written: no copy or search of the fields.
        edits = ForwardingEdits(requestID: requestID, forwardedFor: forwardedFor, forwardedProto: listener.scheme,
                                stripConnectionFields: strip, chunked: requestFraming == .chunked, teTrailers: teTrailers)
        if requestsWebSocket, route?.websocket == true { edits?.upgrade = "websocket" }
    }

    func connect(to endpoint: Endpoint, fresh: Bool) {
        guard let cluster else { return }
        self.endpoint = endpoint
        record.upstreamAddress = endpoint.label
        record.upstreamAttempts += 1
        edits?.traceparent = beginAttemptSpan(endpoint: endpoint)
        if upstreamStarted == nil { upstreamStarted = .now() }
        attemptEndpoint = endpoint
        cluster.exchangeStarted(endpoint)
        retry.gotResponseHead = false
        if let timeout = cluster.cluster.options.retries?.perTryTimeout {
            retry.tryDeadline = .now() + timeout
            registerDeadlines()
        }
        if isGRPC {
            // gRPC deadline propagation (as Envoy does with `max_grpc_timeout`): the upstream learns what is
            // left of the gateway's deadline for this try, after the filters and any earlier tries.
            let end = min(deadline, retry.tryDeadline)
            if end != .distantFuture { edits?.grpcTimeout = GRPC.timeoutValue(end - .now()) }
        }
        // A per-try timeout may give up on this connect and start another: the late answer of this
        // one must not be taken for the new attempt's.
        retry.attemptID &+= 1
        if !fresh, let connection = cluster.takeIdleConnection(endpoint) {
            startExchange(on: connection)
            return
        }
        let attempt = retry.attemptID
        cluster.acquire(endpoint, fresh: fresh, needsHTTP1: edits?.upgrade != nil) { [self] result in
            switch result {
            case .success(let connection):
                guard case .waitingForUpstream = state, attempt == retry.attemptID else {
                    // The stream ended (or moved on) while connecting; the connection goes back to the pool.
                    connection.returnUnused()
                    return
                }
                startExchange(on: connection)
            case .failure(let error):
                guard attempt == retry.attemptID, !logged else { return }
                attemptFailed(error)
            }
        }
    }

    private func startExchange(on connection: any UpstreamExchange) {
        state = .forwarding(connection)
        // HTTP/1.0 clients may omit Host, but an HTTP/1.1 upstream requires one: use the endpoint's
        // address, as nginx does with its default `proxy_set_header Host $proxy_host`.
        if storedRequest.authority == nil { storedRequest.authority = connection.endpoint.label }
        if let raw = rawRequestFields {
            connection.sendRequestHead(storedRequest, rawFields: raw, edits: edits!, framing: requestFraming, delegate: self)
        } else {
            connection.sendRequestHead(storedRequest, edits: edits!, framing: requestFraming, delegate: self)
        }
        for body in pendingBody { connection.sendBody(body) }
        pendingBody = []
        pendingBodyBytes = 0
        if pendingEnd {
            connection.sendEnd(trailers: pendingTrailers)
        } else {
            connection.flush()
        }
        if requestBodyPaused && connection.isWritable && requestInputBytes <= Self.maxPendingBodyBytes { resumeRequestBody() }
        // The client socket may already be full (a pipelining client that does not read): its
        // writability event fired before this stream existed, so start paused.
        if let responder, !responder.isWritable { connection.pauseReading() }
    }

    func pauseRequestBody() {
        guard !requestBodyPaused, !requestComplete else { return }
        requestBodyPaused = true
        responder?.pauseRequestBody()
    }

    func resumeRequestBody() {
        guard requestBodyPaused else { return }
        requestBodyPaused = false
        responder?.resumeRequestBody()
    }

    // MARK: - Ending

    /// Turns any failure into the client's answer, in one place: a local reply if nothing was sent
    /// yet, else an aborted response.
    func fail(_ error: GatewayError) {
        if case .finished = state { return }
        if case .forwarding(let connection) = state { connection.abort() }
        endAttempt(nil)
        retry.backoff?.cancel()
        retry.backoff = nil
        // Finished from here on: replying or aborting can close the client connection, which calls
        // back into `downstreamClosed()`; that must not end the stream a second time.
        state = .finished
        var close = error.closeConnection || !requestComplete
        if error.status.code == 499 {
            close = true
        } else if !responseStarted {
            sendLocalReply(error)
        } else {
            responder?.abortResponse()
            close = true
        }
        record.errorSource = error.source
        record.error = error.reason
        finish(status: error.status.code, closeConnection: close)
    }

    private func sendLocalReply(_ error: GatewayError) {
        guard let responder else { return }
        if isGRPC {
            // Trailers-only: HTTP 200 and the status in grpc-status, as gRPC clients expect.
            responseStarted = true
            responder.sendResponseHead(GRPC.localReply(error), bodyLength: .none)
            responder.sendResponseEnd(nil)
            responder.flush()
            return
        }
        let reply = LocalReply(error)
        responseStarted = true
        responder.sendResponseHead(reply.response, bodyLength: .known(Int64(reply.body.readableBytes)))
        if storedRequest.method != .head {
            record.bytesOut += Int64(reply.body.readableBytes)
            responder.sendResponseBody(reply.body)
        }
        responder.sendResponseEnd(nil)
        responder.flush()
    }

    func finish(status: Int, closeConnection: Bool) {
        // Exactly one access-log line, however the ending was reached.
        guard !logged else { return }
        logged = true
        state = .finished
        pendingBody = []
        // The raw fields are a slice of the client connection's receive buffer: let go of it now, not when
        // the sweeper drops this stream, so the connection's next read can reuse that buffer. (Filters may
        // still read the request in their onComplete hooks: a stream with filters lets go after those.)
        if filters.isEmpty { rawRequestFields = nil }
        let now = NIODeadline.now()
        record.status = status
        endAttempt(nil)
        releaseClusterSlots()
        if !filters.isEmpty {
            completeFilters()
            // Their onComplete hooks were the last readers of the request (later work reads copies).
            dropRawRequestFields()
        }
        if !loop.accessLogMetadata.isEmpty {
            record.metadataNames = loop.accessLogMetadata
            record.metadataValues = loop.accessLogMetadata.map { filterMetadata.loggableValue(named: $0) }
        }
        record.durationNanos = (now - started).nanoseconds
        if let upstreamStarted { record.upstreamNanos = (now - upstreamStarted).nanoseconds }
        writeServerSpan()
        countMetrics()
        loop.accessLog.append(&record)
        let responder = self.responder
        self.responder = nil
        responder?.streamFinished(closeConnection: closeConnection)
    }

    private func countMetrics() {
        let metrics = loop.metrics
        metrics.listeners[listener.index].activeRequests -= 1
        metrics.listeners[listener.index].requests.record(status: record.status)
        metrics.listeners[listener.index].latency.observe(nanos: record.durationNanos)
        if let route { metrics.listeners[listener.index].routeRequests[route.index].record(status: record.status) }
        guard let cluster, let endpoint else { return }
        let index = cluster.cluster.index
        // A request that started before its DNS cluster's endpoint list changed counts only in the
        // cluster totals: its endpoint's position belongs to the old list.
        guard loop.clusters[index] === cluster else {
            if let upstreamNanos = record.upstreamNanos { metrics.clusters[index].latency.observe(nanos: upstreamNanos) }
            return
        }
        if record.errorSource == .upstream {
            metrics.clusters[index].endpointFailures[endpoint.index] += 1
        } else {
            metrics.clusters[index].endpointRequests[endpoint.index].record(status: record.status)
        }
        if let upstreamNanos = record.upstreamNanos { metrics.clusters[index].latency.observe(nanos: upstreamNanos) }
    }

    // MARK: - Helpers

    static func isAcceptableRequestID(_ value: String) -> Bool {
        let utf8 = value.utf8
        return !utf8.isEmpty && utf8.count <= 128 && utf8.allSatisfy { $0 > 0x20 && $0 < 0x7F }
    }

    public static func ipOnly(_ address: String) -> String {
        // On the UTF-8 view: searching the String itself would walk it grapheme by grapheme.
        let bytes = address.utf8
        if bytes.first == UInt8(ascii: "["), let close = bytes.firstIndex(of: UInt8(ascii: "]")) {
            return String(address[bytes.index(after: bytes.startIndex)..<close])
        }
        if let colon = bytes.lastIndex(of: UInt8(ascii: ":")) { return String(address[..<colon]) }
        return address
    }

    public static func unixNanosNow() -> Int64 {
        var ts = timespec()
        clock_gettime(CLOCK_REALTIME, &ts)
        return Int64(ts.tv_sec) * 1_000_000_000 + Int64(ts.tv_nsec)
    }
}

extension ProxyStream: SweepTarget {
    public func sweep(now: NIODeadline) -> Bool {
        if isFinished { return false }
        if now >= retry.tryDeadline {
            retry.tryDeadline = .distantFuture
            perTryTimedOut()
            if isFinished { return false }
        }
        if now < deadline { return true }
        fail(.requestTimeout)
        return false
    }
}

extension ProxyStream: UpstreamResponseDelegate {
    public func upstreamResponseHead(_ head: HTTP1ResponseHead) {
        guard let responder else { return }
        var head = head
        let length: ResponseBodyLength
        switch head.framing {
        case .none: length = .none
        case .contentLength(let n): length = .known(n)
        case .chunked, .untilClose: length = .unknown
        }
        if attemptShouldRetry(status: head.status.code) { return }
        if let policy = cluster?.cluster.sticky, policy.cookieName != nil { addStickyCookie(&head, policy) }
        record.status = head.status.code
        if responseHooked {
            filterUpstreamResponseHead(head, bodyLength: length)
            return
        }
        responseStarted = true
        if head.connectionNominatesFields {
            // Rare: Connection names extra fields to drop, so build the fields and strip them.
            var response = head.response
            HopByHop.strip(&response.headerFields)
            responder.sendResponseHead(response, bodyLength: length)
        } else {
            // The common case: the head goes out as the bytes it came in, without building fields.
            responder.sendUpstreamResponseHead(head, bodyLength: length)
        }
    }

    public func upstreamResponseBody(_ body: ByteBuffer) {
        guard let responder else { return }
        if responseHooked {
            queueResponseBody(body)
            return
        }
        record.bytesOut += Int64(body.readableBytes)
        // Backpressure needs no check here: a write that fills the client socket's buffer fires
        // `downstreamWritabilityChanged(false)` at once, which pauses the upstream reads.
        responder.sendResponseBody(body)
    }

    public func upstreamReadComplete() { responder?.flush() }

    /// The upstream accepted the WebSocket handshake: the client gets the 101 and both connections become
    /// a byte tunnel. The exchange is over, but the request's line is logged when the tunnel closes
    /// (`tunnelClosed`), with its duration and the bytes that went through; until then it counts as active.
    public func upstreamSwitchedProtocols(_ head: HTTP1ResponseHead, upstream: TunnelEnd, leftover: ByteBuffer) -> TunnelEnd? {
        guard let responder, !isFinished else { return nil }
        guard let peer = responder.startTunnel(head, upstream: upstream, upstreamLeftover: leftover) else {
            // The client connection is closing: the 101 never reached it.
            fail(.downstreamClosed)
            return nil
        }
        endAttempt(nil)
        record.status = 101
        record.bytesOut += Int64(leftover.readableBytes)
        state = .finished
        loop.metrics.listeners[listener.index].websocketUpgrades += 1
        loop.metrics.listeners[listener.index].activeTunnels += 1
        // The head's bytes are not needed any more; they pin the client connection's receive buffer.
        if filters.isEmpty { rawRequestFields = nil }
        return peer
    }

    /// Bytes through the tunnel: from the client (`bytes_in`) and from the upstream (`bytes_out`).
    public func countTunnelBytes(fromClient: Int = 0, fromUpstream: Int = 0) {
        record.bytesIn += Int64(fromClient)
        record.bytesOut += Int64(fromUpstream)
    }

    /// The tunnel closed (either side): now the request is logged.
    public func tunnelClosed() {
        if !logged { loop.metrics.listeners[listener.index].activeTunnels -= 1 }
        finish(status: 101, closeConnection: true)
    }

    public func upstreamResponseEnd(_ trailers: HTTPFields?) {
        guard let responder else { return }
        endAttempt(nil)
        if responseHooked {
            // The exchange is complete; what is left belongs to the response filters and the client.
            state = .completingResponse
            queueResponseEnd(trailers)
            return
        }
        // The exchange is complete (the connection may already be back in the pool): a client that
        // disconnects during the final flush must not fail the stream or touch that connection.
        state = .finished
        responder.sendResponseEnd(trailers)
        responder.flush()
        // A response may end before its request body (an early 4xx, or a backend that ignores bodies).
        // The upstream connection is not reused then; the client side drains the rest of the body
        // (bounded) so its connection can stay open, as nginx and Envoy do.
        finish(status: record.status, closeConnection: false)
    }

    public func upstreamFailed(_ error: UpstreamError) {
        if case .connectionReset(beforeResponse: true) = error, case .forwarding(let connection) = state,
           connection.resetIsSafeToRetry, staleRetries < Self.maxStaleRetries, requestFraming == .none, Self.isIdempotent(storedRequest.method),
           let endpoint {
            // The server closed a pooled keep-alive connection just as we reused it, or refused an HTTP/2
            // stream unprocessed. Nothing reached the application, so one retry on a new connection is
            // safe (RFC 9110 §9.2.2, RFC 9113 §8.7). It says nothing about the endpoint and is not a
            // policy retry.
            staleRetries += 1
            state = .waitingForUpstream
            endAttempt(nil)
            record.upstreamAttempts -= 1
            connect(to: endpoint, fresh: true)
            return
        }
        attemptFailed(error)
    }

    public func upstreamWritabilityChanged(_ isWritable: Bool) {
        if !isWritable {
            pauseRequestBody()
        } else if requestInputBytes <= Self.maxPendingBodyBytes {
            resumeRequestBody()
        }
    }

    /// An HTTP/1 retry goes to a fresh connection, which is never "reused", so it happens once. HTTP/2
    /// streams refused by a GOAWAY may race the next connection's GOAWAY too: a second try is allowed.
    static let maxStaleRetries = 2

    static func isIdempotent(_ method: HTTPRequest.Method) -> Bool {
        switch method {
        case .get, .head, .options, .trace, .put, .delete: true
        default: false
        }
    }
}

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
