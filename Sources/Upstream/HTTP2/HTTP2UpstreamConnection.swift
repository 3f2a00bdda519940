import CNGHTTP2
import HTTP1
import HTTPTypes
import Logging
import NIOCore

/// One HTTP/2 connection to an upstream endpoint, multiplexing many exchanges (`HTTP2UpstreamStream`)
/// through an nghttp2 client session: bytes in through `mem_recv`, frames out through `session_send`
/// once per event-loop tick. It is the channel's only handler (or sits behind the TLS client handler).
///
/// nghttp2 is not reentrant: its callbacks may submit frames but must not send; a send asked for inside
/// nghttp2 happens when it returns. The pool keeps few of these per endpoint and loop and opens another
/// only when the peer's `SETTINGS_MAX_CONCURRENT_STREAMS` is reached.
public final class HTTP2UpstreamConnection: ChannelDuplexHandler {
    public typealias InboundIn = ByteBuffer
    public typealias OutboundIn = ByteBuffer
    public typealias OutboundOut = ByteBuffer

    public let endpoint: Endpoint
    private unowned let pool: ClusterLoopState
    private let scheme: String
    /// Over TLS the session starts once the handshake has negotiated h2, not at channelActive.
    private let waitsForHandshake: Bool
    private var session: OpaquePointer?
    private var context: ChannelHandlerContext?
    private var streams: [Int32: HTTP2UpstreamStream] = [:]
    /// Streams handed out by the pool but not submitted yet, plus acquirers waiting for the connect.
    private(set) var reserved = 0
    private var waiters: [ClusterLoopState.AcquireCallback] = []
    private(set) var allocator = ByteBufferAllocator()
    private var outbound = ByteBuffer()
    private var inSession = false
    private var sendRequested = false
    private var sendScheduled = false
    private var closeRequested = false
    /// No new streams: a GOAWAY came, the request limit was reached, or the connection is closing.
    private(set) var goingAway = false
    private var goawayLastStreamID = Int32.max
    private(set) var closed = false
    private var streamsStarted = 0
    private var poolNotified = false
    private var fields = HTTP2HeaderList()
    private var streamsToNotify: [HTTP2UpstreamStream] = []
    private var streamsNowWritable: [HTTP2UpstreamStream] = []
    /// When the connection last had no stream; the pool's sweeper closes it after the idle timeout.
    var idleSince = NIODeadline.now()

    /// Most bytes of frames collected before they are handed to the channel.
    static let outboundChunk = 64 * 1024
    /// The receive windows we advertise: per stream (bounds what one slow client makes us hold) and for
    /// the connection (so one paused stream does not stall the others).
    static let streamWindow: Int32 = 256 * 1024
    static let connectionWindow: Int32 = 8 * 1024 * 1024
    /// Streams assumed allowed before the peer's SETTINGS arrive (nghttp2's own default), and a cap on
    /// what a peer may announce, so one connection does not take every request of a busy loop.
    static let assumedConcurrentStreams = 100
    static let maxConcurrentStreamsCap = 1000
    private static let logger = Logger(label: "portcullis.upstream.h2")

    init(endpoint: Endpoint, pool: ClusterLoopState, tls: Bool) {
        self.endpoint = endpoint
        self.pool = pool
        self.scheme = tls ? "https" : "http"
        self.waitsForHandshake = tls
    }

    static func from(_ user: UnsafeMutableRawPointer?) -> HTTP2UpstreamConnection {
        Unmanaged<HTTP2UpstreamConnection>.fromOpaque(user!).takeUnretainedValue()
    }

    // MARK: - Pool side

    /// How many more streams this connection may carry now.
    var availableStreams: Int {
        guard !goingAway, !closed else { return 0 }
        var limit = Self.assumedConcurrentStreams
        if let session {
            let announced = Int(nghttp2_session_get_remote_settings(session, NGHTTP2_SETTINGS_MAX_CONCURRENT_STREAMS))
            limit = min(announced, Self.maxConcurrentStreamsCap)
        }
        let perConnection = pool.cluster.settings.maxRequestsPerConnection
        if perConnection > 0 { limit = min(limit, perConnection - streamsStarted) }
        return limit - streams.count - reserved
    }

    var isIdle: Bool { streams.isEmpty && reserved == 0 }

    /// Hands out a stream now if connected, or when the connect completes.
    func reserve(_ callback: @escaping ClusterLoopState.AcquireCallback) {
        reserved += 1
        if session != nil {
            callback(.success(HTTP2UpstreamStream(endpoint: endpoint, connection: self)))
        } else {
            waiters.append(callback)
        }
    }

    /// The connect failed: every waiter learns it.
    func connectFailed(_ error: UpstreamError) {
        closed = true
        goingAway = true
        let waiting = waiters
        waiters = []
        reserved = 0
        notifyPoolOnce()
        for callback in waiting { callback(.failure(error)) }
    }

    /// The pool counts the connection out exactly once, however it ended.
    private func notifyPoolOnce() {
        guard !poolNotified else { return }
        poolNotified = true
        pool.http2ConnectionClosed(self)
    }

    /// A reserved stream was given back or aborted before it was submitted.
    func streamReleased(_ stream: HTTP2UpstreamStream) {
        reserved -= 1
        becameIdleIfDone()
    }

    func close() {
        goingAway = true
        guard let context, !closed else { return }
        if inSession {
            closeRequested = true
            return
        }
        closed = true
        if let session {
            nghttp2_session_terminate_session(session, NGHTTP2_NO_ERROR.rawValue)
            sendPending()
        }
        context.close(promise: nil)
    }

    // MARK: - Channel events

    public func handlerAdded(context: ChannelHandlerContext) {
        self.context = context
        allocator = context.channel.allocator
        if context.channel.isActive && !waitsForHandshake { start(context) }
    }

    public func channelActive(context: ChannelHandlerContext) {
        if !waitsForHandshake { start(context) }
        context.fireChannelActive()
    }

    /// The TLS handshake is done and ALPN chose h2: the HTTP/2 preface may go out.
    func handshakeCompleted() {
        guard let context else { return }
        start(context)
    }

    private func start(_ context: ChannelHandlerContext) {
        guard session == nil, !closed else { return }
        outbound = allocator.buffer(capacity: 1024)
        var session: OpaquePointer?
        let shared = NGHTTP2ClientCallbacks.shared
        guard nghttp2_session_client_new2(&session, shared.callbacks, Unmanaged.passUnretained(self).toOpaque(), shared.options) == 0,
              let session else {
            connectFailed(.protocolError("cannot create an HTTP/2 session"))
            context.close(promise: nil)
            return
        }
        self.session = session
        var entries = [
            nghttp2_settings_entry(settings_id: Int32(NGHTTP2_SETTINGS_ENABLE_PUSH.rawValue), value: 0),
            nghttp2_settings_entry(settings_id: Int32(NGHTTP2_SETTINGS_INITIAL_WINDOW_SIZE.rawValue), value: UInt32(Self.streamWindow)),
            nghttp2_settings_entry(settings_id: Int32(NGHTTP2_SETTINGS_MAX_HEADER_LIST_SIZE.rawValue), value: 256 * 1024),
        ]
        nghttp2_submit_settings(session, UInt8(NGHTTP2_FLAG_NONE.rawValue), &entries, entries.count)
        nghttp2_session_set_local_window_size(session, UInt8(NGHTTP2_FLAG_NONE.rawValue), 0, Self.connectionWindow)
        // The waiters get their streams now; requests submitted before the peer's SETTINGS are fine.
        let waiting = waiters
        waiters = []
        for callback in waiting { callback(.success(HTTP2UpstreamStream(endpoint: endpoint, connection: self))) }
        sendPending()
    }

    public func handlerRemoved(context: ChannelHandlerContext) {
        connectionLost()
        if let session { nghttp2_session_del(session) }
        session = nil
        self.context = nil
    }

    public func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        let bytes = unwrapInboundIn(data)
        guard let session, !closed else { return }
        inSession = true
        let result = bytes.withUnsafeReadableBytes { raw in
            nghttp2_session_mem_recv(session, raw.baseAddress?.assumingMemoryBound(to: UInt8.self), raw.count)
        }
        inSession = false
        if result < 0 {
            Self.logger.warning("HTTP/2 upstream session failed", metadata: ["endpoint": "\(endpoint.label)", "reason": "\(String(cString: nghttp2_strerror(Int32(result))))"])
            nghttp2_session_terminate_session(session, NGHTTP2_PROTOCOL_ERROR.rawValue)
            sendPending()
            closed = true
            goingAway = true
            context.close(promise: nil)
            return
        }
        sendPending()
    }

    public func channelReadComplete(context: ChannelHandlerContext) {
        let notify = streamsToNotify
        streamsToNotify.removeAll(keepingCapacity: true)
        for stream in notify { stream.readComplete() }
        sendPending()
    }

    public func channelWritabilityChanged(context: ChannelHandlerContext) {
        if context.channel.isWritable { sendPending() }
        context.fireChannelWritabilityChanged()
    }

    public func channelInactive(context: ChannelHandlerContext) {
        connectionLost()
        context.fireChannelInactive()
    }

    public func errorCaught(context: ChannelHandlerContext, error: any Error) {
        context.close(promise: nil)
    }

    private func connectionLost() {
        closed = true
        goingAway = true
        // Never connected: the connect's own failure tells the waiters (with its real reason).
        guard session != nil else { return }
        let open = streams
        streams = [:]
        for (id, stream) in open { stream.connectionLost(refused: id > goawayLastStreamID) }
        notifyPoolOnce()
    }

    // MARK: - Output

    /// Lets nghttp2 write what it has queued and hands it to the channel. Does nothing inside nghttp2.
    func sendPending() {
        guard let session, let context else { return }
        if inSession {
            sendRequested = true
            return
        }
        sendRequested = false
        inSession = true
        let result = nghttp2_session_send(session)
        inSession = false
        if outbound.readableBytes > 0 {
            context.write(wrapOutboundOut(outbound), promise: nil)
            outbound = allocator.buffer(capacity: 1024)
        }
        context.flush()
        if !streamsNowWritable.isEmpty {
            let ready = streamsNowWritable
            streamsNowWritable.removeAll(keepingCapacity: true)
            for stream in ready { stream.notifyWritable() }
        }
        if result < 0 || closeRequested {
            closeRequested = false
            close()
        } else if goingAway && isIdle {
            // A GOAWAY came (or the request limit was reached) and every stream is done.
            close()
        }
    }

    /// Sends once at the end of this event-loop tick: requests and window updates of many streams made
    /// in the same tick leave in one write.
    func scheduleSend() {
        if inSession {
            sendRequested = true
            return
        }
        guard !sendScheduled, let context else { return }
        sendScheduled = true
        context.eventLoop.assumeIsolated().execute { [self] in
            sendScheduled = false
            sendPending()
        }
    }

    func sendCallback(_ data: UnsafePointer<UInt8>, _ length: Int) -> Int {
        guard let context else { return Int(NGHTTP2_ERR_CALLBACK_FAILURE.rawValue) }
        if outbound.readableBytes >= Self.outboundChunk {
            context.write(wrapOutboundOut(outbound), promise: nil)
            outbound = allocator.buffer(capacity: max(1024, length))
            // A peer that does not read: stop producing frames (and reading request bodies) until it drains.
            if !context.channel.isWritable { return Int(NGHTTP2_ERR_WOULDBLOCK.rawValue) }
        }
        outbound.writeBytes(UnsafeRawBufferPointer(start: data, count: length))
        return length
    }

    func readRequestBody(stream id: Int32, _ buffer: UnsafeMutablePointer<UInt8>, _ length: Int, _ flags: UnsafeMutablePointer<UInt32>) -> Int {
        guard let stream = streams[id], let session else { return Int(NGHTTP2_ERR_TEMPORAL_CALLBACK_FAILURE.rawValue) }
        guard let next = stream.readBody(into: buffer, maxLength: length) else { return Int(NGHTTP2_ERR_DEFERRED.rawValue) }
        if next.end {
            flags.pointee |= NGHTTP2_DATA_FLAG_EOF.rawValue
            if let trailers = stream.requestTrailers {
                // The trailers end the stream instead of this DATA frame.
                flags.pointee |= NGHTTP2_DATA_FLAG_NO_END_STREAM.rawValue
                fields.reset()
                for field in trailers where !HopByHop.isHopByHop(field.name.canonicalName) {
                    fields.append(name: field.name.canonicalName, value: field.value)
                }
                _ = fields.withNV { nv, count in nghttp2_submit_trailer(session, id, nv, count) }
            }
        }
        return next.length
    }

    // MARK: - Calls from streams

    /// Submits the request HEADERS; returns the stream id, or a value ≤ 0 when no stream can start.
    func submitRequest(_ stream: HTTP2UpstreamStream, request: HTTPRequest, edits: ForwardingEdits, framing: HTTP1BodyFraming) -> Int32 {
        reserved -= 1
        guard let session, !closed else { return -1 }
        fields.reset()
        fields.append(name: ":method", value: request.method.rawValue)
        fields.append(name: ":scheme", value: scheme)
        fields.append(name: ":authority", value: request.authority ?? endpoint.label)
        fields.append(name: ":path", value: request.path ?? "/")
        for field in request.headerFields {
            let name = field.name.canonicalName
            // RFC 9113 §8.2.2: no connection-specific fields on HTTP/2, whatever the client sent.
            if edits.replaces(name) || HopByHop.isHopByHop(name) || name == "expect" { continue }
            fields.append(name: name, value: field.value)
        }
        fields.append(name: "x-request-id", value: edits.requestID)
        // Empty for the gateway's own requests (health checks), which forward nobody.
        if !edits.forwardedFor.isEmpty { fields.append(name: "x-forwarded-for", value: edits.forwardedFor) }
        fields.append(name: "x-forwarded-proto", value: edits.forwardedProto)
        if edits.teTrailers { fields.append(name: "te", value: "trailers") }
        if let timeout = edits.grpcTimeout { fields.append(name: "grpc-timeout", value: timeout) }
        if let trace = edits.traceparent { fields.append(name: "traceparent", value: trace.headerValue) }
        let id: Int32
        if framing == .none {
            id = fields.withNV { nv, count in nghttp2_submit_request(session, nil, nv, count, nil, nil) }
        } else {
            var provider = nghttp2_data_provider(source: nghttp2_data_source(fd: 0), read_callback: http2ReadRequestBody)
            id = fields.withNV { nv, count in nghttp2_submit_request(session, nil, nv, count, &provider, nil) }
        }
        guard id > 0 else {
            becameIdleIfDone()
            return id
        }
        streamsStarted += 1
        streams[id] = stream
        let perConnection = pool.cluster.settings.maxRequestsPerConnection
        if perConnection > 0 && streamsStarted >= perConnection { goingAway = true }
        if id > Int32.max - 1000 { goingAway = true }  // stream ids run out: the next connection takes over
        scheduleSend()
        return id
    }

    func resumeData(stream id: Int32) {
        guard let session, id > 0 else { return }
        nghttp2_session_resume_data(session, id)
        scheduleSend()
    }

    func consume(stream id: Int32, _ count: Int) {
        guard let session, count > 0 else { return }
        if id <= 0 || nghttp2_session_consume(session, id, count) != 0 {
            // The stream is gone: the bytes still count against the connection window.
            nghttp2_session_consume_connection(session, count)
        }
    }

    func consumeConnection(_ count: Int) {
        guard let session, count > 0 else { return }
        nghttp2_session_consume_connection(session, count)
    }

    func resetStream(_ stream: HTTP2UpstreamStream, errorCode: UInt32) {
        guard let session, stream.id > 0, streams[stream.id] === stream else { return }
        nghttp2_submit_rst_stream(session, UInt8(NGHTTP2_FLAG_NONE.rawValue), stream.id, errorCode)
        scheduleSend()
    }

    func notifyWritableLater(_ stream: HTTP2UpstreamStream) { streamsNowWritable.append(stream) }

    private func becameIdleIfDone() {
        guard isIdle else { return }
        idleSince = .now()
        if goingAway {
            scheduleSend()  // closes it once sent
        } else {
            pool.http2StreamSlotFreed(self)
        }
    }

    // MARK: - nghttp2 callbacks (inside mem_recv / session_send)

    func onHeader(_ frame: UnsafePointer<nghttp2_frame>, _ name: UnsafeRawBufferPointer, _ value: UnsafeRawBufferPointer) -> Int32 {
        guard frame.pointee.hd.type == UInt8(NGHTTP2_HEADERS.rawValue), let stream = streams[frame.pointee.hd.stream_id] else { return 0 }
        stream.receiveHeader(name: name, value: value)
        return 0
    }

    func onFrameReceived(_ frame: UnsafePointer<nghttp2_frame>) -> Int32 {
        let hd = frame.pointee.hd
        let endStream = hd.flags & UInt8(NGHTTP2_FLAG_END_STREAM.rawValue) != 0
        switch hd.type {
        case UInt8(NGHTTP2_HEADERS.rawValue):
            streams[hd.stream_id]?.headersEnded(endStream: endStream)
        case UInt8(NGHTTP2_DATA.rawValue):
            if endStream { streams[hd.stream_id]?.dataEnded() }
        case UInt8(NGHTTP2_GOAWAY.rawValue):
            // No new streams here; the ones at or below last_stream_id finish, the others were never
            // processed and fail as refused (so the proxy may retry them on a new connection).
            goawayLastStreamID = frame.pointee.goaway.last_stream_id
            if !goingAway {
                goingAway = true
                Self.logger.debug("HTTP/2 upstream sent GOAWAY", metadata: ["endpoint": "\(endpoint.label)", "last_stream_id": "\(goawayLastStreamID)"])
            }
            pool.http2GoingAway(self)
        case UInt8(NGHTTP2_SETTINGS.rawValue):
            // A larger MAX_CONCURRENT_STREAMS lets queued acquirers in.
            if hd.flags & UInt8(NGHTTP2_FLAG_ACK.rawValue) == 0 { pool.http2StreamSlotFreed(self) }
        default:
            break
        }
        return 0
    }

    func onDataChunk(_ streamID: Int32, _ data: UnsafeRawBufferPointer) -> Int32 {
        guard let stream = streams[streamID] else {
            consume(stream: streamID, data.count)
            return 0
        }
        stream.receiveData(data)
        if streamsToNotify.last !== stream { streamsToNotify.append(stream) }
        return 0
    }

    func onFrameNotSent(_ frame: UnsafePointer<nghttp2_frame>, _ error: Int32) -> Int32 {
        // A request HEADERS that could not go out (GOAWAY received meanwhile): never processed.
        let hd = frame.pointee.hd
        guard hd.type == UInt8(NGHTTP2_HEADERS.rawValue), let stream = streams.removeValue(forKey: hd.stream_id) else { return 0 }
        stream.closed(errorCode: NGHTTP2_REFUSED_STREAM.rawValue, refused: true)
        becameIdleIfDone()
        return 0
    }

    func onStreamClose(_ streamID: Int32, _ errorCode: UInt32) -> Int32 {
        guard let stream = streams.removeValue(forKey: streamID) else { return 0 }
        let refused = errorCode == NGHTTP2_REFUSED_STREAM.rawValue || streamID > goawayLastStreamID
        stream.closed(errorCode: errorCode, refused: refused)
        becameIdleIfDone()
        return 0
    }
}

/// The request body's data source: the connection looks the stream up by id.
let http2ReadRequestBody: nghttp2_data_source_read_callback = { _, streamID, buffer, length, flags, _, user in
    HTTP2UpstreamConnection.from(user).readRequestBody(stream: streamID, buffer!, length, flags!)
}
