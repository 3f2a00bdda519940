import CGatewayShims
import COpenSSL
import NIOCore

/// What a client handshake established; fired as a user inbound event and the value of
/// `TLSClientHandler.handshakeResult`.
public struct TLSClientHandshakeCompleted: Sendable, Equatable {
    /// The ALPN protocol the server chose, nil when none (HTTP/1.1). An HTTP/2 upstream checks for "h2".
    public var applicationProtocol: String?
    /// Whether an earlier session was resumed (no certificate exchange).
    public var resumed: Bool
    /// "TLSv1.2" or "TLSv1.3".
    public var version: String
}

/// TLS origination with OpenSSL over memory BIOs: plaintext written by the handlers after it goes
/// through `SSL_write`, ciphertext from the socket goes into the read BIO and plaintext comes out of
/// `SSL_read`. Knows nothing of HTTP, so an HTTP/1 connection, an HTTP/2 session or a health probe
/// can sit after it.
///
/// The handshake starts when the channel becomes active. Writes before it completes are held
/// (bounded by `maxBufferedBytes`) and go out after it, in order. `handshakeResult` succeeds with the
/// negotiated ALPN protocol, or fails with a `TLSConnectionError` whose reason says why (e.g.
/// `certificate verify failed: hostname mismatch`); the channel is then closed. Closing sends
/// close_notify.
///
/// ```swift
/// try channel.pipeline.syncOperations.addHandler(TLSClientHandler(context: tls, peer: peer))
/// try channel.pipeline.syncOperations.addHandler(connection)
/// ```
public final class TLSClientHandler: ChannelDuplexHandler {
    public typealias InboundIn = ByteBuffer
    public typealias InboundOut = ByteBuffer
    public typealias OutboundIn = ByteBuffer
    public typealias OutboundOut = ByteBuffer

    private enum State {
        /// Added, channel not yet active: nothing sent.
        case idle
        /// ClientHello sent; writes are held until the server's Finished arrives.
        case handshaking
        case active
        /// close_notify sent or received, or failed: nothing more goes through SSL.
        case closed
    }

    /// Plaintext that may wait for the handshake (or a retry after WANT_READ); more fails the write.
    public static let maxBufferedBytes = 1 << 20

    private let tlsContext: TLSClientContext
    private let peer: TLSPeer
    private let sessions: TLSClientSessionCache?
    private let sessionSlot: Int
    private let handshakeTimeout: TimeAmount?
    private var ssl: OpaquePointer?
    private var readBIO: OpaquePointer?
    private var writeBIO: OpaquePointer?
    private var state = State.idle
    private var handshakePromise: EventLoopPromise<TLSClientHandshakeCompleted>?
    private var handshakeTimer: Scheduled<Void>?
    /// Plaintext not yet given to SSL_write, oldest first, with the caller's promises.
    private var held: CircularBuffer<(ByteBuffer, EventLoopPromise<Void>?)> = []
    private var heldBytes = 0
    private var flushRequested = false
    private var plaintext = ByteBuffer()
    /// The buffer the write BIO is drained into, reused across flushes as the server handler does: a
    /// request's ciphertext usually leaves the socket within its flush, so the next flush finds it free.
    private var ciphertext = ByteBuffer()

    /// What the handshake agreed on; nil until it completed.
    public private(set) var negotiated: TLSClientHandshakeCompleted?

    /// Completes when the handshake does; available from `handlerAdded` on.
    public var handshakeResult: EventLoopFuture<TLSClientHandshakeCompleted> {
        guard let handshakeFuture else { preconditionFailure("handshakeResult before the handler was added to a pipeline") }
        return handshakeFuture
    }
    private var handshakeFuture: EventLoopFuture<TLSClientHandshakeCompleted>?

    /// - Parameters:
    ///   - context: The cluster's client context.
    ///   - peer: The SNI name and the name or address the certificate must match.
    ///   - sessions: The loop's session cache; nil: no resumption.
    ///   - sessionSlot: The endpoint's slot in `sessions`.
    ///   - handshakeTimeout: Fails the handshake when the server does not finish it in time.
    public init(context: TLSClientContext, peer: TLSPeer, sessions: TLSClientSessionCache? = nil, sessionSlot: Int = 0,
                handshakeTimeout: TimeAmount? = nil) {
        self.tlsContext = context
        self.peer = peer
        self.sessions = context.configuration.sessionResumption ? sessions : nil
        self.sessionSlot = sessionSlot
        self.handshakeTimeout = handshakeTimeout
    }

    // MARK: - Lifecycle

    public func handlerAdded(context: ChannelHandlerContext) {
        let promise = context.eventLoop.makePromise(of: TLSClientHandshakeCompleted.self)
        handshakePromise = promise
        handshakeFuture = promise.futureResult
        guard let ssl = tlsContext.makeConnection(peer: peer), let readBIO = BIO_new(BIO_s_mem()), let writeBIO = BIO_new(BIO_s_mem()) else {
            state = .closed
            handshakePromise = nil
            promise.fail(TLSConnectionError(reason: "cannot create a TLS connection: \(OpenSSLError.drain())"))
            return
        }
        // SSL_set_bio takes ownership of both BIOs: SSL_free frees them.
        SSL_set_bio(ssl, readBIO, writeBIO)
        SSL_set_connect_state(ssl)
        // The new-session callback finds this handler through the SSL's app data. Unretained is safe:
        // callbacks run only inside SSL calls made by this handler, and handlerRemoved frees the SSL.
        SSL_set_ex_data(ssl, 0, Unmanaged.passUnretained(self).toOpaque())
        // A copy: OpenSSL marks a TLS 1.3 session it resumed as used up (tickets are single-use by
        // RFC 8446's advice, for the privacy of browsers), and a server that does not renew tickets on
        // resumption would then leave every other connection with a full handshake. Between the
        // gateway and its own upstreams, linkability is no concern; a server that refuses a reused
        // ticket just gets a full handshake and sends a new one.
        if let session = sessions?.session(slot: sessionSlot), let copy = SSL_SESSION_dup(session) {
            SSL_set_session(ssl, copy)
            SSL_SESSION_free(copy)
        }
        self.ssl = ssl
        self.readBIO = readBIO
        self.writeBIO = writeBIO
        if context.channel.isActive { startHandshake(context) }
    }

    public func handlerRemoved(context: ChannelHandlerContext) {
        handshakeTimer?.cancel()
        handshakeTimer = nil
        if let ssl {
            SSL_set_ex_data(ssl, 0, nil)
            SSL_free(ssl)
        }
        ssl = nil
        readBIO = nil
        writeBIO = nil
        state = .closed
        let promise = handshakePromise
        handshakePromise = nil
        promise?.fail(TLSConnectionError(reason: "TLS handler removed before the handshake completed"))
        failHeld(ChannelError.ioOnClosedChannel)
    }

    public func channelActive(context: ChannelHandlerContext) {
        startHandshake(context)
        context.fireChannelActive()
    }

    public func channelInactive(context: ChannelHandlerContext) {
        if state == .handshaking || state == .idle {
            handshakeFailed(context, TLSConnectionError(reason: "TLS handshake failed: connection closed by the server"), close: false)
        }
        state = .closed
        failHeld(ChannelError.ioOnClosedChannel)
        context.fireChannelInactive()
    }

    private func startHandshake(_ context: ChannelHandlerContext) {
        guard state == .idle else { return }
        guard ssl != nil else {
            // handlerAdded could not create the SSL object; handshakeResult has failed already.
            context.close(promise: nil)
            return
        }
        state = .handshaking
        if let handshakeTimeout {
            let bound = NIOLoopBound((self, context), eventLoop: context.eventLoop)
            handshakeTimer = context.eventLoop.scheduleTask(in: handshakeTimeout) {
                let (handler, context) = bound.value
                guard handler.state == .handshaking else { return }
                handler.handshakeFailed(context, TLSConnectionError(reason: "TLS handshake timed out", isTimeout: true), close: true)
            }
        }
        stepHandshake(context)
    }

    /// One SSL_do_handshake: sends what it produced; on completion releases the held writes.
    private func stepHandshake(_ context: ChannelHandlerContext) {
        guard let ssl else { return }
        OpenSSLConnection.clearErrors()
        let result = SSL_do_handshake(ssl)
        flushCiphertext(context)
        context.flush()
        if result == 1 {
            handshakeCompleted(context, ssl)
            return
        }
        let error = SSL_get_error(ssl, result)
        if error == SSL_ERROR_WANT_READ || error == SSL_ERROR_WANT_WRITE { return }
        // A failed resumption must not be offered again.
        sessions?.remove(slot: sessionSlot)
        handshakeFailed(context, TLSConnectionError(reason: "TLS handshake failed: \(Self.handshakeReason(ssl))"), close: true)
    }

    private func handshakeCompleted(_ context: ChannelHandlerContext, _ ssl: OpaquePointer) {
        state = .active
        handshakeTimer?.cancel()
        handshakeTimer = nil
        let result = TLSClientHandshakeCompleted(applicationProtocol: OpenSSLConnection.selectedALPN(ssl), resumed: SSL_session_reused(ssl) == 1,
                                                 version: String(cString: pc_ssl_version(UnsafeMutableRawPointer(ssl))))
        negotiated = result
        let promise = handshakePromise
        handshakePromise = nil
        context.fireUserInboundEventTriggered(result)
        promise?.succeed(result)
        writeHeld(context)
    }

    private func handshakeFailed(_ context: ChannelHandlerContext, _ error: TLSConnectionError, close: Bool) {
        state = .closed
        handshakeTimer?.cancel()
        handshakeTimer = nil
        failHeld(error)
        let promise = handshakePromise
        handshakePromise = nil
        promise?.fail(error)
        if close {
            context.fireErrorCaught(error)
            context.close(promise: nil)
        }
    }

    /// OpenSSL's own words for a failed handshake: the certificate check's reason first.
    private static func handshakeReason(_ ssl: OpaquePointer) -> String {
        if let verify = pc_ssl_verify_error(UnsafeMutableRawPointer(ssl)) {
            _ = OpenSSLError.drain()
            return "certificate verify failed: \(String(cString: verify))"
        }
        return OpenSSLError.drain()
    }

    // MARK: - Inbound

    public func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        guard let readBIO, state == .handshaking || state == .active else { return }
        let ciphertext = unwrapInboundIn(data)
        _ = ciphertext.withUnsafeReadableBytes { BIO_write(readBIO, $0.baseAddress, Int32($0.count)) }
        if state == .handshaking {
            stepHandshake(context)
        }
        readPlaintext(context)
        // A write that wanted to read first (a post-handshake message in flight) can go now.
        if state == .active && !held.isEmpty { writeHeld(context) }
    }

    private func readPlaintext(_ context: ChannelHandlerContext) {
        guard let ssl, let readBIO else { return }
        while state == .active {
            OpenSSLConnection.clearErrors()
            var result: Int32 = 0
            // Plaintext is never longer than the ciphertext it came from: a small response gets a small
            // buffer rather than a record's worth (a partial record's rest comes on the next turn).
            let expected = Int(BIO_ctrl_pending(readBIO)) + Int(SSL_pending(ssl))
            plaintext.writeWithUnsafeMutableBytes(minimumWritableBytes: min(16 * 1024, max(1024, expected))) { bytes in
                result = SSL_read(ssl, bytes.baseAddress, Int32(clamping: bytes.count))
                return max(0, Int(result))
            }
            if result > 0 {
                // Hand over this buffer; the next read allocates a fresh one.
                let chunk = plaintext
                plaintext = ByteBuffer()
                context.fireChannelRead(wrapInboundOut(chunk))
                continue
            }
            let error = SSL_get_error(ssl, result)
            flushCiphertext(context)
            switch error {
            case SSL_ERROR_WANT_READ, SSL_ERROR_WANT_WRITE:
                return
            case SSL_ERROR_ZERO_RETURN:
                // close_notify from the server: answer it and close.
                close(context: context, mode: .all, promise: nil)
            default:
                fail(context, TLSConnectionError(reason: "TLS read failed: \(OpenSSLError.drain())"))
            }
            return
        }
    }

    public func channelReadComplete(context: ChannelHandlerContext) {
        context.fireChannelReadComplete()
    }

    // MARK: - Outbound

    public func write(context: ChannelHandlerContext, data: NIOAny, promise: EventLoopPromise<Void>?) {
        let buffer = unwrapOutboundIn(data)
        switch state {
        case .idle, .handshaking:
            hold(buffer, promise, context)
        case .active:
            if held.isEmpty {
                encrypt(buffer, promise, context)
            } else {
                hold(buffer, promise, context)
            }
        case .closed:
            promise?.fail(ChannelError.ioOnClosedChannel)
        }
    }

    public func flush(context: ChannelHandlerContext) {
        if state == .active && held.isEmpty {
            context.flush()
        } else {
            flushRequested = true
        }
    }

    public func close(context: ChannelHandlerContext, mode: CloseMode, promise: EventLoopPromise<Void>?) {
        guard mode == .all else {
            context.close(mode: mode, promise: promise)
            return
        }
        switch state {
        case .active:
            state = .closed
            if let ssl {
                OpenSSLConnection.clearErrors()
                SSL_shutdown(ssl)
                flushCiphertext(context)
                context.flush()
            }
            failHeld(ChannelError.ioOnClosedChannel)
        case .idle, .handshaking:
            handshakeFailed(context, TLSConnectionError(reason: "TLS handshake failed: connection closed before the handshake completed"), close: false)
        case .closed:
            break
        }
        context.close(mode: mode, promise: promise)
    }

    private func hold(_ buffer: ByteBuffer, _ promise: EventLoopPromise<Void>?, _ context: ChannelHandlerContext) {
        guard heldBytes + buffer.readableBytes <= Self.maxBufferedBytes else {
            // Dropping just this write would leave a hole in the stream: the connection fails instead.
            let error = TLSConnectionError(reason: "more than \(Self.maxBufferedBytes) bytes written before the TLS handshake completed")
            promise?.fail(error)
            fail(context, error)
            return
        }
        heldBytes += buffer.readableBytes
        held.append((buffer, promise))
    }

    /// Encrypts the held writes in order; stops (keeping the rest) when OpenSSL wants to read first.
    private func writeHeld(_ context: ChannelHandlerContext) {
        var wrote = false
        while state == .active, let (buffer, promise) = held.popFirst() {
            heldBytes -= buffer.readableBytes
            guard encrypt(buffer, promise, context, requeue: true) else { break }
            wrote = true
        }
        if (wrote || flushRequested) && held.isEmpty {
            flushRequested = false
            context.flush()
        }
    }

    /// SSL_write of a whole buffer, its records forwarded with the caller's promise. Returns false when
    /// the buffer went back to the front of the held queue (OpenSSL wants to read first).
    @discardableResult
    private func encrypt(_ buffer: ByteBuffer, _ promise: EventLoopPromise<Void>?, _ context: ChannelHandlerContext, requeue: Bool = false) -> Bool {
        guard let ssl else {
            promise?.fail(ChannelError.ioOnClosedChannel)
            return true
        }
        guard buffer.readableBytes > 0 else {
            context.write(wrapOutboundOut(buffer), promise: promise)
            return true
        }
        OpenSSLConnection.clearErrors()
        // Without SSL_MODE_ENABLE_PARTIAL_WRITE, SSL_write takes all of it or nothing.
        let written = buffer.withUnsafeReadableBytes { SSL_write(ssl, $0.baseAddress, Int32(clamping: $0.count)) }
        if written > 0 {
            flushCiphertext(context, promise: promise)
            return true
        }
        let error = SSL_get_error(ssl, written)
        if error == SSL_ERROR_WANT_READ || error == SSL_ERROR_WANT_WRITE {
            // Nothing was taken: keep the bytes for after the next read, in order.
            flushCiphertext(context)
            heldBytes += buffer.readableBytes
            if requeue { held.prepend((buffer, promise)) } else { held.append((buffer, promise)) }
            return false
        }
        let failure = TLSConnectionError(reason: "TLS write failed: \(OpenSSLError.drain())")
        promise?.fail(failure)
        fail(context, failure)
        return false
    }

    /// Moves whatever OpenSSL produced into one ciphertext write.
    private func flushCiphertext(_ context: ChannelHandlerContext, promise: EventLoopPromise<Void>? = nil) {
        guard let writeBIO else {
            promise?.fail(ChannelError.ioOnClosedChannel)
            return
        }
        guard OpenSSLConnection.takeCiphertext(from: writeBIO, into: &ciphertext) else {
            promise?.succeed(())
            return
        }
        context.write(wrapOutboundOut(ciphertext), promise: promise)
        // A large flush's storage (a request body) is not kept while the connection idles in the pool.
        if ciphertext.capacity > OpenSSLConnection.recycledCiphertextCapacity { ciphertext = ByteBuffer() }
    }

    private func fail(_ context: ChannelHandlerContext, _ error: TLSConnectionError) {
        state = .closed
        handshakeTimer?.cancel()
        handshakeTimer = nil
        let promise = handshakePromise
        handshakePromise = nil
        promise?.fail(error)
        failHeld(error)
        flushCiphertext(context)
        context.flush()
        context.fireErrorCaught(error)
        context.close(promise: nil)
    }

    private func failHeld(_ error: any Error) {
        while let (_, promise) = held.popFirst() { promise?.fail(error) }
        heldBytes = 0
    }

    // MARK: - Sessions

    /// From the new-session callback, inside an SSL call of this handler.
    func sessionArrived(_ session: OpaquePointer) -> Bool {
        return sessions?.store(session, slot: sessionSlot) ?? false
    }
}
