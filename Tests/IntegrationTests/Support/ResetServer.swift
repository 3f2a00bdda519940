import NIOCore
import NIOPosix

/// A backend that reads a request and answers with a TCP reset (SO_LINGER 0, then close): the upstream
/// failure "connection reset before the response" on every request, unlike the echo's `fail=reset`,
/// which depends on the query and so would reset on every endpoint alike.
enum ResetServer {
    static func start(group: EventLoopGroup) async throws -> Channel {
        try await ServerBootstrap(group: group)
            .serverChannelOption(.socketOption(.so_reuseaddr), value: 1)
            .childChannelInitializer { channel in
                channel.eventLoop.makeCompletedFuture { try channel.pipeline.syncOperations.addHandler(ResetOnReadHandler()) }
            }
            .bind(host: "127.0.0.1", port: 0)
            .get()
    }
}

final class ResetOnReadHandler: ChannelInboundHandler {
    typealias InboundIn = ByteBuffer

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        let channel = context.channel
        guard let provider = channel as? SocketOptionProvider else {
            channel.close(promise: nil)
            return
        }
        provider.setSoLinger(linger(l_onoff: 1, l_linger: 0)).whenComplete { _ in channel.close(promise: nil) }
    }
}
