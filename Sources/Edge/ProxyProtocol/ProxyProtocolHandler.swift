import GatewayCore
import HTTP1
import Logging
import NIOCore

/// The first handler on a listener that expects the PROXY protocol: it reads the header the L4 tier
/// sends, then hands the connection to HTTP with the client address the header names. A peer outside
/// `trusted_sources`, a missing or malformed header, or one that does not arrive within the header-read
/// timeout closes the connection (logged, never answered: the peer is a load balancer, not a client).
final class ProxyProtocolHandler: ChannelInboundHandler, RemovableChannelHandler {
    typealias InboundIn = ByteBuffer
    typealias InboundOut = ByteBuffer

    private let listener: ListenerRuntime
    private let loop: LoopContext
    private let decoder: ProxyProtocolDecoder
    private var received: ByteBuffer?
    private var timeout: Scheduled<Void>?
    private var done = false
    private static let logger = Logger(label: "portcullis.proxy-protocol")

    init(listener: ListenerRuntime, loop: LoopContext) {
        self.listener = listener
        self.loop = loop
        let accepts: ProxyProtocolDecoder.Accepts = switch listener.proxyProtocol {
        case .v1: .v1
        case .v2: .v2
        case .any, .off: .any
        }
        self.decoder = ProxyProtocolDecoder(accepts: accepts)
    }

    func handlerAdded(context: ChannelHandlerContext) {
        let peer = context.channel.remoteAddress
        if !listener.trustedSources.isEmpty, !(peer.map { address in listener.trustedSources.contains { $0.contains(address) } } ?? false) {
            reject(context, "peer \(peer.map { "\($0)" } ?? "?") is not in trusted_sources")
            return
        }
        if let limit = listener.headerReadTimeout {
            let channel = context.channel
            let counters = NIOLoopBound((loop, listener.index), eventLoop: context.eventLoop)
            timeout = context.eventLoop.scheduleTask(in: limit) {
                counters.value.0.metrics.listeners[counters.value.1].proxyProtocolErrors += 1
                Self.logger.warning("PROXY protocol header timeout", metadata: ["listener": "\(channel.localAddress.map { "\($0)" } ?? "?")"])
                channel.close(promise: nil)
            }
        }
    }

    func handlerRemoved(context: ChannelHandlerContext) { timeout?.cancel() }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        guard !done else { return }
        received.appendReceived(unwrapInboundIn(data))
        guard let buffer = received else { return }
        do {
            switch try decoder.decode(buffer) {
            case .needMoreData:
                return
            case .header(let header):
                done = true
                timeout?.cancel()
                var rest = buffer
                rest.moveReaderIndex(forwardBy: header.length)
                received = nil
                handOver(context, header: header, rest: rest)
            }
        } catch {
            reject(context, error.reason)
        }
    }

    private func handOver(_ context: ChannelHandlerContext, header: ProxyProtocolHeader, rest: ByteBuffer) {
        let l4 = context.channel.remoteAddress.map(HTTP1ServerConnectionHandler.describe) ?? "unknown"
        let proxied = header.source.map { (client: $0, l4: l4) }
        do {
            try GatewayServer.addHTTPHandlers(to: context.pipeline.syncOperations, listener: listener, loop: loop,
                                              proxiedClient: proxied, after: self)
        } catch {
            context.close(promise: nil)
            return
        }
        if rest.readableBytes > 0 {
            context.fireChannelRead(wrapInboundOut(rest))
            context.fireChannelReadComplete()
        }
        context.pipeline.syncOperations.removeHandler(self, promise: nil)
    }

    private func reject(_ context: ChannelHandlerContext, _ reason: String) {
        done = true
        timeout?.cancel()
        loop.metrics.listeners[listener.index].proxyProtocolErrors += 1
        Self.logger.warning("PROXY protocol connection refused", metadata: [
            "listener": "\(listener.name)", "peer": "\(context.channel.remoteAddress.map { "\($0)" } ?? "?")", "reason": "\(reason)",
        ])
        context.close(promise: nil)
    }
}
