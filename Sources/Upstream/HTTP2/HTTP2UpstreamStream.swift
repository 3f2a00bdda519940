import CNGHTTP2
import HTTP1
import HTTPTypes
import NIOCore

/// One exchange on a multiplexed HTTP/2 upstream connection: a client stream. It queues the request body
/// for nghttp2's data source (bounded: over the high mark the proxy pauses the client), collects the
/// response head and trailers from the header callbacks, and acknowledges response DATA (WINDOW_UPDATE)
/// only while the downstream takes it, so the peer's send window bounds what a slow client makes us hold.
public final class HTTP2UpstreamStream: UpstreamExchange {
    private enum State {
        /// Handed out by the pool; the request has not been submitted.
        case reserved
        /// Submitted; `id` is the stream id.
        case open
        /// Response complete, failed, aborted or given back.
        case done
    }

    public let endpoint: Endpoint
    unowned let connection: HTTP2UpstreamConnection
    private var state = State.reserved
    private(set) var id: Int32 = -1
    private var delegate: UpstreamResponseDelegate?
    private var isHEAD = false

    // Request body, for the data source.
    private var bodyQueue = CircularBuffer<ByteBuffer>(initialCapacity: 4)
    private var queuedBytes = 0
    private var requestEnded = false
    private(set) var requestTrailers: HTTPFields?
    /// The data source returned DEFERRED and waits for `resume_data`.
    private var deferred = false
    private var writable = true
    private var hasBody = false

    // Response, as the header callbacks deliver it.
    private var status = 0
    private var rawFields = ByteBuffer()
    private var contentLength: Int64?
    private var headDelivered = false
    private var responseTrailers: HTTPFields?
    private var paused = false
    private var unconsumedBytes = 0
    /// Set when the peer refused the stream unprocessed: safe to retry anywhere.
    private var refused = false

    /// Above this many queued request-body bytes the client is paused; below the low mark it resumes.
    /// The gap (768 KiB) is larger than what an HTTP/1.1 client connection reads in one event-loop turn
    /// after a resume (NIO: up to 4 reads of up to 64 KiB): with a small gap that connection took in
    /// more per pause/resume cycle than it passed on, and its unparsed buffer grew (and was copied on
    /// every append) until the upload crawled.
    static let highWatermark = 1024 * 1024
    static let lowWatermark = 256 * 1024

    init(endpoint: Endpoint, connection: HTTP2UpstreamConnection) {
        self.endpoint = endpoint
        self.connection = connection
    }

    public var isWritable: Bool { writable }
    public var resetIsSafeToRetry: Bool { refused }
    var isOpen: Bool { if case .open = state { true } else { false } }

    // MARK: - UpstreamExchange

    public func sendRequestHead(_ request: HTTPRequest, edits: ForwardingEdits, framing: HTTP1BodyFraming, delegate: UpstreamResponseDelegate) {
        guard case .reserved = state else {
            delegate.upstreamFailed(.connectionReset(beforeResponse: true))
            return
        }
        self.delegate = delegate
        isHEAD = request.method == .head
        hasBody = framing != .none
        requestEnded = !hasBody
        let id = connection.submitRequest(self, request: request, edits: edits, framing: framing)
        guard id > 0 else {
            // The connection is gone or going away: nothing was sent.
            state = .done
            refused = true
            self.delegate = nil
            delegate.upstreamFailed(.connectionReset(beforeResponse: true))
            return
        }
        self.id = id
        state = .open
    }

    public func sendBody(_ body: ByteBuffer) {
        guard case .open = state, hasBody, !requestEnded, body.readableBytes > 0 else { return }
        queuedBytes += body.readableBytes
        bodyQueue.append(body)
        resumeDataIfDeferred()
        if writable && queuedBytes > Self.highWatermark {
            writable = false
            delegate?.upstreamWritabilityChanged(false)
        }
    }

    public func sendEnd(trailers: HTTPFields?) {
        guard case .open = state else { return }
        if hasBody && !requestEnded {
            requestEnded = true
            if let trailers, !trailers.isEmpty { requestTrailers = trailers }
            resumeDataIfDeferred()
        }
        connection.scheduleSend()
    }

    public func flush() { connection.scheduleSend() }

    public func pauseReading() { paused = true }

    public func resumeReading() {
        guard paused else { return }
        paused = false
        if unconsumedBytes > 0 {
            connection.consume(stream: id, unconsumedBytes)
            unconsumedBytes = 0
            connection.scheduleSend()
        }
    }

    public func abort() {
        delegate = nil
        switch state {
        case .reserved:
            state = .done
            connection.streamReleased(self)
        case .open:
            state = .done
            connection.resetStream(self, errorCode: NGHTTP2_CANCEL.rawValue)
        case .done:
            break
        }
    }

    public func returnUnused() {
        guard case .reserved = state else { return }
        state = .done
        connection.streamReleased(self)
    }

    // MARK: - Request body, for nghttp2's data source

    /// Copies up to `maxLength` queued bytes into `out`; nil when there is nothing yet (DEFERRED).
    func readBody(into out: UnsafeMutablePointer<UInt8>, maxLength: Int) -> (length: Int, end: Bool)? {
        if queuedBytes == 0 && !requestEnded {
            deferred = true
            return nil
        }
        var written = 0
        while written < maxLength, var head = bodyQueue.first {
            let take = min(maxLength - written, head.readableBytes)
            head.withUnsafeReadableBytes { bytes in
                (out + written).update(from: bytes.baseAddress!.assumingMemoryBound(to: UInt8.self), count: take)
            }
            head.moveReaderIndex(forwardBy: take)
            if head.readableBytes == 0 {
                bodyQueue.removeFirst()
            } else {
                bodyQueue[bodyQueue.startIndex] = head
            }
            written += take
        }
        queuedBytes -= written
        if !writable && queuedBytes <= Self.lowWatermark {
            writable = true
            connection.notifyWritableLater(self)
        }
        return (written, requestEnded && queuedBytes == 0)
    }

    func notifyWritable() {
        guard case .open = state, writable else { return }
        delegate?.upstreamWritabilityChanged(true)
    }

    private func resumeDataIfDeferred() {
        guard deferred else { return }
        deferred = false
        connection.resumeData(stream: id)
    }

    // MARK: - Response, from the session callbacks

    func receiveHeader(name: UnsafeRawBufferPointer, value: UnsafeRawBufferPointer) {
        if headDelivered {
            // A second header block: the trailers.
            guard let fieldName = HTTPField.Name(String(decoding: name, as: UTF8.self)) else { return }
            if responseTrailers == nil { responseTrailers = HTTPFields() }
            responseTrailers!.append(HTTPField(name: fieldName, value: String(decoding: value, as: UTF8.self)))
            return
        }
        if name.first == UInt8(ascii: ":") {
            // nghttp2 has checked the pseudo-headers: a response has only `:status`, three digits.
            if name.count == 7 { status = value.reduce(0) { $0 * 10 + Int($1 &- 0x30) } }
            return
        }
        if name.count == 14, Self.equalsContentLength(name) { contentLength = Int64(String(decoding: value, as: UTF8.self)) }
        rawFields.writeBytes(name)
        rawFields.writeStaticString(": ")
        rawFields.writeBytes(value)
        rawFields.writeStaticString("\r\n")
    }

    private static func equalsContentLength(_ name: UnsafeRawBufferPointer) -> Bool {
        zip(name, "content-length".utf8).allSatisfy { $0 == $1 }
    }

    /// A complete header block arrived.
    func headersEnded(endStream: Bool) {
        guard case .open = state else { return }
        if !headDelivered {
            if status >= 100 && status < 200 {
                // An interim response (100 Continue, 103 Early Hints): the final one follows.
                status = 0
                rawFields.clear()
                contentLength = nil
                return
            }
            headDelivered = true
            let framing: HTTP1BodyFraming
            if endStream {
                // Nothing follows. An HTTP/1.1 client needs the length said, or it would read until close.
                if contentLength == nil && !isHEAD && status != 204 && status != 304 { rawFields.writeStaticString("content-length: 0\r\n") }
                framing = .none
            } else if let contentLength, !isHEAD {
                framing = .contentLength(contentLength)
            } else {
                framing = .chunked
            }
            let head = HTTP1ResponseHead(status: HTTPResponse.Status(code: status, reasonPhrase: Self.reasonPhrase(status)), minorVersion: 1,
                                         keepAlive: true, framing: framing, rawFields: rawFields)
            rawFields = ByteBuffer()
            delegate?.upstreamResponseHead(head)
        }
        // The delegate may have aborted the stream on the head (a retry): then nothing more is owed.
        if endStream, case .open = state { responseEnded() }
    }

    /// HTTP/2 has no reason phrase, but an HTTP/1.1 client gets a status line: the usual phrase, or the
    /// status class (some clients refuse an empty one).
    static func reasonPhrase(_ code: Int) -> String {
        switch code {
        case 200: "OK"
        case 201: "Created"
        case 202: "Accepted"
        case 204: "No Content"
        case 206: "Partial Content"
        case 301: "Moved Permanently"
        case 302: "Found"
        case 303: "See Other"
        case 304: "Not Modified"
        case 307: "Temporary Redirect"
        case 308: "Permanent Redirect"
        case 400: "Bad Request"
        case 401: "Unauthorized"
        case 403: "Forbidden"
        case 404: "Not Found"
        case 405: "Method Not Allowed"
        case 408: "Request Timeout"
        case 409: "Conflict"
        case 410: "Gone"
        case 412: "Precondition Failed"
        case 413: "Content Too Large"
        case 415: "Unsupported Media Type"
        case 418: "I'm a teapot"
        case 422: "Unprocessable Content"
        case 429: "Too Many Requests"
        case 500: "Internal Server Error"
        case 501: "Not Implemented"
        case 502: "Bad Gateway"
        case 503: "Service Unavailable"
        case 504: "Gateway Timeout"
        case 200..<300: "Success"
        case 300..<400: "Redirection"
        case 400..<500: "Client Error"
        default: "Server Error"
        }
    }

    func receiveData(_ bytes: UnsafeRawBufferPointer) {
        guard case .open = state, let delegate else {
            connection.consume(stream: id, bytes.count)
            return
        }
        var buffer = connection.allocator.buffer(capacity: bytes.count)
        buffer.writeBytes(bytes)
        if paused {
            unconsumedBytes += bytes.count
        } else {
            connection.consume(stream: id, bytes.count)
        }
        delegate.upstreamResponseBody(buffer)
    }

    func dataEnded() {
        guard case .open = state else { return }
        responseEnded()
    }

    func readComplete() { delegate?.upstreamReadComplete() }

    private func responseEnded() {
        state = .done
        let delegate = self.delegate
        self.delegate = nil
        if !requestEnded {
            // The response is complete before the request body (an early answer): stop sending it.
            bodyQueue.removeAll()
            queuedBytes = 0
            connection.resetStream(self, errorCode: NGHTTP2_NO_ERROR.rawValue)
        }
        delegate?.upstreamResponseEnd(responseTrailers)
    }

    /// nghttp2 closed the stream. `refused`: the server did not process it (REFUSED_STREAM, or above the
    /// last stream id of a GOAWAY), so any request may be retried.
    func closed(errorCode: UInt32, refused: Bool) {
        bodyQueue.removeAll()
        queuedBytes = 0
        if unconsumedBytes > 0 {
            connection.consumeConnection(unconsumedBytes)
            unconsumedBytes = 0
        }
        guard case .open = state else {
            state = .done
            return
        }
        state = .done
        self.refused = refused
        let delegate = self.delegate
        self.delegate = nil
        delegate?.upstreamFailed(.connectionReset(beforeResponse: refused || !headDelivered))
    }

    /// The connection failed or closed before the stream could complete.
    func connectionLost(refused: Bool) {
        switch state {
        case .reserved:
            // Still with the proxy: its `sendRequestHead` will learn the connection is gone.
            break
        case .open:
            closed(errorCode: NGHTTP2_INTERNAL_ERROR.rawValue, refused: refused)
        case .done:
            break
        }
    }
}
