import GatewayCore
import GatewayFilterAPI
import GatewayTLS
import Logging
import NIOCore

/// Chooses HTTP/1.1 or HTTP/2 for a connection, then replaces itself with that protocol's handler:
/// after the TLS handshake by ALPN (`h2` or anything else), or on a plaintext h2c listener by the
/// client's first bytes (the HTTP/2 connection preface, RFC 9113 §3.4, or an HTTP/1.1 request).
final class HTTPProtocolSwitch: ChannelInboundHandler, RemovableChannelHandler {
    typealias InboundIn = ByteBuffer
    typealias InboundOut = ByteBuffer

    enum Mode {
        case alpn
        case priorKnowledge
    }

    private let mode: Mode
    private let listener: ListenerRuntime
    private let loop: LoopContext
    private let proxiedClient: (client: String, l4: String)?
    private var buffered: ByteBuffer?
    private var switched = false

    static let preface: [UInt8] = Array("PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n".utf8)

    init(mode: Mode, listener: ListenerRuntime, loop: LoopContext, proxiedClient: (client: String, l4: String)?) {
        self.mode = mode
        self.listener = listener
        self.loop = loop
        self.proxiedClient = proxiedClient
    }

    func userInboundEventTriggered(context: ChannelHandlerContext, event: Any) {
        if mode == .alpn, !switched, let handshake = event as? TLSHandshakeCompleted {
            switchTo(http2: handshake.applicationProtocol == "h2", context: context, tls: DownstreamTLS(handshake))
            // The new handler sees the event too (it carries the client certificate's subject).
        }
        context.fireUserInboundEventTriggered(event)
        if switched { context.pipeline.syncOperations.removeHandler(context: context, promise: nil) }
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        guard mode == .priorKnowledge, !switched else {
            context.fireChannelRead(data)
            return
        }
        buffered.appendReceived(unwrapInboundIn(data))
        guard let bytes = buffered else { return }
        // Decide as soon as the bytes so far either match the preface or cannot.
        let compared = min(bytes.readableBytes, Self.preface.count)
        let matches = bytes.withUnsafeReadableBytes { raw in raw.prefix(compared).elementsEqual(Self.preface.prefix(compared)) }
        if matches && compared < Self.preface.count { return }
        switchTo(http2: matches, context: context, tls: nil)
        buffered = nil
        context.fireChannelRead(wrapInboundOut(bytes))
        context.pipeline.syncOperations.removeHandler(context: context, promise: nil)
    }

    func channelInactive(context: ChannelHandlerContext) {
        context.fireChannelInactive()
    }

    /// Before the switch, the only errors are the handshake's (or the socket's).
    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        if let tlsError = error as? TLSConnectionError {
            loop.metrics.listeners[listener.index].tlsHandshakeFailures += 1
            Self.logger.warning("TLS failure", metadata: [
                "listener": "\(listener.name)", "client": "\(proxiedClient?.client ?? context.channel.remoteAddress.map { "\($0)" } ?? "?")",
                "reason": "\(tlsError.reason)",
            ])
        }
        context.close(promise: nil)
    }

    private static let logger = Logger(label: "portcullis.edge")

    private func switchTo(http2: Bool, context: ChannelHandlerContext, tls: DownstreamTLS?) {
        switched = true
        let handler: ChannelHandler = http2
            ? HTTP2ServerConnectionHandler(listener: listener, loop: loop, proxiedClient: proxiedClient, tls: tls)
            : HTTP1ServerConnectionHandler(listener: listener, loop: loop, proxiedClient: proxiedClient)
        do {
            try context.pipeline.syncOperations.addHandler(handler, position: .after(self))
        } catch {
            context.close(promise: nil)
        }
    }
}
