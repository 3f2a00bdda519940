import CGatewayShims
import COpenSSL
import NIOCore

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
/// plaintext comes out of `SSL_read` and travels up the pipeline; plaintext written by the handlers
/// above goes through `SSL_write`, and the write BIO is drained into the socket after every OpenSSL call
/// (a completed handshake can still leave session tickets to send).
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
    private var plaintext = ByteBuffer()

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
        for (_, promise) in pendingWrites { promise?.fail(ChannelError.ioOnClosedChannel) }
        pendingWrites = []
    }

    public func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        guard let ssl, let readBIO, state != .closed else { return }
        let ciphertext = unwrapInboundIn(data)
        _ = ciphertext.withUnsafeReadableBytes { BIO_write(readBIO, $0.baseAddress, Int32($0.count)) }
        if state == .handshaking {
            ERR_clear_error()
            let result = SSL_do_handshake(ssl)
            flushCiphertext(context)
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
            plaintext.clear()
            plaintext.reserveCapacity(minimumWritableBytes: 16 * 1024)
            ERR_clear_error()
            let count = plaintext.writeWithUnsafeMutableBytes(minimumWritableBytes: 16 * 1024) { bytes in
                max(0, Int(SSL_read(ssl, bytes.baseAddress, Int32(bytes.count))))
            }
            if count > 0 {
                // Hand over this buffer; the next iteration allocates a fresh one.
                let chunk = plaintext
                plaintext = ByteBuffer()
                context.fireChannelRead(wrapInboundOut(chunk))
                continue
            }
            let error = SSL_get_error(ssl, 0)
            flushCiphertext(context)
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
    }

    public func write(context: ChannelHandlerContext, data: NIOAny, promise: EventLoopPromise<Void>?) {
        let buffer = unwrapOutboundIn(data)
        guard let ssl, state == .active else {
            if state == .handshaking { pendingWrites.append((buffer, promise)) } else { promise?.fail(ChannelError.ioOnClosedChannel) }
            return
        }
        ERR_clear_error()
        let written = buffer.withUnsafeReadableBytes { bytes -> Int32 in
            bytes.isEmpty ? 0 : SSL_write(ssl, bytes.baseAddress, Int32(bytes.count))
        }
        if written < 0 && !isRetryable(SSL_get_error(ssl, written)) {
            promise?.fail(ChannelError.ioOnClosedChannel)
            fail(context, "TLS write failed")
            return
        }
        flushCiphertext(context, promise: promise)
    }

    public func flush(context: ChannelHandlerContext) {
        context.flush()
    }

    public func close(context: ChannelHandlerContext, mode: CloseMode, promise: EventLoopPromise<Void>?) {
        if let ssl, state == .active, mode == .all {
            state = .closed
            ERR_clear_error()
            SSL_shutdown(ssl)
            flushCiphertext(context)
            context.flush()
        }
        state = .closed
        context.close(mode: mode, promise: promise)
    }

    /// Moves whatever OpenSSL produced into one ciphertext write.
    private func flushCiphertext(_ context: ChannelHandlerContext, promise: EventLoopPromise<Void>? = nil) {
        guard let writeBIO else { promise?.succeed(()); return }
        guard let out = OpenSSLConnection.takeCiphertext(from: writeBIO, allocator: context.channel.allocator) else {
            promise?.succeed(())
            return
        }
        context.write(wrapOutboundOut(out), promise: promise)
        if state == .handshaking { context.flush() }
    }

    private func isRetryable(_ error: Int32) -> Bool {
        error == SSL_ERROR_WANT_READ || error == SSL_ERROR_WANT_WRITE
    }

    private func fail(_ context: ChannelHandlerContext, _ what: String) {
        state = .closed
        flushCiphertext(context)
        context.flush()
        context.fireErrorCaught(TLSConnectionError(reason: "\(what): \(OpenSSLError.drain())"))
        context.close(promise: nil)
    }

    private static func clientSubject(_ ssl: OpaquePointer) -> String? {
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
