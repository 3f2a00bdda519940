import GatewayCore
import GatewayTLS
import Logging
import NIOConcurrencyHelpers
import NIOCore
import NIOPosix
import Upstream

/// Binds every listener of a runtime on a shared event-loop group and wires each accepted connection
/// to its loop's context.
public final class GatewayServer: Sendable {
    public let runtime: GatewayRuntime
    public let contexts: LoopContexts
    private let group: EventLoopGroup
    private let channels: [Channel]
    private let logger: Logger
    /// Per cluster, its health monitor (nil for a cluster without health checks or outlier detection).
    public let healthMonitors: [ClusterHealthMonitor?]
    private let drainingFlag = NIOLockedValueBox(false)

    /// True once a drain was asked for (SIGTERM, `POST /drain`): `/ready` fails from then on.
    public var isDraining: Bool { drainingFlag.withLockedValue { $0 } }

    /// Readiness fails from now on, while traffic is still served (the drain delay).
    public func markDraining() { drainingFlag.withLockedValue { $0 = true } }

    /// Every loop's counters, summed. Each loop copies its own on its own thread.
    public func metricsSnapshot(on eventLoop: EventLoop) -> EventLoopFuture<LoopMetrics.Snapshot> {
        // Each context is read only on its own loop.
        let futures = contexts.all.map { context in context.eventLoop.submit { context.metrics.snapshot } }
        return EventLoopFuture.whenAllSucceed(futures, on: eventLoop).map { snapshots in
            var total = snapshots[0]
            for snapshot in snapshots.dropFirst() { total.add(snapshot) }
            return total
        }
    }

    /// Every cluster's health, each read on its monitor's loop.
    public func healthSnapshot(on eventLoop: EventLoop) -> EventLoopFuture<[ClusterHealthStatus]> {
        let futures = zip(runtime.clusters, healthMonitors).map { cluster, monitor in
            guard let monitor else { return eventLoop.makeSucceededFuture(ClusterHealthStatus.unmonitored(cluster)) }
            return monitor.eventLoop.submit { monitor.status }
        }
        return EventLoopFuture.whenAllSucceed(futures, on: eventLoop)
    }

    /// The address each listener is bound to, by listener name (useful with port 0).
    public let boundAddresses: [String: SocketAddress]

    public static func start(runtime: GatewayRuntime, group: EventLoopGroup, sink: StdoutSink, logger: Logger) async throws -> GatewayServer {
        var loopContexts: [LoopContext] = []
        for (index, eventLoop) in group.makeIterator().enumerated() {
            let accessLog = AccessLogBuffer(eventLoop: eventLoop, sink: sink, enabled: runtime.config.accessLog.enabled)
            loopContexts.append(LoopContext(eventLoop: eventLoop, loopIndex: index, runtime: runtime, accessLog: accessLog))
        }
        let contexts = LoopContexts(loopContexts)
        // One monitor per cluster for the process, spread over the loops; it publishes to every loop.
        let monitors: [ClusterHealthMonitor?] = runtime.clusters.map { cluster in
            guard ClusterHealthMonitor.isNeeded(for: cluster) else { return nil }
            let monitor = ClusterHealthMonitor(cluster: cluster, eventLoop: loopContexts[cluster.index % loopContexts.count].eventLoop, logger: logger)
            monitor.start(loops: loopContexts.map { $0.clusters[cluster.index] })
            return monitor
        }
        var channels: [Channel] = []
        var addresses: [String: SocketAddress] = [:]
        do {
            for listener in runtime.listeners {
                let channel = try await bind(listener, group: group, contexts: contexts)
                channels.append(channel)
                addresses[listener.name] = channel.localAddress
                logger.info("listening", metadata: ["listener": "\(listener.name)", "address": "\(channel.localAddress.map { "\($0)" } ?? "?")"])
            }
        } catch {
            for channel in channels { try? await channel.close() }
            throw ListenError(listener: runtime.listeners[channels.count].name, address: runtime.listeners[channels.count].address.description, underlying: error)
        }
        return GatewayServer(runtime: runtime, contexts: contexts, group: group, channels: channels, addresses: addresses, logger: logger,
                             healthMonitors: monitors)
    }

    private init(runtime: GatewayRuntime, contexts: LoopContexts, group: EventLoopGroup, channels: [Channel], addresses: [String: SocketAddress], logger: Logger,
                 healthMonitors: [ClusterHealthMonitor?]) {
        self.healthMonitors = healthMonitors
        self.runtime = runtime
        self.contexts = contexts
        self.group = group
        self.channels = channels
        self.boundAddresses = addresses
        self.logger = logger
    }

    private static func bind(_ listener: ListenerRuntime, group: EventLoopGroup, contexts: LoopContexts) async throws -> Channel {
        try await ServerBootstrap(group: group)
            .serverChannelOption(.backlog, value: 4096)
            .serverChannelOption(.socketOption(.so_reuseaddr), value: 1)
            .childChannelOption(.socketOption(.tcp_nodelay), value: 1)
            .childChannelOption(.maxMessagesPerRead, value: 4)
            // NIO keeps each connection's last receive buffer for reuse, so its initial size is paid by
            // every idle keep-alive connection. Start small; the allocator grows it for busy ones.
            .childChannelOption(.recvAllocator, value: AdaptiveRecvByteBufferAllocator(minimum: 64, initial: 512, maximum: 64 * 1024))
            .childChannelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    let loop = contexts.context(for: channel.eventLoop)
                    if listener.proxyProtocol == .off {
                        try addHTTPHandlers(to: channel.pipeline.syncOperations, listener: listener, loop: loop, proxiedClient: nil)
                    } else {
                        try channel.pipeline.syncOperations.addHandler(ProxyProtocolHandler(listener: listener, loop: loop))
                    }
                }
            }
            .bind(host: listener.address.host, port: listener.address.port)
            .get()
    }

    /// TLS (when the listener has it) and HTTP/1.1 or HTTP/2, after any PROXY protocol header. When a
    /// listener can speak both, a switch decides per connection (ALPN, or the h2c preface).
    static func addHTTPHandlers(to pipeline: ChannelPipeline.SynchronousOperations, listener: ListenerRuntime, loop: LoopContext,
                                proxiedClient: (client: String, l4: String)?, after: ChannelHandler? = nil) throws {
        var handlers: [ChannelHandler] = []
        if let tls = listener.tls {
            handlers.append(TLSServerHandler(store: tls.current))
            if tls.offersHTTP2 {
                handlers.append(HTTPProtocolSwitch(mode: .alpn, listener: listener, loop: loop, proxiedClient: proxiedClient))
            } else {
                handlers.append(HTTP1ServerConnectionHandler(listener: listener, loop: loop, proxiedClient: proxiedClient))
            }
        } else if listener.http2.cleartext {
            handlers.append(HTTPProtocolSwitch(mode: .priorKnowledge, listener: listener, loop: loop, proxiedClient: proxiedClient))
        } else {
            handlers.append(HTTP1ServerConnectionHandler(listener: listener, loop: loop, proxiedClient: proxiedClient))
        }
        if let after {
            var anchor = after
            for handler in handlers {
                try pipeline.addHandler(handler, position: .after(anchor))
                anchor = handler
            }
        } else {
            for handler in handlers { try pipeline.addHandler(handler) }
        }
    }

    /// Re-reads every TLS listener's certificate and key files: when they changed, or always with `force`
    /// (SIGHUP). New connections get the new certificates; open ones keep theirs. A failed reload keeps
    /// the old certificates and logs why.
    public func reloadCertificates(force: Bool) {
        for listener in runtime.listeners {
            guard let tls = listener.tls else { continue }
            switch tls.reload(force: force) {
            case .unchanged:
                break
            case .reloaded:
                logger.info("TLS certificates reloaded", metadata: ["listener": "\(listener.name)"])
            case .failed(let reason):
                logger.error("TLS certificate reload failed; keeping the previous certificates",
                             metadata: ["listener": "\(listener.name)", "reason": "\(reason)"])
            }
        }
    }

    /// Checks the certificate files for changes every `interval`, on one event loop.
    public func watchCertificates(every interval: TimeAmount) -> RepeatedTask? {
        guard runtime.listeners.contains(where: { $0.tls != nil }) else { return nil }
        let loop = group.next()
        return loop.scheduleRepeatedTask(initialDelay: interval, delay: interval) { [self] _ in
            reloadCertificates(force: false)
        }
    }

    /// Starts a new random session-ticket key on each TLS listener every `tls.session_ticket_rotation`
    /// (not for listeners with key files: those rotate by replacing the files).
    public func rotateTicketKeysPeriodically() -> [RepeatedTask] {
        var tasks: [RepeatedTask] = []
        for (listener, config) in zip(runtime.listeners, runtime.config.listeners) {
            guard let tls = listener.tls, let settings = config.tls, settings.sessionTicketKeyFiles.isEmpty,
                  let ms = settings.sessionTicketRotation.milliseconds else { continue }
            let keys = tls.ticketKeys
            tasks.append(group.next().scheduleRepeatedTask(initialDelay: .milliseconds(ms), delay: .milliseconds(ms)) { _ in keys.rotate() })
        }
        return tasks
    }

    /// Starts the drain without waiting: `/ready` fails, the listeners close, every open connection is
    /// asked to finish. Safe from any thread.
    public func beginDrain() {
        markDraining()
        for channel in channels { channel.close(promise: nil) }
        for context in contexts.all {
            context.eventLoop.execute { context.connections.drainAll() }
        }
    }

    /// Graceful shutdown: stops accepting, asks every open connection to finish (HTTP/1.1: the response
    /// in progress is the last and says `Connection: close`; HTTP/2: GOAWAY, open streams complete),
    /// and waits until they have closed or `timeout` passes. Returns how many were still open.
    public func drain(timeout: TimeAmount) async -> Int {
        beginDrain()
        let deadline = NIODeadline.now() + timeout
        while true {
            var open = 0
            for context in contexts.all {
                open += (try? await context.eventLoop.submit { context.connections.count }.get()) ?? 0
            }
            if open == 0 || NIODeadline.now() >= deadline { return open }
            try? await Task.sleep(for: .milliseconds(50))
        }
    }

    /// Stops accepting. Connections already open are left to finish.
    public func stopListening() async {
        for monitor in healthMonitors { monitor?.stop() }
        for channel in channels { try? await channel.close() }
    }

    /// Waits until every listener is closed.
    public func waitUntilClosed() async {
        for channel in channels { try? await channel.closeFuture.get() }
    }

    public struct ListenError: Error, CustomStringConvertible {
        public var listener: String
        public var address: String
        public var underlying: any Error
        public var description: String { "listener '\(listener)' cannot listen on \(address): \(underlying)" }
    }
}
