import NIOConcurrencyHelpers
import NIOCore
import NIOHTTP1
import NIOPosix

/// A tiny HTTP server on 127.0.0.1:0 that serves whatever JWKS body (and status) the test sets, and
/// counts the requests it answered.
final class JWKSTestServer: Sendable {
    struct Content: Sendable {
        var status: HTTPResponseStatus = .ok
        var body: String
    }

    let content: NIOLockedValueBox<Content>
    private let requests: NIOLockedValueBox<Int>
    /// The `traceparent` of each request answered, nil where it had none.
    private let traceparents: NIOLockedValueBox<[String?]>
    private let channel: Channel
    var port: Int { channel.localAddress!.port! }
    var url: String { "http://127.0.0.1:\(port)/.well-known/jwks.json" }

    static func start(body: String, group: EventLoopGroup) async throws -> JWKSTestServer {
        let content = NIOLockedValueBox(Content(body: body))
        let requests = NIOLockedValueBox(0)
        let traceparents = NIOLockedValueBox<[String?]>([])
        let channel = try await ServerBootstrap(group: group)
            .serverChannelOption(.socketOption(.so_reuseaddr), value: 1)
            .childChannelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    try channel.pipeline.syncOperations.configureHTTPServerPipeline()
                    try channel.pipeline.syncOperations.addHandler(Handler(content: content, requests: requests, traceparents: traceparents))
                }
            }
            .bind(host: "127.0.0.1", port: 0).get()
        return JWKSTestServer(content: content, requests: requests, traceparents: traceparents, channel: channel)
    }

    private init(content: NIOLockedValueBox<Content>, requests: NIOLockedValueBox<Int>, traceparents: NIOLockedValueBox<[String?]>, channel: Channel) {
        self.content = content
        self.channel = channel
        self.requests = requests
        self.traceparents = traceparents
    }

    var requestCount: Int { requests.withLockedValue { $0 } }
    var receivedTraceparents: [String?] { traceparents.withLockedValue { $0 } }

    func set(_ body: String, status: HTTPResponseStatus = .ok) {
        content.withLockedValue { $0 = Content(status: status, body: body) }
    }

    func stop() async { try? await channel.close() }

    private final class Handler: ChannelInboundHandler {
        typealias InboundIn = HTTPServerRequestPart
        typealias OutboundOut = HTTPServerResponsePart
        let content: NIOLockedValueBox<Content>
        let requests: NIOLockedValueBox<Int>
        let traceparents: NIOLockedValueBox<[String?]>

        init(content: NIOLockedValueBox<Content>, requests: NIOLockedValueBox<Int>, traceparents: NIOLockedValueBox<[String?]>) {
            self.content = content
            self.requests = requests
            self.traceparents = traceparents
        }

        func channelRead(context: ChannelHandlerContext, data: NIOAny) {
            if case .head(let head) = unwrapInboundIn(data) {
                traceparents.withLockedValue { $0.append(head.headers.first(name: "traceparent")) }
            }
            guard case .end = unwrapInboundIn(data) else { return }
            let current = content.withLockedValue { $0 }
            requests.withLockedValue { $0 += 1 }
            var head = HTTPResponseHead(version: .http1_1, status: current.status)
            head.headers.add(name: "content-type", value: "application/json")
            head.headers.add(name: "content-length", value: "\(current.body.utf8.count)")
            context.write(wrapOutboundOut(.head(head)), promise: nil)
            context.write(wrapOutboundOut(.body(.byteBuffer(ByteBuffer(string: current.body)))), promise: nil)
            context.writeAndFlush(wrapOutboundOut(.end(nil)), promise: nil)
        }
    }
}
