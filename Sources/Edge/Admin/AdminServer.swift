import GatewayCore
import Logging
import NIOCore
import NIOHTTP1
import NIOPosix

/// The admin listener: health for the L4 tier (`/live`, `/ready`), `/metrics` for Prometheus,
/// `/clusters`, `/config`, `POST /drain`, and a status page on `/` (kept live from `/status.json`). Separate from the data path:
/// plain NIOHTTP1, one small request at a time, never on a client-facing port.
public final class AdminServer: Sendable {
    public let channel: Channel
    public var port: Int { channel.localAddress?.port ?? 0 }

    /// - Parameter onDrain: what `POST /drain` starts (the same drain as SIGTERM, without exiting).
    /// - Parameter onReload: what `POST /reload` runs; returns nil on success or why the config was rejected.
    public static func start(address: HostPort, gateway: GatewayServer, group: EventLoopGroup,
                             onReload: (@Sendable () async -> String?)? = nil,
                             onDrain: @escaping @Sendable () -> Void) async throws -> AdminServer {
        let channel = try await ServerBootstrap(group: group)
            .serverChannelOption(.socketOption(.so_reuseaddr), value: 1)
            .childChannelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    try channel.pipeline.syncOperations.configureHTTPServerPipeline()
                    try channel.pipeline.syncOperations.addHandler(AdminHandler(gateway: gateway, onReload: onReload, onDrain: onDrain))
                }
            }
            .bind(host: address.host, port: address.port)
            .get()
        return AdminServer(channel: channel)
    }

    private init(channel: Channel) { self.channel = channel }

    public func close() async { try? await channel.close() }
}

final class AdminHandler: ChannelInboundHandler {
    typealias InboundIn = HTTPServerRequestPart
    typealias OutboundOut = HTTPServerResponsePart

    private let gateway: GatewayServer
    private let onDrain: @Sendable () -> Void
    private let onReload: (@Sendable () async -> String?)?
    private var head: HTTPRequestHead?

    init(gateway: GatewayServer, onReload: (@Sendable () async -> String?)?, onDrain: @escaping @Sendable () -> Void) {
        self.gateway = gateway
        self.onReload = onReload
        self.onDrain = onDrain
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        switch unwrapInboundIn(data) {
        case .head(let head): self.head = head
        case .body: break  // admin requests carry no body worth reading
        case .end:
            guard let head else { return }
            self.head = nil
            route(head, context: context)
        }
    }

    private func route(_ head: HTTPRequestHead, context: ChannelHandlerContext) {
        let path = head.uri.split(separator: "?", maxSplits: 1).first.map(String.init) ?? head.uri
        switch (head.method, path) {
        case (.GET, "/live"):
            respond(context, head, .ok, "text/plain", "live\n")
        case (.GET, "/ready"):
            gateway.isDraining ? respond(context, head, .serviceUnavailable, "text/plain", "draining\n")
                               : respond(context, head, .ok, "text/plain", "ready\n")
        case (.GET, "/config"):
            respond(context, head, .ok, "text/yaml", EffectiveConfigPrinter.yaml(gateway.runtime.config))
        case (.POST, "/drain"):
            let already = gateway.isDraining
            if !already {
                gateway.markDraining()  // /ready fails from this answer on
                onDrain()
            }
            respond(context, head, .accepted, "application/json", "{\"draining\":true,\"already\":\(already)}\n")
        case (.POST, "/reload"):
            guard let onReload else {
                respond(context, head, .notImplemented, "text/plain", "reload needs a config file (portcullis run --config)\n")
                return
            }
            let loopBound = NIOLoopBound((self, context), eventLoop: context.eventLoop)
            let eventLoop = context.eventLoop
            Task {
                let problem = await onReload()
                eventLoop.execute {
                    let (handler, context) = loopBound.value
                    if let problem {
                        handler.respond(context, head, .badRequest, "text/plain", "config rejected; the previous config keeps serving:\n\(problem)\n")
                    } else {
                        handler.respond(context, head, .ok, "text/plain", "reloaded\n")
                    }
                }
            }
        case (.GET, "/metrics"), (.GET, "/clusters"), (.GET, "/"), (.GET, "/status.json"):
            let loopBound = NIOLoopBound((self, context), eventLoop: context.eventLoop)
            let gateway = self.gateway
            gateway.metricsSnapshot(on: context.eventLoop).and(gateway.healthSnapshot(on: context.eventLoop)).whenComplete { result in
                let (handler, context) = loopBound.value
                guard case .success(let (snapshot, health)) = result else {
                    handler.respond(context, head, .internalServerError, "text/plain", "metrics unavailable\n")
                    return
                }
                let runtime = handler.gateway.runtime
                let generation = handler.gateway.generation
                switch path {
                case "/metrics":
                    handler.respond(context, head, .ok, "text/plain; version=0.0.4",
                                    PrometheusText.render(snapshot, health: health, runtime: runtime, draining: handler.gateway.isDraining,
                                                          filterCounters: handler.gateway.carriedFilterCounters()))
                case "/clusters":
                    handler.respond(context, head, .ok, "application/json", AdminPages.clustersJSON(snapshot, health: health, runtime: runtime))
                case "/status.json":
                    handler.respond(context, head, .ok, "application/json",
                                    AdminPages.statusJSON(snapshot, health: health, runtime: runtime, draining: handler.gateway.isDraining, generation: generation))
                default:
                    handler.respond(context, head, .ok, "text/html; charset=utf-8",
                                    AdminPages.statusHTML(snapshot, health: health, runtime: runtime, draining: handler.gateway.isDraining, generation: generation))
                }
            }
        default:
            respond(context, head, .notFound, "text/plain", "not found: try /, /status.json, /ready, /live, /metrics, /clusters, /config, POST /reload, POST /drain\n")
        }
    }

    private func respond(_ context: ChannelHandlerContext, _ request: HTTPRequestHead, _ status: HTTPResponseStatus, _ type: String, _ body: String) {
        var buffer = context.channel.allocator.buffer(capacity: body.utf8.count)
        buffer.writeString(body)
        var headers = HTTPHeaders()
        headers.add(name: "content-type", value: type)
        headers.add(name: "content-length", value: String(buffer.readableBytes))
        headers.add(name: "cache-control", value: "no-store")
        if !request.isKeepAlive { headers.add(name: "connection", value: "close") }
        context.write(wrapOutboundOut(.head(HTTPResponseHead(version: request.version, status: status, headers: headers))), promise: nil)
        if request.method != .HEAD { context.write(wrapOutboundOut(.body(.byteBuffer(buffer))), promise: nil) }
        let done = context.writeAndFlush(wrapOutboundOut(.end(nil)))
        if !request.isKeepAlive {
            let channel = context.channel
            done.whenComplete { _ in channel.close(promise: nil) }
        }
    }
}
