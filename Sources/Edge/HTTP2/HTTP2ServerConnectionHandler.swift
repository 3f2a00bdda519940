import CNGHTTP2
import GatewayCore
import GatewayFilterAPI
import GatewayTLS
import HTTP1
import HTTPTypes
import Logging
import NIOCore
import Upstream

/// Serves HTTP/2 on one client connection through an nghttp2 server session: bytes in through
/// `mem_recv`, frames out through `session_send`, one `HTTP2ServerStream` (and `ProxyStream`) per
/// request stream. Every nghttp2 call happens on the connection's event loop.
///
/// nghttp2 is not reentrant: its callbacks may submit frames but must not send. Sends requested
/// while inside nghttp2 are done once it returns.
final class HTTP2ServerConnectionHandler: ChannelDuplexHandler, RemovableChannelHandler, DrainableConnection {
    typealias InboundIn = ByteBuffer
    typealias OutboundIn = ByteBuffer
    typealias OutboundOut = ByteBuffer

    let listener: ListenerRuntime
    let loop: LoopContext
    private let settings: HTTP2Config
    private var session: OpaquePointer?
    private var context: ChannelHandlerContext?
    private var streams: [Int32: HTTP2ServerStream] = [:]
    /// The stream whose request header block is being received: its header callbacks skip the lookup.
    private var headerStream: HTTP2ServerStream?
    private(set) var allocator = ByteBufferAllocator()
    private var outbound = ByteBuffer()
    private var inSession = false
    private var sendRequested = false
    private var sendScheduled = false
    /// Frames were handed to the channel since the last flush.
    private var wroteSinceFlush = false
    private var closing = false
    private var abuse: HTTP2AbuseGuard
    private var headerList = HTTP2HeaderList()
    /// Streams whose request data went upstream during this read: their upstream writes are flushed once.
    private var streamsToFlush: [HTTP2ServerStream] = []
    /// Streams whose response queue drained below the low mark during a send; told after it.
    private var streamsNowWritable: [HTTP2ServerStream] = []
    private let maxHeaderListBytes: Int
    private var readTimer: ReadTimer

    private var downstreamAddress = "unknown"
    private var downstreamIP = "unknown"
    private let proxiedClient: (client: String, l4: String)?
    private var tls: DownstreamTLS?

    /// Most bytes of frames collected before they are handed to the channel.
    static let outboundChunk = 64 * 1024
    private static let logger = Logger(label: "portcullis.edge.h2")

    init(listener: ListenerRuntime, loop: LoopContext, proxiedClient: (client: String, l4: String)?, tls: DownstreamTLS? = nil) {
        self.listener = listener
        self.loop = loop
        self.settings = listener.http2
        self.proxiedClient = proxiedClient
        self.tls = tls
        self.abuse = HTTP2AbuseGuard(listener.http2)
        self.maxHeaderListBytes = listener.http2.maxHeaderListBytes ?? listener.parserLimits.maxHeadBytes
        self.readTimer = ReadTimer(headerRead: listener.headerReadTimeout, bodyRead: nil, idle: listener.idleTimeout)
    }

    static func from(_ user: UnsafeMutableRawPointer?) -> HTTP2ServerConnectionHandler {
        Unmanaged<HTTP2ServerConnectionHandler>.fromOpaque(user!).takeUnretainedValue()
    }

    // MARK: - Channel events

    func handlerAdded(context: ChannelHandlerContext) {
        self.context = context
        allocator = context.channel.allocator
        outbound = allocator.buffer(capacity: 1024)
        if let proxiedClient {
            downstreamAddress = proxiedClient.client
        } else if let remote = context.channel.remoteAddress {
            downstreamAddress = HTTP1ServerConnectionHandler.describe(remote)
        }
        downstreamIP = ProxyStream.ipOnly(downstreamAddress)
        var session: OpaquePointer?
        let shared = NGHTTP2ServerCallbacks.shared
        guard nghttp2_session_server_new2(&session, shared.callbacks, Unmanaged.passUnretained(self).toOpaque(), shared.options) == 0,
              let session else {
            context.close(promise: nil)
            return
        }
        self.session = session
        var entries = [
            nghttp2_settings_entry(settings_id: Int32(NGHTTP2_SETTINGS_MAX_CONCURRENT_STREAMS.rawValue), value: UInt32(settings.maxConcurrentStreams)),
            nghttp2_settings_entry(settings_id: Int32(NGHTTP2_SETTINGS_INITIAL_WINDOW_SIZE.rawValue), value: UInt32(settings.initialStreamWindow)),
            nghttp2_settings_entry(settings_id: Int32(NGHTTP2_SETTINGS_MAX_FRAME_SIZE.rawValue), value: UInt32(settings.maxFrameSize)),
            nghttp2_settings_entry(settings_id: Int32(NGHTTP2_SETTINGS_MAX_HEADER_LIST_SIZE.rawValue), value: UInt32(maxHeaderListBytes)),
            nghttp2_settings_entry(settings_id: Int32(NGHTTP2_SETTINGS_ENABLE_PUSH.rawValue), value: 0),
            // RFC 9218 §2.1: the RFC 7540 priority tree is not used. A proxy answers in the order its
            // upstreams do, and without the tree nghttp2 schedules from simple urgency queues and keeps
            // no closed streams around (less work and memory per stream).
            nghttp2_settings_entry(settings_id: Int32(NGHTTP2_SETTINGS_NO_RFC7540_PRIORITIES.rawValue), value: 1),
        ]
        nghttp2_submit_settings(session, UInt8(NGHTTP2_FLAG_NONE.rawValue), &entries, entries.count)
        // The connection window is not a setting: it opens with a WINDOW_UPDATE on stream 0.
        nghttp2_session_set_local_window_size(session, UInt8(NGHTTP2_FLAG_NONE.rawValue), 0, Int32(settings.connectionWindow))
        readTimer.update(.idle, owner: self, sweeper: loop.connectionDeadlines)
        sendPending()
        loop.connections.add(self)
        loop.metrics.listeners[listener.index].connectionsAccepted += 1
        loop.metrics.listeners[listener.index].activeConnections += 1
    }

    func handlerRemoved(context: ChannelHandlerContext) {
        loop.connections.remove(self)
        loop.metrics.listeners[listener.index].activeConnections -= 1
        readTimer.cancel()
        failAllStreams()
        if let session { nghttp2_session_del(session) }
        session = nil
        self.context = nil
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        let bytes = unwrapInboundIn(data)
        guard let session, !closing else { return }
        inSession = true
        let result = bytes.withUnsafeReadableBytes { raw in
            nghttp2_session_mem_recv(session, raw.baseAddress?.assumingMemoryBound(to: UInt8.self), raw.count)
        }
        inSession = false
        if let violation = abuse.violation {
            terminate(errorCode: NGHTTP2_ENHANCE_YOUR_CALM.rawValue, reason: violation.description)
            return
        }
        if result < 0 {
            failSession(Int32(result))
            return
        }
        sendPending()
    }

    func channelReadComplete(context: ChannelHandlerContext) {
        let streams = streamsToFlush
        streamsToFlush.removeAll(keepingCapacity: true)
        for stream in streams { stream.proxy?.downstreamReadComplete() }
        sendPending()
    }

    func userInboundEventTriggered(context: ChannelHandlerContext, event: Any) {
        if let handshake = event as? TLSHandshakeCompleted {
            tls = DownstreamTLS(handshake)
            loop.metrics.listeners[listener.index].tlsHandshakes += 1
        }
        context.fireUserInboundEventTriggered(event)
    }

    func channelWritabilityChanged(context: ChannelHandlerContext) {
        if context.channel.isWritable { sendPending() }
    }

    func channelInactive(context: ChannelHandlerContext) {
        closing = true
        readTimer.cancel()
        failAllStreams()
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        if let tlsError = error as? TLSConnectionError {
            Self.logger.warning("TLS failure", metadata: ["listener": "\(listener.name)", "client": "\(downstreamAddress)", "reason": "\(tlsError.reason)"])
        }
        context.close(promise: nil)
    }

    private func failAllStreams() {
        let open = streams
        streams = [:]
        headerStream = nil
        for stream in open.values { stream.closed() }
    }

    // MARK: - Output

    /// Lets nghttp2 write whatever it has queued (frames, flow-control-permitted DATA) and hands it to
    /// the channel. Safe to call often: it does nothing inside nghttp2 or when nothing is pending.
    func sendPending() {
        guard let session, let context, !closing || sendRequested else { return }
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
            // Those bytes are on their way: the flush below can call back in here (writability), and
            // must not find them again.
            outbound.moveReaderIndex(to: outbound.writerIndex)
            wroteSinceFlush = true
        }
        // Most reads (a record of request HEADERS) produce no frames: no flush through TLS then.
        if wroteSinceFlush {
            wroteSinceFlush = false
            context.flush()
            if outbound.readableBytes == 0 { recycleOutbound() }
        }
        if !streamsNowWritable.isEmpty {
            let ready = streamsNowWritable
            streamsNowWritable.removeAll(keepingCapacity: true)
            for stream in ready { stream.notifyWritable() }
        }
        if result < 0 {
            close(context)
        } else if nghttp2_session_want_read(session) == 0 && nghttp2_session_want_write(session) == 0 {
            // GOAWAY exchanged and every stream done.
            close(context)
        }
    }

    /// Makes `outbound` empty for the next frames. TLS encrypts at flush and a small plaintext write
    /// leaves the socket at once, so after a flush the layer below has usually let go of the buffer:
    /// its storage is then reused (no allocation per flush). Still referenced (the socket is backed
    /// up), or grown large by a big body: a fresh one.
    private func recycleOutbound() {
        if outbound.capacity <= Self.recycledOutboundCapacity {
            outbound.clear()
        } else {
            outbound = allocator.buffer(capacity: 1024)
        }
    }

    /// Largest `outbound` storage kept across flushes (per connection, also while idle).
    static let recycledOutboundCapacity = 8 * 1024

    /// Sends once at the end of this event-loop tick: responses of many streams that complete in the
    /// same tick (one epoll round of upstream reads) leave in one write, one TLS record run, one syscall.
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

    private func close(_ context: ChannelHandlerContext) {
        guard !closing else { return }
        closing = true
        readTimer.cancel()
        context.close(promise: nil)
    }

    func sendCallback(_ data: UnsafePointer<UInt8>?, _ length: Int) -> Int {
        guard let context, let data else { return Int(NGHTTP2_ERR_CALLBACK_FAILURE.rawValue) }
        if outbound.readableBytes >= Self.outboundChunk {
            context.write(wrapOutboundOut(outbound), promise: nil)
            wroteSinceFlush = true
            outbound = allocator.buffer(capacity: max(1024, length))
            // A client that does not read: stop producing frames until the socket drains.
            if !context.channel.isWritable { return Int(NGHTTP2_ERR_WOULDBLOCK.rawValue) }
        }
        outbound.writeBytes(UnsafeRawBufferPointer(start: data, count: length))
        return length
    }

    func sendDataCallback(_ frame: UnsafeMutablePointer<nghttp2_frame>, _ header: UnsafePointer<UInt8>, _ length: Int,
                                      _ source: UnsafeMutablePointer<nghttp2_data_source>) -> Int32 {
        guard let context else { return NGHTTP2_ERR_CALLBACK_FAILURE.rawValue }
        if outbound.readableBytes >= Self.outboundChunk {
            context.write(wrapOutboundOut(outbound), promise: nil)
            wroteSinceFlush = true
            outbound = allocator.buffer(capacity: Self.outboundChunk + 16)
            if !context.channel.isWritable { return NGHTTP2_ERR_WOULDBLOCK.rawValue }
        }
        let stream = Unmanaged<HTTP2ServerStream>.fromOpaque(source.pointee.ptr).takeUnretainedValue()
        outbound.writeBytes(UnsafeRawBufferPointer(start: header, count: 9))
        stream.writeBody(length: length, into: &outbound)
        return 0
    }

    func readResponseBody(_ source: UnsafeMutablePointer<nghttp2_data_source>, _ length: Int,
                                      _ flags: UnsafeMutablePointer<UInt32>) -> Int {
        let stream = Unmanaged<HTTP2ServerStream>.fromOpaque(source.pointee.ptr).takeUnretainedValue()
        guard let next = stream.nextDataFrame(maxLength: length) else { return Int(NGHTTP2_ERR_DEFERRED.rawValue) }
        flags.pointee |= NGHTTP2_DATA_FLAG_NO_COPY.rawValue
        if next.end {
            flags.pointee |= NGHTTP2_DATA_FLAG_EOF.rawValue
            if let trailers = stream.pendingTrailers, let session {
                // Trailers end the stream instead of this DATA frame.
                flags.pointee |= NGHTTP2_DATA_FLAG_NO_END_STREAM.rawValue
                headerList.reset()
                for field in trailers { headerList.append(name: field.name.canonicalName, value: field.value) }
                _ = headerList.withNV { nv, count in nghttp2_submit_trailer(session, stream.id, nv, count) }
            }
        }
        return next.length
    }

    // MARK: - Calls from streams

    /// Submits a response HEADERS frame; `addFields` appends the fields after `:status`. A body follows
    /// through the stream's data source unless `hasBody` is false.
    func submitResponse(stream: HTTP2ServerStream, status: Int, hasBody: Bool, addFields: (inout HTTP2HeaderList) -> Void) -> Bool {
        guard let session, stream.isOpen else { return false }
        headerList.reset()
        headerList.appendStatus(status)
        addFields(&headerList)
        let result: Int32
        if hasBody {
            var provider = nghttp2_data_provider(source: nghttp2_data_source(ptr: Unmanaged.passUnretained(stream).toOpaque()),
                                                 read_callback: http2ReadResponseBody)
            result = headerList.withNV { nv, count in nghttp2_submit_response(session, stream.id, nv, count, &provider) }
        } else {
            result = headerList.withNV { nv, count in nghttp2_submit_response(session, stream.id, nv, count, nil) }
        }
        return result == 0
    }

    func resumeData(stream id: Int32) {
        guard let session else { return }
        nghttp2_session_resume_data(session, id)
    }

    func consume(stream id: Int32, _ count: Int) {
        guard let session, count > 0 else { return }
        if nghttp2_session_consume(session, id, count) != 0 {
            // The stream is gone: the bytes still count against the connection window.
            nghttp2_session_consume_connection(session, count)
        }
    }

    func resetStream(_ id: Int32, errorCode: UInt32) {
        guard let session, streams[id] != nil else { return }
        nghttp2_submit_rst_stream(session, UInt8(NGHTTP2_FLAG_NONE.rawValue), id, errorCode)
        scheduleSend()
    }

    func notifyWritableLater(_ stream: HTTP2ServerStream) { streamsNowWritable.append(stream) }

    // MARK: - Ending the connection

    /// Stops taking new streams (GOAWAY NO_ERROR with the last stream accepted); open streams finish,
    /// then the connection closes. Used for idle connections and drain.
    /// RFC 9113 §6.8's two steps: a GOAWAY naming the highest possible stream id tells the client to
    /// open no more streams while the ones it already sent are still accepted; one round trip later
    /// (`shutdownGrace`) the final GOAWAY names the last stream really taken. A stream in flight
    /// therefore never gets refused.
    func drain(closeIdle: Bool) {
        guard let session, !closing, !shuttingDown else { return }
        shuttingDown = true
        nghttp2_submit_shutdown_notice(session)
        sendPending()
        guard let context else { return }
        let loopBound = NIOLoopBound(self, eventLoop: context.eventLoop)
        context.eventLoop.scheduleTask(in: Self.shutdownGrace) { loopBound.value.beginGracefulShutdown() }
    }

    static let shutdownGrace = TimeAmount.milliseconds(500)
    private var shuttingDown = false

    func beginGracefulShutdown() {
        guard let session, !closing else { return }
        nghttp2_submit_goaway(session, UInt8(NGHTTP2_FLAG_NONE.rawValue), nghttp2_session_get_last_proc_stream_id(session),
                              NGHTTP2_NO_ERROR.rawValue, nil, 0)
        sendPending()
    }

    /// Closes the connection with GOAWAY and `errorCode`, logging why.
    private func terminate(errorCode: UInt32, reason: String) {
        guard let session, let context, !closing else { return }
        if errorCode == NGHTTP2_ENHANCE_YOUR_CALM.rawValue { loop.metrics.listeners[listener.index].http2AbuseGoaways += 1 }
        Self.logger.warning("HTTP/2 connection closed", metadata: ["listener": "\(listener.name)", "client": "\(downstreamAddress)", "reason": "\(reason)"])
        nghttp2_session_terminate_session(session, errorCode)
        sendRequested = true
        inSession = true
        _ = nghttp2_session_send(session)
        inSession = false
        if outbound.readableBytes > 0 {
            context.write(wrapOutboundOut(outbound), promise: nil)
            outbound = allocator.buffer(capacity: 0)
        }
        closing = true
        readTimer.cancel()
        failAllStreams()
        let channel = context.channel
        context.writeAndFlush(wrapOutboundOut(allocator.buffer(capacity: 0))).whenComplete { _ in channel.close(promise: nil) }
    }

    private func failSession(_ code: Int32) {
        switch code {
        case NGHTTP2_ERR_BAD_CLIENT_MAGIC.rawValue:
            // Not HTTP/2 at all: nothing sensible to answer.
            Self.logger.info("not an HTTP/2 client preface", metadata: ["listener": "\(listener.name)", "client": "\(downstreamAddress)"])
            if let context { close(context) }
        case NGHTTP2_ERR_FLOODED.rawValue:
            terminate(errorCode: NGHTTP2_ENHANCE_YOUR_CALM.rawValue, reason: "flood of frames needing an answer")
        default:
            terminate(errorCode: NGHTTP2_PROTOCOL_ERROR.rawValue, reason: String(cString: nghttp2_strerror(code)))
        }
    }

    private func idleTimedOut() {
        guard streams.isEmpty else { return }
        beginGracefulShutdown()
        if let context { close(context) }
    }

    // MARK: - nghttp2 callbacks (inside mem_recv / session_send)

    func onBeginFrame(_ header: UnsafePointer<nghttp2_frame_hd>) -> Int32 {
        let hd = header.pointee
        return abuse.noteFrame(type: hd.type, length: hd.length, flags: hd.flags) ? 0 : NGHTTP2_ERR_CALLBACK_FAILURE.rawValue
    }

    func onBeginHeaders(_ frame: UnsafePointer<nghttp2_frame>) -> Int32 {
        guard frame.pointee.hd.type == UInt8(NGHTTP2_HEADERS.rawValue), frame.pointee.headers.cat == NGHTTP2_HCAT_REQUEST else { return 0 }
        let id = frame.pointee.hd.stream_id
        let stream = HTTP2ServerStream(id: id, connection: self)
        streams[id] = stream
        headerStream = stream
        readTimer.update(.none, owner: self, sweeper: loop.connectionDeadlines)
        return 0
    }

    func onHeader(_ frame: UnsafePointer<nghttp2_frame>, _ name: UnsafeRawBufferPointer, _ value: UnsafeRawBufferPointer) -> Int32 {
        let id = frame.pointee.hd.stream_id
        guard let stream = headerStream?.id == id ? headerStream : streams[id] else { return 0 }
        // RFC 9113 §6.5.2 accounting: name + value + 32 per field.
        stream.headerListBytes += name.count + value.count + 32
        if stream.headerListBytes > maxHeaderListBytes {
            stream.headerListTooLarge = true
            // Far beyond the limit is no mistake: a compressed block that decodes to this much is a bomb.
            if stream.headerListBytes > max(4 * maxHeaderListBytes, 256 * 1024) {
                abuse.noteHeaderBomb()
                return NGHTTP2_ERR_CALLBACK_FAILURE.rawValue
            }
            return 0
        }
        if frame.pointee.headers.cat == NGHTTP2_HCAT_HEADERS {
            // A second HEADERS block on the stream: the request's trailers.
            let field = HTTPField.Name(String(decoding: name, as: UTF8.self)).map { HTTPField(name: $0, value: String(decoding: value, as: UTF8.self)) }
            if let field {
                if stream.trailers == nil { stream.trailers = HTTPFields() }
                stream.trailers!.append(field)
            }
            return 0
        }
        stream.headerCount += 1
        if name.first == UInt8(ascii: ":") {
            switch name.count {
            case 5 where Self.equal(name, ":path"): stream.path = String(decoding: value, as: UTF8.self)
            case 7 where Self.equal(name, ":method"): stream.method = HTTPRequest.Method(token: value)
            case 7 where Self.equal(name, ":scheme"): stream.scheme = Self.scheme(value)
            case 10 where Self.equal(name, ":authority"): stream.authority = String(decoding: value, as: UTF8.self)
            default: break  // nghttp2 has already refused unknown pseudo-headers
            }
            return 0
        }
        // A regular field. nghttp2 has checked it: the name is a lower-case token (others are dropped before
        // this callback), the value has no CR, LF or NUL. So the line can be forwarded as it is.
        switch name.count {
        case 2 where Self.equal(name, "te"):
            // nghttp2 lets only `te: trailers` through.
            stream.hasTE = true
            stream.rawFields.asksForTrailers = true
        case 4 where Self.equal(name, "host"):
            // :authority wins when both are present (RFC 9113 §8.3.1); Host is used only without it.
            if stream.authority == nil { stream.authority = String(decoding: value, as: UTF8.self) }
            return 0
        case 6 where Self.equal(name, "cookie"):
            // RFC 9113 §8.2.3: split cookie crumbs are joined again for an HTTP/1.1 upstream.
            let crumb = String(decoding: value, as: UTF8.self)
            stream.cookie = stream.cookie.map { "\($0); \(crumb)" } ?? crumb
            return 0
        case 11 where Self.equal(name, "traceparent"):
            if stream.rawFields.traceparent == nil { stream.rawFields.traceparent = String(decoding: value, as: UTF8.self) }
        case 12 where Self.equal(name, "x-request-id"):
            if stream.rawFields.requestID == nil { stream.rawFields.requestID = String(decoding: value, as: UTF8.self) }
        case 12 where Self.equal(name, "content-type"):
            if stream.rawFields.contentType == nil { stream.rawFields.contentType = String(decoding: value, as: UTF8.self) }
        case 14 where Self.equal(name, "content-length"):
            stream.contentLength = HTTP1Syntax.contentLength(value)  // nghttp2 has checked it already
        case 15 where Self.equal(name, "x-forwarded-for"):
            let text = String(decoding: value, as: UTF8.self)
            stream.rawFields.forwardedFor = stream.rawFields.forwardedFor.map { "\($0), \(text)" } ?? text
        default:
            break
        }
        stream.appendFieldLine(name: name, value: value, allocator: allocator)
        return 0
    }

    private static func scheme(_ bytes: UnsafeRawBufferPointer) -> String {
        if equal(bytes, "https") { return "https" }
        if equal(bytes, "http") { return "http" }
        return String(decoding: bytes, as: UTF8.self)
    }

    private static func equal(_ bytes: UnsafeRawBufferPointer, _ text: StaticString) -> Bool {
        bytes.count == text.utf8CodeUnitCount && memcmp(bytes.baseAddress!, text.utf8Start, bytes.count) == 0
    }

    func onFrameReceived(_ frame: UnsafePointer<nghttp2_frame>) -> Int32 {
        let hd = frame.pointee.hd
        let endStream = hd.flags & UInt8(NGHTTP2_FLAG_END_STREAM.rawValue) != 0
        switch hd.type {
        case UInt8(NGHTTP2_HEADERS.rawValue):
            guard let stream = headerStream?.id == hd.stream_id ? headerStream : streams[hd.stream_id] else { return 0 }
            headerStream = nil
            if frame.pointee.headers.cat == NGHTTP2_HCAT_REQUEST {
                startRequest(stream, endStream: endStream)
            } else if endStream {
                stream.requestEnded = true
                stream.proxy?.receiveEnd(stream.trailers)
            }
        case UInt8(NGHTTP2_DATA.rawValue):
            if endStream, let stream = streams[hd.stream_id] {
                stream.requestEnded = true
                stream.proxy?.receiveEnd(nil)
            }
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
        if stream.proxy != nil, streamsToFlush.last !== stream { streamsToFlush.append(stream) }
        return 0
    }

    func onFrameSent(_ frame: UnsafePointer<nghttp2_frame>) -> Int32 {
        let hd = frame.pointee.hd
        guard hd.flags & UInt8(NGHTTP2_FLAG_END_STREAM.rawValue) != 0, let stream = streams[hd.stream_id], !stream.requestEnded else { return 0 }
        // The response is complete but the client is still sending: RFC 9113 §8.1 lets the server stop
        // the rest with RST_STREAM(NO_ERROR) instead of reading a body nobody needs.
        if let session { nghttp2_submit_rst_stream(session, UInt8(NGHTTP2_FLAG_NONE.rawValue), hd.stream_id, NGHTTP2_NO_ERROR.rawValue) }
        return 0
    }

    func onStreamClose(_ streamID: Int32, _ errorCode: UInt32) -> Int32 {
        guard let stream = streams.removeValue(forKey: streamID) else { return 0 }
        if headerStream === stream { headerStream = nil }
        stream.closed()
        if streams.isEmpty { readTimer.update(.idle, owner: self, sweeper: loop.connectionDeadlines) }
        return 0
    }

    func onInvalidFrame() -> Int32 {
        // nghttp2 resets the stream (or ends the connection) itself; repeated errors count like resets.
        abuse.noteStreamError() ? 0 : NGHTTP2_ERR_CALLBACK_FAILURE.rawValue
    }

    // MARK: - Requests

    private func startRequest(_ stream: HTTP2ServerStream, endStream: Bool) {
        stream.requestEnded = endStream
        if let cookie = stream.cookie { stream.appendFieldLine(name: "cookie", value: cookie, allocator: allocator) }
        let method = stream.method ?? .get
        let framing: HTTP1BodyFraming
        if endStream {
            framing = .none
        } else if let length = stream.contentLength {
            framing = .contentLength(length)  // nghttp2 checks the DATA adds up to it
        } else {
            framing = .chunked  // unknown length: chunked to an HTTP/1.1 upstream
        }
        let request = HTTPRequest(method: method, scheme: stream.scheme, authority: stream.authority, path: stream.path, headerFields: HTTPFields())
        let rawFields = stream.rawFields
        stream.rawFields = HTTP1RawRequestFields(lines: ByteBuffer())
        let proxy = ProxyStream(request: request, rawFields: rawFields, framing: framing, hasConnectionSpecificFields: stream.hasTE, protocolName: "HTTP/2",
                                downstreamAddress: downstreamAddress, downstreamIP: downstreamIP, downstreamL4Address: proxiedClient?.l4,
                                tls: tls, listener: listener, loop: loop, responder: stream)
        stream.proxy = proxy
        if let error = validate(stream, method: method) {
            proxy.requestMalformed(error)
            return
        }
        proxy.start()
        if endStream && !proxy.isFinished { proxy.receiveEnd(nil) }
    }

    /// The checks the HTTP/1.1 parser makes, for the same request over HTTP/2 (nghttp2 has already
    /// checked the framing-level rules: pseudo-headers, connection-specific fields, content-length).
    private func validate(_ stream: HTTP2ServerStream, method: HTTPRequest.Method) -> HTTP1ParseError? {
        if stream.headerListTooLarge { return HTTP1ParseError(.headerTooLarge, "header list too large") }
        if stream.headerCount > listener.parserLimits.maxHeaderCount { return HTTP1ParseError(.tooManyHeaders, "too many header fields") }
        if method == .connect { return HTTP1ParseError(.methodNotAllowed, "CONNECT is not supported") }
        guard let path = stream.path, let authority = stream.authority else { return .bad("missing :path or :authority") }
        if path.utf8.count > listener.parserLimits.maxURIBytes { return HTTP1ParseError(.uriTooLong, "request target too long") }
        if path.utf8.first != UInt8(ascii: "/") && path != "*" { return .bad("invalid :path") }
        if RequestTargetRules.hasDotSegment(path) { return .bad("dot-segment in request path") }
        if !RequestTargetRules.isValidAuthority(authority) { return .bad("invalid :authority") }
        return nil
    }
}

#if canImport(Glibc)
import Glibc
#endif

extension HTTP2ServerConnectionHandler: SweepTarget {
    public func sweep(now: NIODeadline) -> Bool {
        if readTimer.expired(now: now) != nil { idleTimedOut() }
        return !readTimer.isCancelled
    }
}
