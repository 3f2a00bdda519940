import GatewayCore
import GatewayFilterAPI
import GatewayTLS
import Logging
import HTTP1
import HTTPTypes
import NIOCore

/// Serves HTTP/1.1 on one client connection: parses requests with the strict parser, runs each as a
/// `ProxyStream`, writes responses with HTTP/1.1 framing, and enforces the read timeouts.
///
/// Requests are handled one at a time. A pipelined request stays unparsed in `received` until the
/// response before it is complete, which answers pipelines in order with no queue of parsed requests;
/// reads stop once the unparsed backlog passes the head-size limit, so a client cannot make it grow.
public final class HTTP1ServerConnectionHandler: ChannelDuplexHandler {
    public typealias InboundIn = ByteBuffer
    public typealias OutboundIn = ByteBuffer
    public typealias OutboundOut = ByteBuffer

    private enum ResponseFraming {
        case none
        case contentLength
        case chunked
        /// HTTP/1.0 client and a body of unknown length: the end of the body is the end of the connection.
        case closeDelimited
    }

    private let listener: ListenerRuntime
    private let loop: LoopContext
    private var context: ChannelHandlerContext?
    private var parser: HTTP1Parser
    private var received: ByteBuffer?
    private var downstreamAddress = "unknown"
    private var downstreamIP = "unknown"

    private var stream: ProxyStream?
    private var requestIsHEAD = false
    private var requestMinorVersion: UInt8 = 1
    private var requestKeepAlive = true
    private var responseFraming = ResponseFraming.none
    private var closeAfterResponse = false
    private var closing = false
    /// Shutting down: the response in progress is the last one.
    private var draining = false

    private var requestBodyPaused = false
    /// Draining the rest of a request body whose response is already complete.
    private var discardingRequestBody = false
    private var discardedBytes = 0
    /// Beyond this, draining is not worth it: the connection is closed instead.
    static let maxDiscardedBodyBytes = 1 << 20
    /// How long a closing connection may take to flush its last response.
    static let closeGracePeriod = TimeAmount.seconds(5)
    private var readPending = false
    /// Something was written since the last flush.
    private var hasUnflushedWrites = false
    /// A response head not yet written (in the loop's `responseHeadBuffer`): a small first body part
    /// joins it, so a small response goes out as one buffer (one trip through the pipeline, not two to four).
    private var pendingHead: ByteBuffer?
    /// Body parts up to this size are copied into a pending head rather than written after it, while the
    /// whole stays under `maxPendingHeadBytes`.
    static let maxBodyJoinedToHead = 4096
    static let maxPendingHeadBytes = 16 * 1024
    private var processing = false
    private var reprocess = false

    private var readTimer: ReadTimer
    /// After a WebSocket handshake: the backend's connection, which bytes now go to and come from.
    private var tunnelPeer: TunnelEnd?
    private var tunneling = false

    /// What the TLS handshake established (SNI, verified client certificate). Boxed, like
    /// `proxiedClient`: held inline, the two would cost every idle plain connection about 90 bytes.
    private var tlsBox: ConnectionBox<DownstreamTLS>?
    private var tls: DownstreamTLS? { tlsBox?.value }

    /// The client named by a PROXY protocol header, and the L4 peer it replaced.
    private let proxiedClientBox: ConnectionBox<(client: String, l4: String)>?
    private var proxiedClient: (client: String, l4: String)? { proxiedClientBox?.value }

    public init(listener: ListenerRuntime, loop: LoopContext, proxiedClient: (client: String, l4: String)? = nil) {
        self.listener = listener
        self.loop = loop
        self.proxiedClientBox = proxiedClient.map(ConnectionBox.init)
        // Field lines stay bytes: a request that meets no filter is forwarded without building its fields.
        self.parser = HTTP1Parser(role: .server, limits: listener.parserLimits, keepsRequestFieldsRaw: true)
        self.readTimer = ReadTimer(headerRead: listener.headerReadTimeout, bodyRead: listener.bodyReadTimeout, idle: listener.idleTimeout)
    }

    // MARK: - Channel events

    public func handlerAdded(context: ChannelHandlerContext) {
        self.context = context
        if let proxiedClient {
            downstreamAddress = proxiedClient.client
        } else if let remote = context.channel.remoteAddress {
            downstreamAddress = Self.describe(remote)
        }
        downstreamIP = ProxyStream.ipOnly(downstreamAddress)
        readTimer.update(.idle, owner: self, sweeper: loop.connectionDeadlines)
        loop.connections.add(self)
        loop.metrics.listeners[listener.index].connectionsAccepted += 1
        loop.metrics.listeners[listener.index].activeConnections += 1
    }

    public func handlerRemoved(context: ChannelHandlerContext) {
        loop.connections.remove(self)
        loop.metrics.listeners[listener.index].activeConnections -= 1
        readTimer.cancel()
        self.context = nil
    }

    public func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        readTimer.noteRead()
        if tunneling {
            let bytes = unwrapInboundIn(data)
            stream?.countTunnelBytes(fromClient: bytes.readableBytes)
            tunnelPeer?.tunnelWrite(bytes)
            return
        }
        received.appendReceived(unwrapInboundIn(data))
        process(flushUpstream: false)
    }

    public func channelReadComplete(context: ChannelHandlerContext) {
        if tunneling {
            tunnelPeer?.tunnelFlush()
            return
        }
        stream?.downstreamReadComplete()
    }

    public func userInboundEventTriggered(context: ChannelHandlerContext, event: Any) {
        if let handshake = event as? TLSHandshakeCompleted {
            tlsBox = ConnectionBox(DownstreamTLS(handshake))
            loop.metrics.listeners[listener.index].tlsHandshakes += 1
        }
        context.fireUserInboundEventTriggered(event)
    }

    public func read(context: ChannelHandlerContext) {
        if tunneling {
            // The backend is not taking the bytes as fast as the client sends them.
            if let tunnelPeer, !tunnelPeer.tunnelIsWritable { readPending = true } else { context.read() }
            return
        }
        if requestBodyPaused || backlogIsFull {
            readPending = true
        } else {
            context.read()
        }
    }

    public func channelWritabilityChanged(context: ChannelHandlerContext) {
        if tunneling {
            if context.channel.isWritable { tunnelPeer?.tunnelResume() }
            return
        }
        if let stream {
            stream.downstreamWritabilityChanged(context.channel.isWritable)
        } else if context.channel.isWritable {
            // A pipelined request may have been held back while the client was not reading.
            process()
        }
    }

    public func channelInactive(context: ChannelHandlerContext) {
        readTimer.cancel()
        closing = true
        if let tunnelPeer {
            self.tunnelPeer = nil
            tunnelPeer.tunnelClose()
        }
        if tunneling { stream?.tunnelClosed() }
        if let stream, !stream.isFinished { stream.downstreamClosed() }
        stream = nil
    }

    public func errorCaught(context: ChannelHandlerContext, error: any Error) {
        if let tlsError = error as? TLSConnectionError {
            if tls == nil { loop.metrics.listeners[listener.index].tlsHandshakeFailures += 1 }
            Self.logger.warning("TLS failure", metadata: ["listener": "\(listener.name)", "client": "\(downstreamAddress)", "reason": "\(tlsError.reason)"])
        }
        // Socket errors (reset by peer and the like): the connection is gone either way.
        context.close(promise: nil)
    }

    private static let logger = Logger(label: "portcullis.edge")

    // MARK: - Parsing

    /// Unparsed bytes beyond which no more are read: a pipelined head may take up to the head limit; body
    /// bytes wait here only while the stream has paused the body, and one read cycle may bring several
    /// socket buffers at once, so without this bound each pause-resume round would add to the backlog.
    private var backlogIsFull: Bool {
        let unparsed = received?.readableBytes ?? 0
        return parser.isInBody ? unparsed > Self.maxUnparsedBodyBytes : unparsed > listener.parserLimits.maxHeadBytes
    }

    static let maxUnparsedBodyBytes = 64 * 1024

    /// Parses what is buffered. `flushUpstream` is for calls outside a read: within a read, the
    /// upstream writes are flushed at read-complete; elsewhere (resuming after backpressure, the next
    /// pipelined request) nothing else would flush them.
    private func process(flushUpstream: Bool = true) {
        if processing {
            reprocess = true
            return
        }
        processing = true
        defer { processing = false }
        repeat {
            reprocess = false
            parseAvailable()
        } while reprocess && !closing
        updateReadTimer()
        if flushUpstream { stream?.downstreamReadComplete() }
    }

    private func parseAvailable() {
        guard var buffer = received else { return }
        received = nil
        defer { if !closing && buffer.readableBytes > 0 { received = buffer } }
        // The parser writes a request head here; the stream takes what it needs from it in place.
        var head: HTTP1RequestHead? = nil
        while !closing {
            // One request at a time: the next pipelined head waits until this response is done, and
            // until the client reads what it was sent (else responses would pile up in memory).
            if !parser.isInBody && parser.isBetweenMessages {
                if stream != nil || !(context?.channel.isWritable ?? false) { return }
            }
            if requestBodyPaused { return }
            let event: HTTP1Step?
            do {
                event = try parser.step(&buffer, head: &head)
            } catch {
                rejectMalformed(error)
                return
            }
            guard let event else { return }
            switch event {
            case .requestHead:
                startStream(&head)
                head = nil
            case .body(let body):
                if discardingRequestBody {
                    discardedBytes += body.readableBytes
                    if discardedBytes > Self.maxDiscardedBodyBytes {
                        closeAfterFlush()
                        return
                    }
                } else {
                    stream?.receiveBody(body)
                }
            case .end(let trailers):
                if discardingRequestBody {
                    discardingRequestBody = false
                } else {
                    stream?.receiveEnd(trailers)
                }
            case .responseHead:
                preconditionFailure("a server-role parser never yields response heads")
            }
        }
    }

    /// `parsed` is the parser's head, read in place (`parsed!.field`): bound or passed as a value, the
    /// ~170-byte head is copied whole, with a `memmove`, once or twice more per request.
    private func startStream(_ parsed: inout HTTP1RequestHead?) {
        // A new exchange: any header deadline belonged to the head just parsed.
        readTimer.update(.none, owner: self, sweeper: loop.connectionDeadlines)
        requestIsHEAD = parsed!.request.method == .head
        requestMinorVersion = parsed!.minorVersion
        requestKeepAlive = parsed!.keepAlive
        closeAfterResponse = draining
        let stream = ProxyStream(request: parsed!.request, rawFields: parsed!.rawFields, framing: parsed!.framing, hasConnectionSpecificFields: parsed!.hasConnectionSpecificFields,
                                 protocolName: parsed!.minorVersion == 1 ? "HTTP/1.1" : "HTTP/1.0",
                                 downstreamAddress: downstreamAddress, downstreamIP: downstreamIP, downstreamL4Address: proxiedClient?.l4,
                                 tls: tls, listener: listener,
                                 loop: loop, responder: self)
        if parsed!.hasConnectionSpecificFields, parsed!.minorVersion == 1, parsed!.request.method == .get, parsed!.framing == .none,
           let raw = parsed!.rawFields, WebSocketUpgrade.isRequested(raw) {
            stream.requestsWebSocket = true
        }
        self.stream = stream
        stream.start()
        if parsed!.expectsContinue && parsed!.framing != .none && !stream.isFinished, let context {
            // RFC 9110 §10.1.1: the client waits for this before sending its body.
            var interim = context.channel.allocator.buffer(capacity: 32)
            interim.writeStaticString("HTTP/1.1 100 Continue\r\n\r\n")
            context.writeAndFlush(wrapOutboundOut(interim), promise: nil)
        }
    }

    private func rejectMalformed(_ error: HTTP1ParseError) {
        if discardingRequestBody {
            // The request was already answered; its leftover body is bad: just close.
            closeAfterFlush()
            return
        }
        if let stream, !stream.isFinished {
            stream.requestMalformed(error)
            return
        }
        // No stream yet: the head itself was bad. Answer, log one line, close.
        let gatewayError = GatewayError.malformed(error)
        var record = AccessLogRecord(startUnixNanos: ProxyStream.unixNanosNow(), listener: listener.name,
                                     downstreamAddress: downstreamAddress, protocolName: "HTTP/1.1", status: error.status)
        record.errorSource = .downstream
        record.error = error.reason
        let reply = LocalReply(gatewayError)
        record.bytesOut = Int64(reply.body.readableBytes)
        loop.accessLog.append(&record)
        requestMinorVersion = 1
        requestIsHEAD = false
        closeAfterResponse = true
        sendResponseHead(reply.response, bodyLength: .known(Int64(reply.body.readableBytes)))
        sendResponseBody(reply.body)
        closeAfterFlush()
    }

    // MARK: - Timeouts

    private func updateReadTimer() {
        guard context != nil, !closing else { return }
        let kind: ReadTimer.Kind
        if discardingRequestBody {
            kind = .bodyRead
        } else if let stream, !stream.isFinished {
            kind = parser.isInBody && !requestBodyPaused ? .bodyRead : .none
        } else if (received?.readableBytes ?? 0) > 0 || !parser.isBetweenMessages {
            kind = .headerRead
        } else {
            kind = .idle
        }
        readTimer.update(kind, owner: self, sweeper: loop.connectionDeadlines)
    }

    private func readTimedOut(_ kind: ReadTimer.Kind) {
        guard !closing else { return }
        switch kind {
        case .idle, .tunnel:
            context?.close(promise: nil)
        case .headerRead:
            var record = AccessLogRecord(startUnixNanos: ProxyStream.unixNanosNow(), listener: listener.name,
                                         downstreamAddress: downstreamAddress, protocolName: "HTTP/1.1", status: 408)
            record.errorSource = .downstream
            record.error = GatewayError.headerReadTimeout.reason
            loop.accessLog.append(&record)
            let reply = LocalReply(.headerReadTimeout)
            closeAfterResponse = true
            requestIsHEAD = false
            sendResponseHead(reply.response, bodyLength: .known(Int64(reply.body.readableBytes)))
            sendResponseBody(reply.body)
            closeAfterFlush()
        case .bodyRead:
            if discardingRequestBody {
                context?.close(promise: nil)
            } else {
                stream?.requestBodyTimedOut()
            }
        case .none:
            break
        }
    }

    private func closeAfterFlush() {
        guard let context, !closing else { return }
        closing = true
        readTimer.cancel()
        let channel = context.channel
        writePendingHead(context)
        // Over TLS, close_notify joins the last response in one write.
        if tls != nil { context.triggerUserOutboundEvent(TLSCloseNotifyAfterFlush(), promise: nil) }
        // Usually the last bytes go out at once and the callback closes right here; only a client that
        // is not reading leaves the flush pending, and then a deadline bounds how long it may keep it.
        var flushed = false
        var deadline: Scheduled<Void>?
        context.writeAndFlush(wrapOutboundOut(channel.allocator.buffer(capacity: 0))).assumeIsolated().whenComplete { _ in
            flushed = true
            deadline?.cancel()
            channel.close(promise: nil)
        }
        if !flushed {
            deadline = channel.eventLoop.scheduleTask(in: Self.closeGracePeriod) { channel.close(promise: nil) }
        }
    }

    public static func describe(_ address: SocketAddress) -> String {
        switch address {
        case .v4(let v4): return "\(address.ipAddress ?? v4.host):\(address.port ?? 0)"
        case .v6: return "[\(address.ipAddress ?? "")]:\(address.port ?? 0)"
        case .unixDomainSocket: return "unix"
        }
    }
}

extension HTTP1ServerConnectionHandler: SweepTarget {
    public func sweep(now: NIODeadline) -> Bool {
        if let expired = readTimer.expired(now: now) { readTimedOut(expired) }
        return !readTimer.isCancelled
    }
}

extension HTTP1ServerConnectionHandler: DrainableConnection {
    public func drain(closeIdle: Bool) {
        guard !closing else { return }
        if tunneling {
            // A tunnel has no request boundary to stop at: at the drain's end it is cut, like Envoy's.
            if closeIdle { closeAfterFlush() }
            return
        }
        let idle = stream == nil && parser.isBetweenMessages && (received?.readableBytes ?? 0) == 0
        if draining && !(closeIdle && idle) { return }
        draining = true
        if idle && closeIdle {
            // Idle: nothing to finish.
            closeAfterFlush()
        } else {
            // The response in progress says `Connection: close` (if its head is not out yet) and is the last.
            closeAfterResponse = true
        }
    }
}

extension HTTP1ServerConnectionHandler: DownstreamResponder {
    public func sendUpstreamResponseHead(_ head: HTTP1ResponseHead, bodyLength: ResponseBodyLength) {
        guard context != nil, !closing else { return }
        decideResponseFraming(code: head.status.code, bodyLength: bodyLength)
        var buffer = loop.responseHeadBuffer
        loop.responseHeadBuffer = ByteBuffer()
        buffer.clear(minimumCapacity: head.rawFields.readableBytes + 96)
        let dropLength = responseFraming == .chunked || responseFraming == .closeDelimited
        buffer.writeHTTP1ResponseHead(forwarding: head, stripHopByHop: head.hasConnectionSpecificFields, dropLength: dropLength,
                                      extraFields: framingAndConnectionFields)
        pendingHead = buffer
    }

    /// Writes the pending head, if any, before anything else goes out.
    private func writePendingHead(_ context: ChannelHandlerContext, andFlush: Bool = false) {
        guard let head = pendingHead else { return }
        pendingHead = nil
        if andFlush {
            context.writeAndFlush(wrapOutboundOut(head), promise: nil)
        } else {
            hasUnflushedWrites = true
            context.write(wrapOutboundOut(head), promise: nil)
        }
        loop.responseHeadBuffer = head
    }

    /// Chooses how the response body is delimited on this connection, and whether it closes after.
    private func decideResponseFraming(code: Int, bodyLength: ResponseBodyLength) {
        if requestIsHEAD || code == 204 || code == 304 || (code >= 100 && code < 200) || bodyLength == .none {
            responseFraming = .none
        } else if case .known = bodyLength {
            responseFraming = .contentLength
        } else if requestMinorVersion >= 1 {
            responseFraming = .chunked
        } else {
            responseFraming = .closeDelimited
            closeAfterResponse = true
        }
        if !requestKeepAlive { closeAfterResponse = true }
    }

    /// The framing and connection lines this hop adds to a forwarded head.
    private var framingAndConnectionFields: StaticString? {
        switch (responseFraming == .chunked, closeAfterResponse) {
        case (true, true): "Transfer-Encoding: chunked\r\nConnection: close\r\n"
        case (true, false): requestMinorVersion == 0 ? "Transfer-Encoding: chunked\r\nConnection: keep-alive\r\n" : "Transfer-Encoding: chunked\r\n"
        case (false, true): "Connection: close\r\n"
        case (false, false): requestMinorVersion == 0 ? "Connection: keep-alive\r\n" : nil
        }
    }

    public func sendResponseHead(_ response: HTTPResponse, bodyLength: ResponseBodyLength) {
        guard let context, !closing else { return }
        var response = response
        let code = response.status.code
        if requestIsHEAD || code == 204 || code == 304 || (code >= 100 && code < 200) || bodyLength == .none {
            responseFraming = .none
        } else if case .known(let length) = bodyLength {
            responseFraming = .contentLength
            // Usually the upstream's own Content-Length, already right: writing it again would copy the fields.
            if response.headerFields.firstValue(.contentLength).flatMap(Int64.init) != length {
                response.headerFields[.contentLength] = String(length)
            }
        } else if requestMinorVersion >= 1 {
            responseFraming = .chunked
            response.headerFields[.contentLength] = nil
            response.headerFields[.transferEncoding] = "chunked"
        } else {
            responseFraming = .closeDelimited
            closeAfterResponse = true
        }
        if !requestKeepAlive { closeAfterResponse = true }
        if closeAfterResponse {
            response.headerFields[.connection] = "close"
        } else if requestMinorVersion == 0 {
            response.headerFields[.connection] = "keep-alive"
        }
        var buffer = context.channel.allocator.buffer(capacity: 256)
        buffer.writeHTTP1ResponseHead(response)
        write(context, wrapOutboundOut(buffer))
    }

    public func sendResponseBody(_ body: ByteBuffer) {
        guard let context, !closing, body.readableBytes > 0 else { return }
        // Only the head's size is read here: binding the buffer itself would keep a second reference to
        // its storage, and the write below would then copy it (two allocations and a copy per response).
        if let pendingBytes = pendingHead?.readableBytes, body.readableBytes <= Self.maxBodyJoinedToHead,
           pendingBytes + body.readableBytes <= Self.maxPendingHeadBytes, responseFraming != .none {
            // Joined, and still held: the flush that ends this upstream read writes and flushes it in one
            // trip through the pipeline (with the small parts that follow it in the same read).
            if responseFraming == .chunked { pendingHead!.writeChunkHeader(size: body.readableBytes) }
            pendingHead!.writeImmutableBuffer(body)
            if responseFraming == .chunked { pendingHead!.writeStaticString("\r\n") }
            return
        }
        switch responseFraming {
        case .none:
            return
        case .contentLength, .closeDelimited:
            write(context, wrapOutboundOut(body))
        case .chunked:
            var header = context.channel.allocator.buffer(capacity: 16)
            header.writeChunkHeader(size: body.readableBytes)
            write(context, wrapOutboundOut(header))
            write(context, wrapOutboundOut(body))
            write(context, wrapOutboundOut(Self.crlf))
        }
    }

    private static let crlf = ByteBuffer(string: "\r\n")

    public func sendResponseEnd(_ trailers: HTTPFields?) {
        guard let context, !closing, responseFraming == .chunked else { return }
        if pendingHead != nil {
            pendingHead!.writeLastChunk(trailers: trailers)
            writePendingHead(context)
            return
        }
        var last = context.channel.allocator.buffer(capacity: 8)
        last.writeLastChunk(trailers: trailers)
        write(context, wrapOutboundOut(last))
    }

    public func flush() {
        // Several parties ask for a flush per response (the upstream's read-complete, the response end,
        // the stream's finish); only the first after a write has anything to do.
        guard let context else { return }
        // The response is complete and the connection closes after it: `streamFinished` follows at once
        // and flushes it together with the close (over TLS, with close_notify in the same write).
        if closeAfterResponse, let stream, stream.isFinished { return }
        if !hasUnflushedWrites && pendingHead != nil {
            // The usual small response: head and body leave in one write-and-flush.
            writePendingHead(context, andFlush: true)
            return
        }
        writePendingHead(context)
        guard hasUnflushedWrites else { return }
        hasUnflushedWrites = false
        context.flush()
    }

    private func write(_ context: ChannelHandlerContext, _ data: NIOAny) {
        writePendingHead(context)
        hasUnflushedWrites = true
        context.write(data, promise: nil)
    }

    public var isWritable: Bool { context?.channel.isWritable ?? false }

    public func pauseRequestBody() {
        requestBodyPaused = true
        updateReadTimer()
    }

    public func resumeRequestBody() {
        guard requestBodyPaused else { return }
        requestBodyPaused = false
        // What is already buffered goes first; the socket is read again only if that did not pause the
        // body once more, and the backlog has room.
        process()
        if readPending && !requestBodyPaused && !backlogIsFull, let context {
            readPending = false
            context.read()
        }
    }

    public func abortResponse() {
        closing = true
        readTimer.cancel()
        context?.close(promise: nil)
    }

    public func streamFinished(closeConnection: Bool) {
        stream = nil
        if tunneling { return }
        // Whatever paused the request body belonged to the finished stream.
        requestBodyPaused = false
        if closeConnection || closeAfterResponse {
            closeAfterFlush()
            return
        }
        if parser.isInBody {
            // The response is complete but the client is still sending its body: read and drop the
            // rest so the connection can carry the next request.
            discardingRequestBody = true
            discardedBytes = 0
        }
        flush()
        if readPending && !backlogIsFull, let context {
            readPending = false
            context.read()
        }
        process()
    }
}

// MARK: - WebSocket tunnel

extension HTTP1ServerConnectionHandler: TunnelEnd {
    public func startTunnel(_ head: HTTP1ResponseHead, upstream: TunnelEnd, upstreamLeftover: ByteBuffer) -> TunnelEnd? {
        guard let context, !closing, pendingHead == nil, !hasUnflushedWrites else { return nil }
        tunneling = true
        tunnelPeer = upstream
        // The backend's 101 with its own fields (Sec-WebSocket-Accept, the chosen subprotocol, ...); the
        // hop-by-hop pair that makes it an upgrade is this hop's to send.
        var buffer = context.channel.allocator.buffer(capacity: head.rawFields.readableBytes + 96)
        buffer.writeHTTP1ResponseHead(forwarding: head, stripHopByHop: true, dropLength: true,
                                      extraFields: "Connection: Upgrade\r\nUpgrade: websocket\r\n")
        context.write(wrapOutboundOut(buffer), promise: nil)
        if upstreamLeftover.readableBytes > 0 { context.write(wrapOutboundOut(upstreamLeftover), promise: nil) }
        context.flush()
        readTimer.update(.tunnel, owner: self, sweeper: loop.connectionDeadlines)
        // Bytes the client sent after its handshake waited unparsed; they are the backend's now.
        if let early = received, early.readableBytes > 0 {
            stream?.countTunnelBytes(fromClient: early.readableBytes)
            upstream.tunnelWrite(early)
            upstream.tunnelFlush()
        }
        received = nil
        if readPending {
            readPending = false
            context.read()
        }
        return self
    }

    public func tunnelWrite(_ bytes: ByteBuffer) {
        guard let context, !closing else { return }
        readTimer.noteRead()
        stream?.countTunnelBytes(fromUpstream: bytes.readableBytes)
        context.write(wrapOutboundOut(bytes), promise: nil)
    }

    public func tunnelFlush() { context?.flush() }

    public var tunnelIsWritable: Bool { context?.channel.isWritable ?? true }

    public func tunnelResume() {
        guard readPending, let context else { return }
        readPending = false
        context.read()
    }

    public func tunnelClose() {
        tunnelPeer = nil
        closeAfterFlush()
    }
}
