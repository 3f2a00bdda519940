import GatewayCore
import GatewayTLS
import Logging
import NIOConcurrencyHelpers
import NIOCore
import NIOPosix
import Upstream

/// Binds every listener of a runtime on a shared event-loop group and wires each accepted connection
/// to its loop's context. The runtime can be replaced while serving (`reload`): listeners whose name and
/// address stay keep their sockets, new connections get the new config, open ones finish on the old.
public final class GatewayServer: Sendable {
    /// Where a listening socket finds the config for the connections it accepts; replaced on reload.
    final class ListenerSlot: Sendable {
        let current: NIOLockedValueBox<(listener: ListenerRuntime, contexts: LoopContexts)>
        init(_ listener: ListenerRuntime, _ contexts: LoopContexts) { current = NIOLockedValueBox((listener, contexts)) }
    }

    struct BoundListener {
        var name: String
        var configuredAddress: String
        var channel: Channel
        var slot: ListenerSlot
        /// Where it is bound (kept: a closed channel no longer knows).
        var localAddress: SocketAddress?
    }

    /// One config's runtime and the per-loop state built for it.
    struct Generation {
        var runtime: GatewayRuntime
        var contexts: LoopContexts
    }

    struct State {
        var runtime: GatewayRuntime
        var contexts: LoopContexts
        var listeners: [BoundListener]
        /// Earlier generations whose connections may still be open (drain reaches them, `/metrics` counts
        /// them). Once one has no connection left, a scrape folds its counters into `carried` and drops it.
        var retired: [Generation] = []
        /// Counters of generations that are gone, in the shape of `runtime`: series that still exist
        /// continue from their values across reloads.
        var carried: LoopMetrics.Snapshot
        /// Filter counters (`portcullis_filter_*`) of generations that are gone, by series key; only series
        /// the current config still has.
        var carriedFilterCounters: [String: Int] = [:]
        /// Health counters (outlier ejections, failed checks) of earlier generations' monitors, by cluster
        /// name and endpoint address.
        var carriedHealth: [String: [String: (ejections: UInt64, checkFailures: UInt64)]] = [:]
        /// Per cluster of this generation, its health monitor (nil without health checks or outlier detection).
        var healthMonitors: [ClusterHealthMonitor?] = []
        /// This generation's DNS clusters' resolvers.
        var discoveries: [DNSDiscovery] = []
        /// Counts reloads: the status page reloads itself when the shape of what it shows changed.
        var generation = 0
        /// Session-ticket key rotation runs (after `startTicketKeyRotation`), per key ring.
        var ticketRotationEnabled = false
        var ticketRotations: [TicketRotation] = []
    }

    struct TicketRotation {
        var keys: TLSSessionTicketKeys
        var intervalMilliseconds: Int64
        var task: RepeatedTask
    }

    private let state: NIOLockedValueBox<State>
    private let group: EventLoopGroup
    private let sink: StdoutSink
    private let logger: Logger
    private let drainingFlag = NIOLockedValueBox(false)

    /// The config in force (the latest successful load).
    public var runtime: GatewayRuntime { state.withLockedValue { $0.runtime } }
    /// 0 for the config the server started with, +1 per reload.
    public var generation: Int { state.withLockedValue { $0.generation } }
    /// This generation's per-loop state.
    public var contexts: LoopContexts { state.withLockedValue { $0.contexts } }
    private var allContexts: [LoopContexts] { state.withLockedValue { [$0.contexts] + $0.retired.map(\.contexts) } }

    /// True once a drain was asked for (SIGTERM, `POST /drain`): `/ready` fails from then on.
    public var isDraining: Bool { drainingFlag.withLockedValue { $0 } }

    /// Readiness fails from now on, while traffic is still served (the drain delay).
    public func markDraining() { drainingFlag.withLockedValue { $0 = true } }

    /// Every loop's counters, summed over the config generations still serving, plus what finished
    /// generations left (`carried`), in the shape of the config in force: counters continue across
    /// reloads for every listener, route, cluster and endpoint that is still configured. Each loop copies
    /// its own on its own thread; the request path never pays for this.
    public func metricsSnapshot(on eventLoop: EventLoop) -> EventLoopFuture<LoopMetrics.Snapshot> {
        let (runtime, current, retired, carried) = state.withLockedValue { ($0.runtime, $0.contexts, $0.retired, $0.carried) }
        let generations = [Generation(runtime: runtime, contexts: current)] + retired
        // Each context is read only on its own loop; a generation is done when its loops hold no connection.
        let futures = generations.map { generation in
            EventLoopFuture.whenAllSucceed(generation.contexts.all.map { context in
                context.eventLoop.submit { (context.metricsSnapshot, context.connections.count) }
            }, on: eventLoop).map { parts -> (LoopMetrics.Snapshot, Int) in
                var total = parts.first?.0 ?? LoopMetrics.Snapshot.zero(for: generation.runtime)
                for part in parts.dropFirst() { total.add(part.0) }
                return (total, parts.reduce(0) { $0 + $1.1 })
            }
        }
        return EventLoopFuture.whenAllSucceed(futures, on: eventLoop).map { [self] sums in
            var total = carried
            total.add(sums[0].0)
            var finished: [(GatewayRuntime, LoopMetrics.Snapshot)] = []
            for (generation, (sum, connections)) in zip(generations, sums).dropFirst() {
                total.add(sum.remapped(from: generation.runtime, to: runtime))
                if connections == 0 && sum.listeners.allSatisfy({ $0.activeRequests == 0 }) { finished.append((generation.runtime, sum)) }
            }
            if !finished.isEmpty { fold(finished) }
            return total
        }
    }

    /// Moves finished generations' counters into `carried` and forgets the generations. Under the lock,
    /// and only for generations still listed, so two scrapes cannot fold one twice.
    private func fold(_ finished: [(runtime: GatewayRuntime, counters: LoopMetrics.Snapshot)]) {
        state.withLockedValue { state in
            for (runtime, counters) in finished {
                guard let index = state.retired.firstIndex(where: { $0.runtime === runtime }) else { continue }
                state.retired.remove(at: index)
                state.carried.add(counters.countersOnly.remapped(from: runtime, to: state.runtime))
                Self.addFilterCounters(of: runtime, to: &state.carriedFilterCounters, keeping: state.runtime)
            }
        }
    }

    /// Earlier generations' filter counters by series key: the folded ones plus those of generations whose
    /// connections are still open (their filters may still count). `/metrics` adds them to the current
    /// generation's, so `portcullis_filter_*` counters continue across reloads like the others.
    public func carriedFilterCounters() -> [String: Int] {
        let (runtime, retired, carried) = state.withLockedValue { ($0.runtime, $0.retired, $0.carriedFilterCounters) }
        var totals = carried
        for generation in retired { Self.addFilterCounters(of: generation.runtime, to: &totals, keeping: runtime) }
        return totals
    }

    /// Adds `runtime`'s filter counters (not gauges) to `totals`, for the series `current` still has.
    private static func addFilterCounters(of runtime: GatewayRuntime, to totals: inout [String: Int], keeping current: GatewayRuntime) {
        let wanted = Set(PrometheusText.filterSeries(current).lazy.filter { $0.kind == .counter }.map(\.key))
        for series in PrometheusText.filterSeries(runtime) where series.kind == .counter && wanted.contains(series.key) {
            totals[series.key, default: 0] += series.value
        }
    }

    /// Every cluster's health, each read on its monitor's loop.
    public func healthSnapshot(on eventLoop: EventLoop) -> EventLoopFuture<[ClusterHealthStatus]> {
        let (runtime, monitors, carried) = state.withLockedValue { ($0.runtime, $0.healthMonitors, $0.carriedHealth) }
        let futures = zip(runtime.clusters, monitors).map { cluster, monitor in
            guard let monitor else { return eventLoop.makeSucceededFuture(ClusterHealthStatus.unmonitored(cluster)) }
            return monitor.eventLoop.submit { monitor.status }
        }
        return EventLoopFuture.whenAllSucceed(futures, on: eventLoop).map { statuses in
            guard !carried.isEmpty else { return statuses }
            return zip(runtime.clusters, statuses).map { cluster, status in
                // A DNS cluster whose list moved since its monitor last looked: left as it is until the next read.
                guard let before = carried[cluster.name], status.ejectionsTotal.count == cluster.endpoints.count,
                      status.healthCheckFailures.count == cluster.endpoints.count else { return status }
                var status = status
                for endpoint in cluster.endpoints {
                    guard let counts = before[endpoint.label] else { continue }
                    status.ejectionsTotal[endpoint.index] += counts.ejections
                    status.healthCheckFailures[endpoint.index] += counts.checkFailures
                }
                return status
            }
        }
    }

    /// One monitor per cluster for the process, spread over the loops; each publishes to every loop of
    /// its generation.
    private static func startHealthMonitors(_ runtime: GatewayRuntime, contexts: LoopContexts, logger: Logger) -> [ClusterHealthMonitor?] {
        for cluster in runtime.clusters {
            guard let sticky = cluster.options.sticky, sticky.key == nil else { continue }
            if case .header = sticky.mode { continue }
            logger.warning("sticky sessions are signed with a random key: they won't survive a restart or be honoured by other instances (set sticky.key_file)",
                           metadata: ["cluster": "\(cluster.name)"])
        }
        let loops = contexts.all
        return runtime.clusters.map { cluster in
            guard ClusterHealthMonitor.isNeeded(for: cluster), !loops.isEmpty else { return nil }
            let monitor = ClusterHealthMonitor(cluster: cluster, eventLoop: loops[cluster.index % loops.count].eventLoop, logger: logger)
            monitor.start(loops: loops.map { $0.clusters[cluster.index] })
            return monitor
        }
    }

    /// The address each listener is bound to, by listener name (useful with port 0).
    public var boundAddresses: [String: SocketAddress] {
        state.withLockedValue { state in
            Dictionary(uniqueKeysWithValues: state.listeners.compactMap { bound in bound.localAddress.map { (bound.name, $0) } })
        }
    }

    public static func start(runtime: GatewayRuntime, group: EventLoopGroup, sink: StdoutSink, logger: Logger) async throws -> GatewayServer {
        let discoveries = await resolveDiscoveredClusters(runtime, group: group, logger: logger)
        let contexts = makeContexts(runtime, group: group, sink: sink)
        let listeners = try await bindAll(runtime.listeners, contexts: contexts, group: group, logger: logger)
        var state = State(runtime: runtime, contexts: contexts, listeners: listeners, carried: .zero(for: runtime))
        state.healthMonitors = startHealthMonitors(runtime, contexts: contexts, logger: logger)
        state.discoveries = discoveries
        warnAboutUnverifiedTLS(runtime, logger: logger)
        let server = GatewayServer(state: state, group: group, sink: sink, logger: logger)
        server.startDiscovery(discoveries, runtime: runtime)
        return server
    }

    /// Resolves every DNS cluster once (all at the same time), so the first requests find endpoints.
    /// Each waits at most its `dns.initial_timeout`: a cluster whose first lookup fails or takes longer starts with
    /// what is known (503 while empty) and fills in at its next refresh, rather than holding up the start.
    private static func resolveDiscoveredClusters(_ runtime: GatewayRuntime, group: EventLoopGroup, logger: Logger) async -> [DNSDiscovery] {
        let discoveries = runtime.discoveredClusters.map { discovered in
            DNSDiscovery(clusterName: runtime.clusters[discovered.clusterIndex].name, hosts: discovered.hosts,
                         settings: discovered.settings, eventLoop: group.next(), logger: logger)
        }
        let lookups = discoveries.map { $0.resolveNow() }
        for (discovered, lookup) in zip(runtime.discoveredClusters, lookups) {
            let cluster = runtime.clusters[discovered.clusterIndex]
            let endpoints = (try? await lookup.get()) ?? []
            if endpoints.isEmpty {
                logger.warning("DNS cluster has no endpoints yet", metadata: ["upstream_cluster": "\(cluster.name)"])
            }
            runtime.replaceCluster(cluster.withEndpoints(endpoints))
        }
        return discoveries
    }

    private func startDiscovery(_ discoveries: [DNSDiscovery], runtime: GatewayRuntime) {
        for (discovery, discovered) in zip(discoveries, runtime.discoveredClusters) {
            let index = discovered.clusterIndex
            discovery.start { [self] endpoints in applyDiscoveredEndpoints(endpoints, clusterIndex: index, runtime: runtime) }
        }
    }

    /// A DNS cluster's answer changed: every loop switches to a new state for the cluster (new requests
    /// balance over the new list; requests in flight finish on the old one), and the cluster gets a new
    /// health monitor that checks the new list.
    private func applyDiscoveredEndpoints(_ endpoints: [Endpoint], clusterIndex: Int, runtime: GatewayRuntime) {
        let updated = runtime.clusters[clusterIndex].withEndpoints(endpoints)
        let change: (contexts: LoopContexts, oldMonitor: ClusterHealthMonitor?, monitor: ClusterHealthMonitor?, states: [ClusterLoopState])? =
            state.withLockedValue { state in
                // A reload may have replaced this generation while the lookup ran.
                guard state.runtime === runtime else { return nil }
                runtime.replaceCluster(updated)
                let loops = state.contexts.all
                let states = loops.map { ClusterLoopState(cluster: updated, eventLoop: $0.eventLoop, loopIndex: $0.loopIndex, flushBatch: $0.upstreamFlushes) }
                var monitor: ClusterHealthMonitor?
                if ClusterHealthMonitor.isNeeded(for: updated), !loops.isEmpty {
                    monitor = ClusterHealthMonitor(cluster: updated, eventLoop: loops[clusterIndex % loops.count].eventLoop, logger: logger)
                }
                let old = state.healthMonitors[clusterIndex]
                state.healthMonitors[clusterIndex] = monitor
                return (state.contexts, old, monitor, states)
            }
        guard let change else { return }
        change.oldMonitor?.stop()
        change.monitor?.start(loops: change.states)
        for (context, loopState) in zip(change.contexts.all, change.states) {
            context.eventLoop.execute { context.replaceCluster(with: loopState) }
        }
        logger.info("cluster endpoints updated", metadata: ["upstream_cluster": "\(updated.name)",
                                                          "endpoints": "\(endpoints.map(\.label).joined(separator: ","))"])
    }

    /// `tls: { verify: false }` is allowed (tests, migrations) but must not go unnoticed.
    private static func warnAboutUnverifiedTLS(_ runtime: GatewayRuntime, logger: Logger) {
        for cluster in runtime.clusters where cluster.options.tls?.configuration.verify == false {
            logger.warning("upstream TLS certificates are not verified (tls.verify: false): the connection is encrypted but not authenticated",
                           metadata: ["upstream_cluster": "\(cluster.name)"])
        }
    }

    private init(state: State, group: EventLoopGroup, sink: StdoutSink, logger: Logger) {
        self.state = NIOLockedValueBox(state)
        self.group = group
        self.sink = sink
        self.logger = logger
    }

    private static func makeContexts(_ runtime: GatewayRuntime, group: EventLoopGroup, sink: StdoutSink) -> LoopContexts {
        var loopContexts: [LoopContext] = []
        for (index, eventLoop) in group.makeIterator().enumerated() {
            let settings = runtime.config.accessLog
            let accessLog = AccessLogBuffer(eventLoop: eventLoop, sink: sink, enabled: settings.enabled, format: settings.format, sampleRate: settings.sampleRate)
            loopContexts.append(LoopContext(eventLoop: eventLoop, loopIndex: index, runtime: runtime, accessLog: accessLog))
        }
        return LoopContexts(loopContexts)
    }

    private static func bindAll(_ listeners: [ListenerRuntime], contexts: LoopContexts, group: EventLoopGroup, logger: Logger) async throws -> [BoundListener] {
        var bound: [BoundListener] = []
        for listener in listeners {
            do {
                bound.append(try await bindOne(listener, contexts: contexts, group: group, logger: logger))
            } catch {
                for done in bound { try? await done.channel.close() }
                throw error
            }
        }
        return bound
    }

    private static func bindOne(_ listener: ListenerRuntime, contexts: LoopContexts, group: EventLoopGroup, logger: Logger) async throws -> BoundListener {
        let slot = ListenerSlot(listener, contexts)
        do {
            let channel = try await bind(slot, reusePort: listener.reusePort, address: listener.address, group: group)
            logger.info("listening", metadata: ["listener": "\(listener.name)", "address": "\(channel.localAddress.map { "\($0)" } ?? "?")"])
            return BoundListener(name: listener.name, configuredAddress: listener.address.description, channel: channel, slot: slot,
                                 localAddress: channel.localAddress)
        } catch {
            throw ListenError(listener: listener.name, address: listener.address.description, underlying: error)
        }
    }

    private static func bind(_ slot: ListenerSlot, reusePort: Bool, address: HostPort, group: EventLoopGroup) async throws -> Channel {
        try await ServerBootstrap(group: group)
            .serverChannelOption(.backlog, value: 4096)
            .serverChannelOption(.socketOption(.so_reuseaddr), value: 1)
            .serverChannelOption(ChannelOptions.Types.SocketOption(level: .socket, name: NIOBSDSocket.Option(rawValue: SO_REUSEPORT)), value: reusePort ? 1 : 0)
            .childChannelOption(.socketOption(.tcp_nodelay), value: 1)
            .childChannelOption(.maxMessagesPerRead, value: 4)
            // NIO keeps each connection's last receive buffer for reuse, so its initial size is paid by
            // every idle keep-alive connection (nginx frees its header buffer when a connection goes idle;
            // NIO offers no way to). Start small: most request heads without cookies fit in 256 bytes, and
            // a larger one costs another read or two in the same readable event, after which the allocator
            // has grown the buffer for that connection's next requests.
            .childChannelOption(.recvAllocator, value: AdaptiveRecvByteBufferAllocator(minimum: 64, initial: 256, maximum: 64 * 1024))
            .childChannelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    // One lock per accepted connection (not per request): the config generation in force.
                    let (listener, contexts) = slot.current.withLockedValue { $0 }
                    let loop = contexts.context(for: channel.eventLoop)
                    if listener.proxyProtocol == .off {
                        try addHTTPHandlers(to: channel.pipeline.syncOperations, listener: listener, loop: loop, proxiedClient: nil)
                    } else {
                        try channel.pipeline.syncOperations.addHandler(ProxyProtocolHandler(listener: listener, loop: loop))
                    }
                }
            }
            .bind(host: address.host, port: address.port)
            .get()
    }

    /// Puts a new runtime in force. Listeners with the same name and address keep their sockets (new
    /// connections get the new config); new ones are bound, removed ones closed. Connections of the old
    /// config finish what they are doing: HTTP/1.1 closes after its next response, HTTP/2 gets GOAWAY,
    /// so their clients reconnect onto the new config without a failed request. If a new listener cannot
    /// bind, nothing changes and the error is thrown.
    public func reload(_ newRuntime: GatewayRuntime) async throws {
        let old = state.withLockedValue { $0 }
        let discoveries = await Self.resolveDiscoveredClusters(newRuntime, group: group, logger: logger)
        let contexts = Self.makeContexts(newRuntime, group: group, sink: sink)
        Self.warnAboutUnverifiedTLS(newRuntime, logger: logger)
        var kept: [(bound: BoundListener, listener: ListenerRuntime)] = []
        var added: [BoundListener] = []
        do {
            for listener in newRuntime.listeners {
                if let existing = old.listeners.first(where: { $0.name == listener.name && $0.configuredAddress == listener.address.description }) {
                    kept.append((existing, listener))
                } else {
                    added.append(try await Self.bindOne(listener, contexts: contexts, group: group, logger: logger))
                }
            }
        } catch {
            for bound in added { try? await bound.channel.close() }
            for discovery in discoveries { discovery.stop() }
            throw error
        }
        // Every bind worked: point the kept sockets at the new config (their initializers read the slot).
        for (bound, listener) in kept { bound.slot.current.withLockedValue { $0 = (listener, contexts) } }
        let keptSlots = kept.map(\.bound)
        let removed = old.listeners.filter { bound in !keptSlots.contains { $0.name == bound.name } }
        // The new generation checks its own clusters from scratch; the old loops keep the last health
        // they were told while their connections finish.
        let monitors = Self.startHealthMonitors(newRuntime, contexts: contexts, logger: logger)
        // The old monitors stop before the new generation takes over, and their final totals go in with it:
        // the health counters never dip.
        for monitor in old.healthMonitors { monitor?.stop() }
        let carriedHealth = await carriedHealthCounters(from: old.runtime, monitors: old.healthMonitors, to: newRuntime)
        state.withLockedValue { state in
            state.carriedHealth = carriedHealth
            // Under the lock: a scrape may have folded a generation into `carried` since `old` was read.
            state.carried = state.carried.remapped(from: state.runtime, to: newRuntime)
            let newSeries = Set(PrometheusText.filterSeries(newRuntime).map(\.key))
            state.carriedFilterCounters = state.carriedFilterCounters.filter { newSeries.contains($0.key) }
            state.retired.append(Generation(runtime: state.runtime, contexts: state.contexts))
            state.runtime = newRuntime
            state.contexts = contexts
            state.listeners = keptSlots + added
            state.healthMonitors = monitors
            state.discoveries = discoveries
            state.generation += 1
        }
        for discovery in old.discoveries { discovery.stop() }
        startDiscovery(discoveries, runtime: newRuntime)
        reconcileTicketKeyRotation()
        for bound in removed {
            logger.info("listener removed", metadata: ["listener": "\(bound.name)"])
            try? await bound.channel.close()
        }
        if isDraining {
            for bound in added { bound.channel.close(promise: nil) }
        }
        for context in old.contexts.all {
            context.eventLoop.execute {
                context.connections.drainAll(closeIdle: false)
                context.releaseUpstreamIdle()
            }
        }
        // Earlier generations whose connections are all gone are folded into the carried counters and
        // forgotten, so frequent reloads without scrapes do not keep every old generation.
        _ = try? await metricsSnapshot(on: group.next()).get()
    }

    /// The stopped monitors' totals joined to the carried ones (by cluster name and endpoint address), so
    /// `portcullis_outlier_ejections_total` and `portcullis_health_check_failures_total` do not reset.
    private func carriedHealthCounters(from old: GatewayRuntime, monitors: [ClusterHealthMonitor?],
                                       to new: GatewayRuntime) async -> [String: [String: (ejections: UInt64, checkFailures: UInt64)]] {
        var carried = state.withLockedValue { $0.carriedHealth }
        for (cluster, monitor) in zip(old.clusters, monitors) {
            guard let monitor, let status = try? await monitor.eventLoop.submit({ monitor.status }).get(),
                  status.ejectionsTotal.count == cluster.endpoints.count, status.healthCheckFailures.count == cluster.endpoints.count else { continue }
            for endpoint in cluster.endpoints {
                var counts = carried[cluster.name, default: [:]][endpoint.label] ?? (0, 0)
                counts.ejections += status.ejectionsTotal[endpoint.index]
                counts.checkFailures += status.healthCheckFailures[endpoint.index]
                carried[cluster.name, default: [:]][endpoint.label] = counts
            }
        }
        // Series that no longer exist are dropped.
        var kept: [String: [String: (ejections: UInt64, checkFailures: UInt64)]] = [:]
        for cluster in new.clusters {
            guard let before = carried[cluster.name] else { continue }
            for endpoint in cluster.endpoints { if let counts = before[endpoint.label] { kept[cluster.name, default: [:]][endpoint.label] = counts } }
        }
        return kept
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
    /// Runs whether or not a TLS listener exists now: a reload may add one.
    public func watchCertificates(every interval: TimeAmount) -> RepeatedTask {
        let loop = group.next()
        return loop.scheduleRepeatedTask(initialDelay: interval, delay: interval) { [self] _ in
            reloadCertificates(force: false)
        }
    }

    /// Starts a new random session-ticket key on each TLS listener every `tls.session_ticket_rotation`
    /// (not for listeners with key files: those rotate by replacing the files), and keeps doing so across
    /// reloads: listeners a reload adds get their rotation, removed ones lose theirs, a changed interval
    /// takes effect. Until `stopTicketKeyRotation()`.
    public func startTicketKeyRotation() {
        state.withLockedValue { $0.ticketRotationEnabled = true }
        reconcileTicketKeyRotation()
    }

    /// The key rings that rotate on a timer now.
    public var rotatingTicketKeys: [TLSSessionTicketKeys] { state.withLockedValue { $0.ticketRotations.map(\.keys) } }

    public func stopTicketKeyRotation() {
        let tasks = state.withLockedValue { state in
            state.ticketRotationEnabled = false
            defer { state.ticketRotations = [] }
            return state.ticketRotations.map(\.task)
        }
        for task in tasks { task.cancel() }
    }

    /// One rotation task per key ring of the config in force (a listener kept by a reload keeps its ring,
    /// and so its task).
    private func reconcileTicketKeyRotation() {
        let cancelled: [RepeatedTask] = state.withLockedValue { state in
            guard state.ticketRotationEnabled else { return [] }
            var wanted: [(TLSSessionTicketKeys, Int64)] = []
            for (listener, config) in zip(state.runtime.listeners, state.runtime.config.listeners) {
                guard let tls = listener.tls, let settings = config.tls, settings.sessionTicketKeyFiles.isEmpty,
                      let ms = settings.sessionTicketRotation.milliseconds, ms > 0 else { continue }
                wanted.append((tls.ticketKeys, ms))
            }
            var kept: [TicketRotation] = []
            var cancelled: [RepeatedTask] = []
            for rotation in state.ticketRotations {
                if wanted.contains(where: { $0.0 === rotation.keys && $0.1 == rotation.intervalMilliseconds }) {
                    kept.append(rotation)
                } else {
                    cancelled.append(rotation.task)
                }
            }
            for (keys, ms) in wanted where !kept.contains(where: { $0.keys === keys }) {
                let task = group.next().scheduleRepeatedTask(initialDelay: .milliseconds(ms), delay: .milliseconds(ms)) { _ in keys.rotate() }
                kept.append(TicketRotation(keys: keys, intervalMilliseconds: ms, task: task))
            }
            state.ticketRotations = kept
            return cancelled
        }
        for task in cancelled { task.cancel() }
    }

    /// Starts the drain without waiting: `/ready` fails, the listeners close, every open connection is
    /// asked to finish. Safe from any thread.
    public func beginDrain() {
        markDraining()
        for bound in state.withLockedValue({ $0.listeners }) { bound.channel.close(promise: nil) }
        for contexts in allContexts {
            for context in contexts.all {
                context.eventLoop.execute { context.connections.drainAll(closeIdle: true) }
            }
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
            for contexts in allContexts {
                for context in contexts.all {
                    open += (try? await context.eventLoop.submit { context.connections.count }.get()) ?? 0
                }
            }
            if open == 0 || NIODeadline.now() >= deadline { return open }
            try? await Task.sleep(for: .milliseconds(50))
        }
    }

    /// Stops accepting. Connections already open are left to finish.
    public func stopListening() async {
        for monitor in state.withLockedValue({ $0.healthMonitors }) { monitor?.stop() }
        for discovery in state.withLockedValue({ $0.discoveries }) { discovery.stop() }
        for bound in state.withLockedValue({ $0.listeners }) { try? await bound.channel.close() }
    }

    public struct ListenError: Error, CustomStringConvertible {
        public var listener: String
        public var address: String
        public var underlying: any Error
        public var description: String { "listener '\(listener)' cannot listen on \(address): \(underlying)" }
    }
}
