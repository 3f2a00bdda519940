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
    private enum State {
        /// Routing is done; an endpoint is being picked or connected. Request body parts wait here.
        case waitingForUpstream
        case forwarding(HTTP1UpstreamConnection)
        case finished
    }

    /// Request body bytes held while the upstream connection is being set up, before the client is paused.
    static let maxPendingBodyBytes = 64 * 1024

    private let loop: LoopContext
    private let listener: ListenerRuntime
    private var responder: DownstreamResponder?
    private var request: HTTPRequest
    private let requestFraming: HTTP1BodyFraming
    private let stripConnectionFields: Bool
    private var edits: ForwardingEdits?
    private var state: State = .waitingForUpstream
    private var route: Route?
    private var cluster: ClusterLoopState?
    private var endpoint: Endpoint?
    private var requestComplete: Bool
    private var responseStarted = false
    private var pendingBody: [ByteBuffer] = []
    private var pendingBodyBytes = 0
    private var pendingEnd = false
    private var pendingTrailers: HTTPFields?
    private var requestBodyPaused = false
    private var retriedStaleConnection = false
    private var logged = false
    private var record: AccessLogRecord
    private let started: NIODeadline
    private var deadline = NIODeadline.distantFuture
    private var upstreamStarted: NIODeadline?

    /// - Parameters:
    ///   - request: The request as received; authority and path are what routing sees.
    ///   - framing: How its body is delimited: `.none`, a known length, or chunked (unknown length).
    ///   - hasConnectionSpecificFields: The request may carry hop-by-hop fields or `Expect` to strip;
    ///     false lets the common request skip that pass.
    public init(request: HTTPRequest, framing: HTTP1BodyFraming, hasConnectionSpecificFields: Bool = true, protocolName: String,
                downstreamAddress: String, downstreamL4Address: String? = nil, tlsClientSubject: String? = nil,
                listener: ListenerRuntime, loop: LoopContext, responder: DownstreamResponder) {
        self.loop = loop
        self.listener = listener
        self.responder = responder
        self.request = request
        self.requestFraming = framing
        self.stripConnectionFields = hasConnectionSpecificFields
        self.requestComplete = framing == .none
        self.started = .now()
        self.record = AccessLogRecord(startUnixNanos: Self.unixNanosNow(), listener: listener.name,
                                      downstreamAddress: downstreamAddress, protocolName: protocolName, status: 0)
        record.downstreamL4Address = downstreamL4Address
        record.tlsClientSubject = tlsClientSubject
        record.method = request.method.rawValue
        record.authority = request.authority
        record.path = request.path
    }

    // MARK: - From the client side

    /// Routes the request and starts the upstream exchange. Call once, right after init.
    public func start() {
        let requestID = request.headerFields.firstValue(.xRequestID).flatMap { Self.isAcceptableRequestID($0) ? $0 : nil } ?? loop.requestIDs.next()
        record.requestID = requestID

        guard let route = listener.routes.match(authority: request.authority, path: request.path ?? "/") else {
            fail(.noRoute)
            return
        }
        self.route = route
        record.upstreamCluster = route.clusterName
        if let max = route.maxBodyBytes, case .contentLength(let length) = requestFraming, length > max {
            fail(.bodyTooLarge)
            return
        }
        prepareUpstreamRequest(requestID: requestID)
        if let requestTimeout = route.requestTimeout {
            deadline = started + requestTimeout
            loop.requestDeadlines.add(self)
        }
        let cluster = loop.clusters[route.clusterIndex]
        self.cluster = cluster
        guard let endpoint = cluster.pickEndpoint() else {
            fail(.upstream(.noHealthyEndpoint))
            return
        }
        connect(to: endpoint, fresh: false)
    }

    public func receiveBody(_ body: ByteBuffer) {
        record.bytesIn += Int64(body.readableBytes)
        if let max = route?.maxBodyBytes, record.bytesIn > max {
            fail(.bodyTooLarge)
            return
        }
        switch state {
        case .waitingForUpstream:
            pendingBody.append(body)
            pendingBodyBytes += body.readableBytes
            if pendingBodyBytes > Self.maxPendingBodyBytes { pauseRequestBody() }
        case .forwarding(let connection):
            connection.sendBody(body)
        case .finished:
            break
        }
    }

    public func receiveEnd(_ trailers: HTTPFields?) {
        requestComplete = true
        switch state {
        case .waitingForUpstream:
            pendingEnd = true
            pendingTrailers = trailers
        case .forwarding(let connection):
            connection.sendEnd(trailers: trailers)
        case .finished:
            break
        }
    }

    /// The client's reads of this tick are done: push what was written upstream.
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

    public var isFinished: Bool {
        if case .finished = state { return true }
        return false
    }

    // MARK: - Upstream exchange

    private func prepareUpstreamRequest(requestID: String) {
        let clientIP = Self.ipOnly(record.downstreamAddress)
        var forwardedFor = clientIP
        if request.headerFields.contains(.xForwardedFor), let received = request.headerFields[.xForwardedFor] {
            forwardedFor = "\(received), \(clientIP)"
        }
        var strip = stripConnectionFields
        var teTrailers = false
        if strip {
            teTrailers = HopByHop.asksForTrailers(request.headerFields)
            if HopByHop.connectionNominatesFields(request.headerFields) {
                // Rare: the client names extra fields to drop; remove them (and the rest) structurally.
                HopByHop.strip(&request.headerFields)
                request.headerFields[.expect] = nil
                strip = false
            }
        }
        // The other edits are applied while the head is written: no copy or search of the fields.
        edits = ForwardingEdits(requestID: requestID, forwardedFor: forwardedFor, forwardedProto: listener.scheme,
                                stripConnectionFields: strip, chunked: requestFraming == .chunked, teTrailers: teTrailers)
    }

    private func connect(to endpoint: Endpoint, fresh: Bool) {
        guard let cluster else { return }
        self.endpoint = endpoint
        record.upstreamAddress = endpoint.label
        if upstreamStarted == nil { upstreamStarted = .now() }
        cluster.acquire(endpoint, fresh: fresh) { [self] result in
            switch result {
            case .success(let connection):
                guard case .waitingForUpstream = state else {
                    // The stream ended while connecting; the unused connection goes back to the pool.
                    cluster.returnUnused(connection)
                    return
                }
                startExchange(on: connection)
            case .failure(let error):
                fail(.upstream(error))
            }
        }
    }

    private func startExchange(on connection: HTTP1UpstreamConnection) {
        state = .forwarding(connection)
        // HTTP/1.0 clients may omit Host, but an HTTP/1.1 upstream requires one: use the endpoint's
        // address, as nginx does with its default `proxy_set_header Host $proxy_host`.
        if request.authority == nil { request.authority = connection.endpoint.label }
        connection.sendRequestHead(request, edits: edits!, framing: requestFraming, delegate: self)
        for body in pendingBody { connection.sendBody(body) }
        if pendingEnd {
            connection.sendEnd(trailers: pendingTrailers)
        } else {
            connection.flush()
        }
        if requestBodyPaused && connection.isWritable { resumeRequestBody() }
        // The client socket may already be full (a pipelining client that does not read): its
        // writability event fired before this stream existed, so start paused.
        if let responder, !responder.isWritable { connection.pauseReading() }
    }

    private func pauseRequestBody() {
        guard !requestBodyPaused, !requestComplete else { return }
        requestBodyPaused = true
        responder?.pauseRequestBody()
    }

    private func resumeRequestBody() {
        guard requestBodyPaused else { return }
        requestBodyPaused = false
        pendingBody = []
        pendingBodyBytes = 0
        responder?.resumeRequestBody()
    }

    // MARK: - Ending

    /// Turns any failure into the client's answer, in one place: a local reply if nothing was sent
    /// yet, else an aborted response.
    private func fail(_ error: GatewayError) {
        if case .finished = state { return }
        if case .forwarding(let connection) = state { connection.abort() }
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
        let reply = LocalReply(error)
        responseStarted = true
        responder.sendResponseHead(reply.response, bodyLength: .known(Int64(reply.body.readableBytes)))
        if request.method != .head {
            record.bytesOut += Int64(reply.body.readableBytes)
            responder.sendResponseBody(reply.body)
        }
        responder.sendResponseEnd(nil)
        responder.flush()
    }

    private func finish(status: Int, closeConnection: Bool) {
        // Exactly one access-log line, however the ending was reached.
        guard !logged else { return }
        logged = true
        state = .finished
        pendingBody = []
        let now = NIODeadline.now()
        record.status = status
        record.durationNanos = (now - started).nanoseconds
        if let upstreamStarted { record.upstreamNanos = (now - upstreamStarted).nanoseconds }
        loop.accessLog.append(record)
        let responder = self.responder
        self.responder = nil
        responder?.streamFinished(closeConnection: closeConnection)
    }

    // MARK: - Helpers

    static func isAcceptableRequestID(_ value: String) -> Bool {
        let utf8 = value.utf8
        return !utf8.isEmpty && utf8.count <= 128 && utf8.allSatisfy { $0 > 0x20 && $0 < 0x7F }
    }

    static func ipOnly(_ address: String) -> String {
        if address.hasPrefix("["), let close = address.firstIndex(of: "]") {
            return String(address[address.index(after: address.startIndex)..<close])
        }
        if let colon = address.lastIndex(of: ":") { return String(address[..<colon]) }
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
        if now < deadline { return true }
        fail(.requestTimeout)
        return false
    }
}

extension ProxyStream: UpstreamResponseDelegate {
    public func upstreamResponseHead(_ head: HTTP1ResponseHead) {
        guard let responder else { return }
        let length: ResponseBodyLength
        switch head.framing {
        case .none: length = .none
        case .contentLength(let n): length = .known(n)
        case .chunked, .untilClose: length = .unknown
        }
        responseStarted = true
        record.status = head.status.code
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
        record.bytesOut += Int64(body.readableBytes)
        // Backpressure needs no check here: a write that fills the client socket's buffer fires
        // `downstreamWritabilityChanged(false)` at once, which pauses the upstream reads.
        responder.sendResponseBody(body)
    }

    public func upstreamReadComplete() { responder?.flush() }

    public func upstreamResponseEnd(_ trailers: HTTPFields?) {
        guard let responder else { return }
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
           connection.isReused, !retriedStaleConnection, requestFraming == .none, Self.isIdempotent(request.method),
           let endpoint {
            // The server closed a pooled keep-alive connection just as we reused it. Nothing reached the
            // application, so one retry on a new connection is safe (RFC 9110 §9.2.2).
            retriedStaleConnection = true
            state = .waitingForUpstream
            connect(to: endpoint, fresh: true)
            return
        }
        fail(.upstream(error))
    }

    public func upstreamWritabilityChanged(_ isWritable: Bool) {
        if isWritable { resumeRequestBody() } else { pauseRequestBody() }
    }

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
