import CGatewayShims
import COpenSSL
import NIOCore

/// An outbound user event for `TLSServerHandler`: the connection will close once what is written now
/// is flushed. The handler encrypts what it holds and queues close_notify behind it, so the last
/// response and the alert leave in one ciphertext write (one syscall and one packet fewer for every
/// connection that closes after its response). Harmless on a connection without TLS: the channel
/// ignores it.
public struct TLSCloseNotifyAfterFlush: Sendable {
    public init() {}
}

/// Fired down the pipeline when the handshake completes.
public struct TLSHandshakeCompleted: Sendable {
    /// The ALPN protocol agreed on, nil when none (HTTP/1.1).
    public var applicationProtocol: String?
    /// The SNI name the client asked for.
    public var serverName: String?
    /// The verified client certificate's subject (RFC 2253), when the listener verifies clients.
    public var clientSubject: String?
    /// The verified client certificate's subject alternative names, as `DNS:…`, `URI:…`, `email:…`.
    public var clientSANs: [String] = []
}

/// TLS termination with OpenSSL over memory BIOs: ciphertext from the socket goes into the read BIO,
/// plaintext comes out of `SSL_read` and travels up the pipeline. Plaintext written by the handlers
/// above is collected until `flush` (small writes into one buffer, so a response head and its body
/// become one TLS record), encrypted with one `SSL_write`, and the write BIO is drained into one
/// ciphertext write per flush.
///
/// A TLS 1.3 server's last handshake step only produces the session ticket: it is not flushed on its
/// own but leaves with the first response (one packet and one syscall fewer per connection); when the
/// client sent no request in that read, it is flushed at the end of the read, so a client that only
/// handshakes still gets its ticket.
public final class TLSServerHandler: ChannelDuplexHandler {
    public typealias InboundIn = ByteBuffer
    public typealias InboundOut = ByteBuffer
    public typealias OutboundIn = ByteBuffer
    public typealias OutboundOut = ByteBuffer

    private enum State {
        case handshaking
        case active
        case closed
    }

    private let store: TLSContextStore
    private var ssl: OpaquePointer?
    private var readBIO: OpaquePointer?
    private var writeBIO: OpaquePointer?
    private var state = State.handshaking
    /// Plaintext written before the handshake finished (rare: the server speaks second).
    private var pendingWrites: [(ByteBuffer, EventLoopPromise<Void>?)] = []
    /// The receive buffer `SSL_read` decrypts into; reused while nobody above holds on to it.
    private var plaintext = ByteBuffer()
    /// Plaintext written since the last flush, not yet encrypted.
    private var outgoing: ByteBuffer?
    /// The promises of the writes in `outgoing` (and in the write BIO), completed by the next flush.
    private var outgoingPromise: EventLoopPromise<Void>?
    /// Ciphertext sits in the write BIO that the next flush (or the end of this read) must send.
    private var ciphertextPending = false
    /// Plaintext went up the pipeline during the current read: a response (and its flush) will follow.
    private var deliveredPlaintext = false
    /// close_notify is in the write BIO, waiting for the next flush (`TLSCloseNotifyAfterFlush`).
    private var closeNotifyQueued = false
    /// The buffer the write BIO is drained into. A flush's ciphertext usually leaves the socket within
    /// that flush, so the next flush finds the storage free again and reuses it.
    private var ciphertext = ByteBuffer()

    /// Writes up to this size are gathered into one buffer before encryption; larger ones, or a gathered
    /// buffer that would outgrow a TLS record, are encrypted as they come.
    static let gatherLimit = 16 * 1024

    public init(store: TLSContextStore) {
        self.store = store
    }

    public func handlerAdded(context: ChannelHandlerContext) {
        guard let ssl = store.makeConnection(), let readBIO = BIO_new(BIO_s_mem()), let writeBIO = BIO_new(BIO_s_mem()) else {
            context.close(promise: nil)
            return
        }
        // SSL_set_bio takes ownership of both BIOs: SSL_free frees them.
        SSL_set_bio(ssl, readBIO, writeBIO)
        SSL_set_accept_state(ssl)
        self.ssl = ssl
        self.readBIO = readBIO
        self.writeBIO = writeBIO
    }

    public func handlerRemoved(context: ChannelHandlerContext) {
        if let ssl { SSL_free(ssl) }
        ssl = nil
        ciphertext = ByteBuffer()
        for (_, promise) in pendingWrites { promise?.fail(ChannelError.ioOnClosedChannel) }
        pendingWrites = []
        failOutgoing()
    }

    public func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        guard let ssl, let readBIO, state != .closed else { return }
        let ciphertext = unwrapInboundIn(data)
        _ = ciphertext.withUnsafeReadableBytes { BIO_write(readBIO, $0.baseAddress, Int32($0.count)) }
        if state == .handshaking {
            OpenSSLConnection.clearErrors()
            let result = SSL_do_handshake(ssl)
            if result == 1 && SSL_version(ssl) == TLS1_3_VERSION {
                // Only the session ticket is left to send: it waits for the first response (or the end of
                // this read). TLS 1.2's last flight carries the server's Finished and must go now.
                ciphertextPending = BIO_ctrl_pending(writeBIO!) > 0
            } else {
                flushCiphertext(context)
            }
            if result == 1 {
                state = .active
                let alpn = OpenSSLConnection.selectedALPN(ssl)
                let name = pc_ssl_servername(UnsafeMutableRawPointer(ssl)).map { String(cString: $0) }
                let subject = Self.clientSubject(ssl)
                context.fireUserInboundEventTriggered(TLSHandshakeCompleted(applicationProtocol: alpn, serverName: name, clientSubject: subject,
                                                                            clientSANs: subject == nil ? [] : Self.clientSANs(ssl)))
                let writes = pendingWrites
                pendingWrites = []
                for (buffer, promise) in writes { write(context: context, data: wrapOutboundOut(buffer), promise: promise) }
                if !writes.isEmpty { flush(context: context) }
            } else if !isRetryable(SSL_get_error(ssl, result)) {
                fail(context, "TLS handshake failed")
                return
            } else {
                return
            }
        }
        readPlaintext(context)
    }

    private func readPlaintext(_ context: ChannelHandlerContext) {
        guard let ssl else { return }
        while state == .active {
            // `clear` keeps the storage when the handlers above did not keep the last chunk (the usual
            // case: they parse it in place), else it allocates a fresh one.
            plaintext.clear(minimumCapacity: 16 * 1024)
            OpenSSLConnection.clearErrors()
            let count = plaintext.writeWithUnsafeMutableBytes(minimumWritableBytes: 16 * 1024) { bytes in
                max(0, Int(SSL_read(ssl, bytes.baseAddress, Int32(bytes.count))))
            }
            if count > 0 {
                deliveredPlaintext = true
                context.fireChannelRead(wrapInboundOut(plaintext))
                continue
            }
            let error = SSL_get_error(ssl, 0)
            if BIO_ctrl_pending(writeBIO!) > 0 {
                // Post-handshake messages (a KeyUpdate answer, tickets): sent with the next flush.
                ciphertextPending = true
            }
            if error == SSL_ERROR_ZERO_RETURN {
                // close_notify from the client.
                context.close(promise: nil)
            } else if !isRetryable(error) {
                fail(context, "TLS read failed")
            }
            return
        }
    }

    public func channelReadComplete(context: ChannelHandlerContext) {
        context.fireChannelReadComplete()
        // No request came with the handshake's end (or nothing above flushed): send what is waiting.
        if ciphertextPending && !deliveredPlaintext && state != .closed {
            flush(context: context)
        }
        deliveredPlaintext = false
    }

    public func write(context: ChannelHandlerContext, data: NIOAny, promise: EventLoopPromise<Void>?) {
        var buffer = unwrapOutboundIn(data)
        guard state == .active else {
            if state == .handshaking { pendingWrites.append((buffer, promise)) } else { promise?.fail(ChannelError.ioOnClosedChannel) }
            return
        }
        if let promise {
            if let outgoingPromise { outgoingPromise.futureResult.cascade(to: promise) } else { outgoingPromise = promise }
        }
        guard buffer.readableBytes > 0 else { return }
        if var gathered = outgoing {
            if gathered.readableBytes + buffer.readableBytes <= Self.gatherLimit {
                outgoing = nil  // keep the storage uniquely referenced while appending
                gathered.writeBuffer(&buffer)
                outgoing = gathered
                return
            }
            outgoing = nil
            guard encrypt(gathered, context) else { return }
        }
        if buffer.readableBytes >= Self.gatherLimit {
            _ = encrypt(buffer, context)
        } else {
            outgoing = buffer
        }
    }

    public func flush(context: ChannelHandlerContext) {
        if let gathered = outgoing {
            outgoing = nil
            guard encrypt(gathered, context) else { return }
        }
        let promise = outgoingPromise
        outgoingPromise = nil
        ciphertextPending = false
        flushCiphertext(context, promise: promise)
        context.flush()
    }

    /// `SSL_write` of one plaintext buffer into the write BIO; false (and the connection failing) on error.
    private func encrypt(_ buffer: ByteBuffer, _ context: ChannelHandlerContext) -> Bool {
        guard let ssl else { return false }
        OpenSSLConnection.clearErrors()
        let written = buffer.withUnsafeReadableBytes { bytes -> Int32 in
            bytes.isEmpty ? 0 : SSL_write(ssl, bytes.baseAddress, Int32(bytes.count))
        }
        if written < 0 && !isRetryable(SSL_get_error(ssl, written)) {
            fail(context, "TLS write failed")
            return false
        }
        return true
    }

    public func triggerUserOutboundEvent(context: ChannelHandlerContext, event: Any, promise: EventLoopPromise<Void>?) {
        guard event is TLSCloseNotifyAfterFlush else {
            context.triggerUserOutboundEvent(event, promise: promise)
            return
        }
        if let ssl, state == .active, !closeNotifyQueued {
            if let gathered = outgoing {
                outgoing = nil
                guard encrypt(gathered, context) else {
                    promise?.fail(ChannelError.ioOnClosedChannel)
                    return
                }
            }
            closeNotifyQueued = true
            OpenSSLConnection.clearErrors()
            SSL_shutdown(ssl)
            ciphertextPending = true
        }
        promise?.succeed(())
    }

    public func close(context: ChannelHandlerContext, mode: CloseMode, promise: EventLoopPromise<Void>?) {
        if ssl != nil, state == .active, mode == .all {
            // What was written but not flushed still goes out, before close_notify.
            if let gathered = outgoing {
                outgoing = nil
                _ = encrypt(gathered, context)
            }
        }
        if let ssl, state == .active, mode == .all {
            state = .closed
            if !closeNotifyQueued {
                OpenSSLConnection.clearErrors()
                SSL_shutdown(ssl)
            }
            let pending = outgoingPromise
            outgoingPromise = nil
            flushCiphertext(context, promise: pending)
            context.flush()
        }
        state = .closed
        failOutgoing()
        context.close(mode: mode, promise: promise)
    }

    /// Moves whatever OpenSSL produced into one ciphertext write.
    private func flushCiphertext(_ context: ChannelHandlerContext, promise: EventLoopPromise<Void>? = nil) {
        guard let writeBIO else { promise?.succeed(()); return }
        guard OpenSSLConnection.takeCiphertext(from: writeBIO, into: &ciphertext) else {
            promise?.succeed(())
            return
        }
        context.write(wrapOutboundOut(ciphertext), promise: promise)
        // A large flush's storage is not kept through the connection's idle time.
        if ciphertext.capacity > OpenSSLConnection.recycledCiphertextCapacity { ciphertext = ByteBuffer() }
        if state == .handshaking { context.flush() }
    }

    /// Writes that can no longer be sent (the connection failed or closed).
    private func failOutgoing() {
        outgoing = nil
        let promise = outgoingPromise
        outgoingPromise = nil
        promise?.fail(ChannelError.ioOnClosedChannel)
    }

    private func isRetryable(_ error: Int32) -> Bool {
        error == SSL_ERROR_WANT_READ || error == SSL_ERROR_WANT_WRITE
    }

    private func fail(_ context: ChannelHandlerContext, _ what: String) {
        state = .closed
        failOutgoing()
        flushCiphertext(context)
        context.flush()
        context.fireErrorCaught(TLSConnectionError(reason: "\(what): \(OpenSSLError.drain())"))
        context.close(promise: nil)
    }

    private static func clientSubject(_ ssl: OpaquePointer) -> String? {
        guard SSL_get0_peer_certificate(ssl) != nil else { return nil }  // no client certificate: nothing to format
        var buffer = [CChar](repeating: 0, count: 1024)
        let length = pc_ssl_peer_subject(UnsafeMutableRawPointer(ssl), &buffer, Int32(buffer.count))
        guard length > 0 else { return nil }
        return String(decoding: buffer.prefix(Int(length)).map { UInt8(bitPattern: $0) }, as: UTF8.self)
    }

    private static func clientSANs(_ ssl: OpaquePointer) -> [String] {
        var buffer = [CChar](repeating: 0, count: 4096)
        let length = pc_ssl_peer_sans(UnsafeMutableRawPointer(ssl), &buffer, Int32(buffer.count))
        guard length > 0 else { return [] }
        let text = String(decoding: buffer.prefix(Int(length)).map { UInt8(bitPattern: $0) }, as: UTF8.self)
        return text.split(separator: "\n").map(String.init)
    }
}

/// A TLS failure on one connection (handshake or record layer); the connection is closed.
public struct TLSConnectionError: Error, CustomStringConvertible, Sendable {
    public var reason: String
    /// The peer did not finish the handshake in time (a client handshake's timeout).
    public var isTimeout: Bool = false
    public var description: String { reason }
}
