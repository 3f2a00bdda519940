import CNGHTTP2
import GatewayCore
import HTTP1
import HTTPTypes
import NIOCore

/// One HTTP/2 stream on the client side: collects the request head from nghttp2's header callbacks,
/// runs it as a `ProxyStream`, and is that stream's `DownstreamResponder`, queueing response bytes
/// for nghttp2's data source (which copies them into frames only as flow control allows).
final class HTTP2ServerStream {
    let id: Int32
    unowned let connection: HTTP2ServerConnectionHandler

    // Request head, as the header callbacks deliver it.
    var method: HTTPRequest.Method?
    var scheme: String?
    var authority: String?
    var path: String?
    /// The regular fields as HTTP/1 field lines (`name: value` CRLF, names lower-case as HTTP/2 has them),
    /// with the few values the proxy reads noted: forwarded to an HTTP/1.1 upstream as bytes, and turned
    /// into `HTTPFields` only when something needs them (a filter, an HTTP/2 upstream).
    var rawFields = HTTP1RawRequestFields(lines: ByteBuffer())
    /// The Content-Length value (nghttp2 has checked it is one number and that the DATA adds up to it).
    var contentLength: Int64?
    var cookie: String?
    var hasTE = false
    var headerListBytes = 0
    var headerCount = 0
    var headerListTooLarge = false
    var receivingTrailers = false
    var trailers: HTTPFields?

    var proxy: ProxyStream?
    var requestEnded = false

    // Request body flow control: bytes received while the upstream side is paused are acknowledged
    // (WINDOW_UPDATE) only on resume, so the client's window is what bounds the gateway's buffering.
    private var requestPaused = false
    private var unconsumedBytes = 0

    // Response.
    private(set) var responseSubmitted = false
    /// The oldest queued body chunk; most responses have exactly one, so no queue is allocated for them.
    private var bodyHead: ByteBuffer?
    /// The chunks after `bodyHead`, created when a second one is queued.
    private var bodyQueue: CircularBuffer<ByteBuffer>?
    private(set) var queuedBytes = 0
    private var responseEnded = false
    private var responseTrailers: HTTPFields?
    /// The data source returned DEFERRED and waits for `resume_data`.
    private var deferred = false
    private var writable = true

    /// Above this many queued response bytes the upstream is paused; below the low mark it resumes.
    static let highWatermark = 256 * 1024
    static let lowWatermark = 64 * 1024

    init(id: Int32, connection: HTTP2ServerConnectionHandler) {
        self.id = id
        self.connection = connection
    }

    // MARK: - Request side

    /// Appends `name: value` CRLF to the raw field lines (the first one allocates their buffer).
    func appendFieldLine(name: UnsafeRawBufferPointer, value: UnsafeRawBufferPointer, allocator: ByteBufferAllocator) {
        let length = name.count + value.count + 4
        if rawFields.lines.capacity == 0 { rawFields.lines = allocator.buffer(capacity: max(256, length)) }
        rawFields.lines.writeBytes(name)
        rawFields.lines.writeStaticString(": ")
        rawFields.lines.writeBytes(value)
        rawFields.lines.writeStaticString("\r\n")
    }

    func appendFieldLine(name: StaticString, value: String, allocator: ByteBufferAllocator) {
        if rawFields.lines.capacity == 0 { rawFields.lines = allocator.buffer(capacity: 256) }
        rawFields.lines.writeStaticString(name)
        rawFields.lines.writeStaticString(": ")
        rawFields.lines.writeString(value)
        rawFields.lines.writeStaticString("\r\n")
    }

    /// A DATA payload arrived for this stream (a copy: nghttp2's buffer is only valid in the callback).
    func receiveData(_ bytes: UnsafeRawBufferPointer) {
        guard let proxy, !proxy.isFinished else {
            connection.consume(stream: id, bytes.count)
            return
        }
        var buffer = connection.allocator.buffer(capacity: bytes.count)
        buffer.writeBytes(bytes)
        proxy.receiveBody(buffer)
        if requestPaused {
            unconsumedBytes += bytes.count
        } else {
            connection.consume(stream: id, bytes.count)
        }
    }

    // MARK: - Response side, for nghttp2's data source

    /// How many queued bytes the next DATA frame may carry, and whether it ends the body.
    func nextDataFrame(maxLength: Int) -> (length: Int, end: Bool)? {
        let length = min(maxLength, queuedBytes)
        if length == 0 && !responseEnded {
            deferred = true
            return nil
        }
        return (length, responseEnded && length == queuedBytes)
    }

    var pendingTrailers: HTTPFields? { responseTrailers }

    /// Moves `length` queued bytes into the connection's output (the DATA payload).
    func writeBody(length: Int, into out: inout ByteBuffer) {
        var remaining = length
        while remaining > 0, var head = bodyHead {
            let take = min(remaining, head.readableBytes)
            if take == head.readableBytes {
                out.writeBuffer(&head)
                bodyHead = bodyQueue?.popFirst()
            } else {
                bodyHead = nil  // keep `head` uniquely referenced while reading from it
                var slice = head.readSlice(length: take)!
                out.writeBuffer(&slice)
                bodyHead = head
            }
            remaining -= take
        }
        queuedBytes -= length
        if !writable && queuedBytes <= Self.lowWatermark {
            writable = true
            connection.notifyWritableLater(self)
        }
    }

    func notifyWritable() { proxy?.downstreamWritabilityChanged(true) }

    /// The stream is still in the connection's table (not closed or reset).
    private(set) var isOpen = true

    /// The client is gone or reset the stream.
    func closed() {
        isOpen = false
        bodyHead = nil
        bodyQueue = nil
        queuedBytes = 0
        if let proxy, !proxy.isFinished { proxy.downstreamClosed() }
        proxy = nil
    }

    private func resumeDataIfDeferred() {
        guard deferred, responseSubmitted else { return }
        deferred = false
        connection.resumeData(stream: id)
    }
}

extension HTTP2ServerStream: DownstreamResponder {
    func sendResponseHead(_ response: HTTPResponse, bodyLength: ResponseBodyLength) {
        let hasBody = HTTP2ServerStream.mayHaveBody(status: response.status.code, bodyLength: bodyLength, method: method)
        responseSubmitted = connection.submitResponse(stream: self, status: response.status.code, hasBody: hasBody) { nv in
            for field in response.headerFields { nv.append(name: field.name.canonicalName, value: field.value) }
        }
        if !hasBody { responseEnded = true }
    }

    func sendUpstreamResponseHead(_ head: HTTP1ResponseHead, bodyLength: ResponseBodyLength) {
        let hasBody = HTTP2ServerStream.mayHaveBody(status: head.status.code, bodyLength: bodyLength, method: method)
        responseSubmitted = connection.submitResponse(stream: self, status: head.status.code, hasBody: hasBody) { nv in
            head.forEachRawField { line, known in
                switch known {
                case .connection, .transferEncoding, .otherHopByHop: return
                case .contentLength, .other, .host, .expect: nv.appendRawLine(line)
                }
            }
        }
        if !hasBody { responseEnded = true }
    }

    static func mayHaveBody(status: Int, bodyLength: ResponseBodyLength, method: HTTPRequest.Method?) -> Bool {
        !(bodyLength == .none || method == .head || status == 204 || status == 304 || status < 200)
    }

    func sendResponseBody(_ body: ByteBuffer) {
        guard responseSubmitted, !responseEnded, body.readableBytes > 0 else { return }
        queuedBytes += body.readableBytes
        if bodyHead == nil {
            bodyHead = body
        } else if bodyQueue == nil {
            bodyQueue = CircularBuffer(initialCapacity: 4)
            bodyQueue!.append(body)
        } else {
            bodyQueue!.append(body)
        }
        resumeDataIfDeferred()
        if writable && queuedBytes > Self.highWatermark {
            writable = false
            proxy?.downstreamWritabilityChanged(false)
        }
    }

    func sendResponseEnd(_ trailers: HTTPFields?) {
        guard responseSubmitted, !responseEnded else { return }
        responseEnded = true
        if let trailers, !trailers.isEmpty { responseTrailers = trailers }
        resumeDataIfDeferred()
    }

    func flush() { connection.scheduleSend() }

    var isWritable: Bool { writable }

    func pauseRequestBody() { requestPaused = true }

    func resumeRequestBody() {
        guard requestPaused else { return }
        requestPaused = false
        if unconsumedBytes > 0 {
            connection.consume(stream: id, unconsumedBytes)
            unconsumedBytes = 0
        }
        connection.scheduleSend()
    }

    func abortResponse() {
        connection.resetStream(id, errorCode: NGHTTP2_INTERNAL_ERROR.rawValue)
    }

    func streamFinished(closeConnection: Bool) {
        // HTTP/2 ends streams, not connections: `closeConnection` (an HTTP/1.1 notion) does not apply.
        proxy = nil
        if !responseSubmitted { connection.resetStream(id, errorCode: NGHTTP2_INTERNAL_ERROR.rawValue) }
        connection.scheduleSend()
    }
}
