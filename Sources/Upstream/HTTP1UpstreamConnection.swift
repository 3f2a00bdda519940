import GatewayTLS
import HTTP1
import HTTPTypes
import NIOCore

/// One HTTP/1.1 connection to an upstream endpoint, carrying one exchange at a time and going back to
/// its event loop's pool between exchanges. It is the channel's only handler: it writes request bytes
/// and parses response bytes itself, so nothing is copied between handlers.
public final class HTTP1UpstreamConnection: ChannelDuplexHandler, UpstreamExchange {
    public typealias InboundIn = ByteBuffer
    public typealias OutboundIn = ByteBuffer
    public typealias OutboundOut = ByteBuffer

    private enum ExchangeState {
        /// In the pool, or just connected.
        case idle
        case active(requestDone: Bool, responseStarted: Bool, chunkedRequest: Bool)
        /// After a 101: a byte tunnel to `tunnelPeer`, counted as open by the pool until it closes.
        case tunnel
        case closed
    }

    public let endpoint: Endpoint
    private unowned let pool: ClusterLoopState
    private var context: ChannelHandlerContext?
    private var parser: HTTP1Parser
    private var received: ByteBuffer?
    private var state: ExchangeState = .idle
    private var delegate: UpstreamResponseDelegate?
    private var responseKeepAlive = true
    private(set) var exchangesStarted = 0
    /// Whether the last exchange ended with the connection reusable; read by the pool on release.
    var lastUsed = NIODeadline.now()
    private var readsPaused = false
    private var readPending = false
    private var headBuffer = ByteBuffer()
    /// Something was written since the last flush.
    private var hasUnflushedWrites = false
    /// In the loop's flush batch for this tick.
    private var flushQueued = false
    /// The client's connection, once this one is a tunnel.
    private var tunnelPeer: TunnelEnd?

    init(endpoint: Endpoint, pool: ClusterLoopState) {
        self.endpoint = endpoint
        self.pool = pool
        self.parser = HTTP1Parser(role: .client, limits: HTTP1Limits(maxHeadBytes: 64 * 1024, maxHeaderCount: 256, maxURIBytes: 64 * 1024))
    }

    /// Kept here rather than asked of the channel: the pool asks on every hand-out, and the channel's
    /// answer goes through the pipeline and an atomic.
    public private(set) var isActive = false
    public var isWritable: Bool { context?.channel.isWritable ?? false }
    /// True when the connection has served requests before this one: a failure before any response byte
    /// may then be a race with the server's keep-alive close rather than a real failure.
    public var isReused: Bool { exchangesStarted > 1 }
    public var resetIsSafeToRetry: Bool { isReused }

    // MARK: - Exchange API, used by the proxy stream

    /// Starts an exchange. `framing` says how the request body will be delimited on this hop.
    public func sendRequestHead(_ request: HTTPRequest, edits: ForwardingEdits, framing: HTTP1BodyFraming, delegate: UpstreamResponseDelegate) {
        guard startExchange(request, framing: framing, delegate: delegate), let context else { return }
        parser.acceptsSwitchingProtocols = edits.upgrade != nil
        // Reuse one head buffer: once the previous write has gone out it is uniquely ours again, so
        // clearing it allocates nothing.
        headBuffer.clear()
        headBuffer.writeHTTP1RequestHead(request, edits: edits)
        writeHead(context, framing)
    }

    public func sendRequestHead(_ request: HTTPRequest, rawFields: HTTP1RawRequestFields, edits: ForwardingEdits, framing: HTTP1BodyFraming,
                                delegate: UpstreamResponseDelegate) {
        guard startExchange(request, framing: framing, delegate: delegate), let context else { return }
        parser.acceptsSwitchingProtocols = edits.upgrade != nil
        headBuffer.clear()
        headBuffer.writeHTTP1RequestHead(request, rawFields: rawFields, edits: edits)
        writeHead(context, framing)
    }

    /// A request without a body is complete with its head: it is flushed with the tick's other requests
    /// (`UpstreamFlushBatch`). Otherwise the body follows and the stream flushes.
    private func writeHead(_ context: ChannelHandlerContext, _ framing: HTTP1BodyFraming) {
        write(context, wrapOutboundOut(headBuffer))
        if framing == .none || framing == .contentLength(0) { flush() }
    }

    /// Moves from idle to an active exchange; false (after failing the delegate) if this connection cannot.
    private func startExchange(_ request: HTTPRequest, framing: HTTP1BodyFraming, delegate: UpstreamResponseDelegate) -> Bool {
        guard context != nil, case .idle = state else {
            delegate.upstreamFailed(.connectionReset(beforeResponse: true))
            return false
        }
        exchangesStarted += 1
        self.delegate = delegate
        let chunked = framing == .chunked
        state = .active(requestDone: framing == .none || framing == .contentLength(0), responseStarted: false, chunkedRequest: chunked)
        parser.expectResponse(toHEAD: request.method == .head)
        return true
    }

    public func sendBody(_ body: ByteBuffer) {
        guard let context, case .active(false, _, let chunked) = state, body.readableBytes > 0 else { return }
        if chunked {
            var header = context.channel.allocator.buffer(capacity: 12)
            header.writeChunkHeader(size: body.readableBytes)
            write(context, wrapOutboundOut(header))
            write(context, wrapOutboundOut(body))
            write(context, wrapOutboundOut(Self.crlf))
        } else {
            write(context, wrapOutboundOut(body))
        }
    }

    public func sendEnd(trailers: HTTPFields?) {
        guard let context, case .active(let requestDone, let responseStarted, let chunked) = state else { return }
        if requestDone {
            // A request without body was complete with its head.
            flush()
            return
        }
        if chunked {
            var last = context.channel.allocator.buffer(capacity: 64)
            last.writeLastChunk(trailers: trailers)
            write(context, wrapOutboundOut(last))
        }
        state = .active(requestDone: true, responseStarted: responseStarted, chunkedRequest: chunked)
        flush()
    }

    /// Flushes what was written at the end of the loop's tick, with the other connections' requests
    /// (`UpstreamFlushBatch`). The stream asks after the head, at the request's end and at the client's
    /// read-complete; only the first after a write has anything to do.
    public func flush() {
        guard hasUnflushedWrites, !flushQueued, context != nil else { return }
        flushQueued = true
        pool.flushBatch.add(self)
    }

    /// The batch's flush, at the end of the tick.
    func flushNow() {
        flushQueued = false
        guard hasUnflushedWrites, let context else { return }
        hasUnflushedWrites = false
        context.flush()
    }

    private func write(_ context: ChannelHandlerContext, _ data: NIOAny) {
        hasUnflushedWrites = true
        context.write(data, promise: nil)
    }

    /// Stop reading the response (the downstream cannot take more yet).
    public func pauseReading() { readsPaused = true }

    public func resumeReading() {
        guard readsPaused else { return }
        readsPaused = false
        if readPending, let context {
            readPending = false
            context.read()
        }
    }

    /// Ends the exchange without reuse: the request could not be completed or is no longer wanted.
    public func abort() {
        delegate = nil
        close()
    }

    public func returnUnused() { pool.returnUnused(self) }

    private static let crlf: ByteBuffer = ByteBuffer(string: "\r\n")

    // MARK: - Channel events

    public func handlerAdded(context: ChannelHandlerContext) {
        self.context = context
        isActive = context.channel.isActive
    }

    public func handlerRemoved(context: ChannelHandlerContext) {
        self.context = nil
        isActive = false
    }

    public func channelActive(context: ChannelHandlerContext) {
        isActive = true
        context.fireChannelActive()
    }

    public func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        if let tunnelPeer {
            tunnelPeer.tunnelWrite(unwrapInboundIn(data))
            return
        }
        received.appendReceived(unwrapInboundIn(data))
        parseReceived()
    }

    public func channelReadComplete(context: ChannelHandlerContext) {
        if let tunnelPeer {
            tunnelPeer.tunnelFlush()
            return
        }
        delegate?.upstreamReadComplete()
    }

    public func read(context: ChannelHandlerContext) {
        if let tunnelPeer, !tunnelPeer.tunnelIsWritable {
            // The client is not taking the bytes as fast as the backend sends them.
            readPending = true
        } else if readsPaused {
            readPending = true
        } else {
            context.read()
        }
    }

    public func channelWritabilityChanged(context: ChannelHandlerContext) {
        if let tunnelPeer {
            if context.channel.isWritable { tunnelPeer.tunnelResume() }
            return
        }
        delegate?.upstreamWritabilityChanged(context.channel.isWritable)
        context.fireChannelWritabilityChanged()
    }

    public func channelInactive(context: ChannelHandlerContext) {
        isActive = false
        if let tunnelPeer {
            self.tunnelPeer = nil
            tunnelPeer.tunnelClose()
        }
        if case .active = state, let delegate {
            // A close-delimited body ends here; anything else was cut short.
            do {
                if case .end(let trailers)? = try parser.finish() {
                    state = .closed
                    self.delegate = nil
                    delegate.upstreamResponseEnd(trailers)
                    pool.connectionClosed(self)
                    return
                }
            } catch {}
            fail(.connectionReset(beforeResponse: !responseStarted))
        }
        state = .closed
        pool.connectionClosed(self)
    }

    public func errorCaught(context: ChannelHandlerContext, error: any Error) {
        if case .active = state {
            if let tls = error as? TLSConnectionError, !isReused {
                // A fresh TLS connection refused after the handshake (TLS 1.3 servers check the client
                // certificate then): the alert says why, which a bare reset would hide.
                fail(.protocolError(tls.reason))
            } else {
                fail(.connectionReset(beforeResponse: !responseStarted))
            }
        }
        close()
    }

    // MARK: - Response parsing

    private var responseStarted: Bool {
        if case .active(_, let started, _) = state { return started }
        return false
    }

    private func parseReceived() {
        guard var buffer = received else { return }
        received = nil
        defer { if buffer.readableBytes > 0, case .active = state { received = buffer } }
        while true {
            guard case .active(let requestDone, _, let chunked) = state else {
                // Bytes with no request outstanding: the server is confused; never reuse this connection.
                if buffer.readableBytes > 0 { close() }
                return
            }
            let event: HTTP1Step?
            var parsedHead: HTTP1ResponseHead? = nil
            do {
                event = try parser.step(&buffer, head: &parsedHead)
            } catch {
                fail(.protocolError(error.reason))
                close()
                return
            }
            guard let event else { return }
            switch event {
            case .responseHead:
                let head = parsedHead.take()!
                if head.status.code == 101 {
                    // Only possible when the request asked to switch protocols.
                    let leftover = buffer
                    buffer = ByteBuffer()
                    becomeTunnel(head, leftover: leftover)
                    return
                }
                responseKeepAlive = head.keepAlive
                state = .active(requestDone: requestDone, responseStarted: true, chunkedRequest: chunked)
                delegate?.upstreamResponseHead(head)
            case .body(let body):
                delegate?.upstreamResponseBody(body)
            case .end(let trailers):
                if buffer.readableBytes > 0 { responseKeepAlive = false }
                finishExchange(trailers: trailers, requestDone: requestDone)
                return
            case .requestHead:
                preconditionFailure("a client-role parser never yields request heads")
            }
        }
    }

    private func finishExchange(trailers: HTTPFields?, requestDone: Bool) {
        let delegate = self.delegate
        self.delegate = nil
        let reusable = responseKeepAlive && requestDone && !pool.reachedRequestLimit(self)
        state = .idle
        // A slow client may have paused this connection's reads during the response; in the pool it must
        // read again, or it would miss the backend's close and hang the next request.
        readsPaused = false
        if readPending, let context {
            readPending = false
            context.read()
        }
        if reusable {
            lastUsed = .now()
            pool.release(self)
        } else {
            close()
        }
        delegate?.upstreamResponseEnd(trailers)
    }

    /// After a 101: the exchange is over, this connection leaves the request path and carries the
    /// tunnel's bytes (it still counts against the cluster's connections, and closes with the tunnel).
    private func becomeTunnel(_ head: HTTP1ResponseHead, leftover: ByteBuffer) {
        let delegate = self.delegate
        self.delegate = nil
        state = .tunnel
        parser.acceptsSwitchingProtocols = false
        guard let peer = delegate?.upstreamSwitchedProtocols(head, upstream: self, leftover: leftover) else {
            close()
            return
        }
        tunnelPeer = peer
        readsPaused = false
        if readPending, let context {
            readPending = false
            context.read()
        }
    }

    private func fail(_ error: UpstreamError) {
        let delegate = self.delegate
        self.delegate = nil
        state = .closed
        delegate?.upstreamFailed(error)
    }

    func close() {
        if case .closed = state {} else { state = .closed }
        delegate = nil
        context?.close(promise: nil)
    }
}

extension HTTP1UpstreamConnection: TunnelEnd {
    public func tunnelWrite(_ bytes: ByteBuffer) {
        guard let context else { return }
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
        guard let context else { return }
        // What the client sent last goes out before the close.
        context.writeAndFlush(wrapOutboundOut(ByteBuffer())).assumeIsolated().whenComplete { _ in context.close(promise: nil) }
    }
}
