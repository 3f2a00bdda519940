import GatewayTLS
import NIOCore
import NIOHTTP1
import NIOPosix

/// A one-request HTTP/1.1 client for JWKS documents: connect (with TLS for an https URL), `GET`, read a
/// 200 body up to a bound, close. Small on purpose: a fetch happens minutes apart, so it needs none of
/// the upstream manager's pools.
enum JWKSFetcher {
    struct Failure: Error, CustomStringConvertible {
        var description: String
    }

    static let maximumBodyBytes = 1 << 20

    static func fetch(_ url: JWKSURL, tls: TLSClientContext? = nil, on loop: EventLoop, timeout: TimeAmount,
                      traceparent: String? = nil) -> EventLoopFuture<[UInt8]> {
        let promise = loop.makePromise(of: [UInt8].self)
        var head = HTTPRequestHead(version: .http1_1, method: .GET, uri: url.path)
        head.headers.add(name: "host", value: url.hostHeader)
        head.headers.add(name: "accept", value: "application/json")
        head.headers.add(name: "connection", value: "close")
        head.headers.add(name: "user-agent", value: "portcullis-auth")
        // The JWKS server continues the trace of the request that asked for the keys.
        if let traceparent { head.headers.add(name: "traceparent", value: traceparent) }
        let request = head
        let deadline = loop.scheduleTask(in: timeout) {
            promise.fail(Failure(description: "timed out after \(timeout.nanoseconds / 1_000_000) ms"))
        }
        ClientBootstrap(group: loop)
            .connectTimeout(timeout)
            .channelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    if let tls {
                        // Holds the request until the handshake is done; a failed handshake closes the
                        // channel, which fails the fetch with the handshake's reason.
                        let handler = TLSClientHandler(context: tls, peer: TLSPeer(host: url.host, serverName: nil), handshakeTimeout: timeout)
                        try channel.pipeline.syncOperations.addHandler(handler)
                        handler.handshakeResult.whenFailure { error in
                            promise.fail(Failure(description: "\(error)"))
                        }
                    }
                    try channel.pipeline.syncOperations.addHTTPClientHandlers()
                    try channel.pipeline.syncOperations.addHandler(JWKSResponseHandler(request: request, promise: promise))
                }
            }
            .connect(host: url.host, port: url.port)
            .whenComplete { result in
                switch result {
                case .failure(let error):
                    promise.fail(Failure(description: "cannot connect: \(error)"))
                case .success(let channel):
                    promise.futureResult.whenComplete { _ in channel.close(promise: nil) }
                }
            }
        promise.futureResult.whenComplete { _ in deadline.cancel() }
        return promise.futureResult
    }
}

/// Sends the request once connected and collects a 200 response's body.
private final class JWKSResponseHandler: ChannelInboundHandler {
    typealias InboundIn = HTTPClientResponsePart
    typealias OutboundOut = HTTPClientRequestPart

    private let request: HTTPRequestHead
    private let promise: EventLoopPromise<[UInt8]>
    private var body: [UInt8] = []
    private var status: HTTPResponseStatus?

    init(request: HTTPRequestHead, promise: EventLoopPromise<[UInt8]>) {
        self.request = request
        self.promise = promise
    }

    func channelActive(context: ChannelHandlerContext) {
        context.write(wrapOutboundOut(.head(request)), promise: nil)
        context.writeAndFlush(wrapOutboundOut(.end(nil)), promise: nil)
        context.fireChannelActive()
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        switch unwrapInboundIn(data) {
        case .head(let head):
            status = head.status
        case .body(let chunk):
            guard body.count + chunk.readableBytes <= JWKSFetcher.maximumBodyBytes else {
                promise.fail(JWKSFetcher.Failure(description: "JWKS larger than \(JWKSFetcher.maximumBodyBytes) bytes"))
                context.close(promise: nil)
                return
            }
            body += chunk.readableBytesView
        case .end:
            if status == .ok {
                promise.succeed(body)
            } else {
                promise.fail(JWKSFetcher.Failure(description: "status \(status.map { "\($0.code)" } ?? "none")"))
            }
            context.close(promise: nil)
        }
    }

    func channelInactive(context: ChannelHandlerContext) {
        promise.fail(JWKSFetcher.Failure(description: "connection closed before the response ended"))
        context.fireChannelInactive()
    }

    func errorCaught(context: ChannelHandlerContext, error: Error) {
        promise.fail(JWKSFetcher.Failure(description: "\(error)"))
        context.close(promise: nil)
    }
}
