import GatewayTLS
import NIOCore
import NIOPosix

/// A cluster as seen from one event loop: its balancer, its pool of idle connections, its view of the
/// endpoints' health and its consecutive-failure counts. Touched only on that loop, so it needs no lock.
///
/// `@unchecked Sendable`: the health monitor holds references to every loop's state to publish to them
/// with `eventLoop.execute`; the state itself is only used on `eventLoop`.
public final class ClusterLoopState: @unchecked Sendable {
    public let cluster: UpstreamCluster
    public let eventLoop: EventLoop
    public private(set) var balancer: LoadBalancer
    /// The process-wide health of this cluster; nil without health checks or outlier detection.
    public internal(set) var monitor: ClusterHealthMonitor?
    public private(set) var availability: EndpointAvailability
    private var failures: ConsecutiveFailureCounter?
    /// Idle connections per endpoint index, most recently used last.
    private var idle: [[HTTP1UpstreamConnection]]
    /// HTTP/2 connections per endpoint index that still take new streams (connecting or open, no GOAWAY).
    var http2: [[HTTP2UpstreamConnection]]
    /// `protocol: auto`: what each endpoint's server chose by ALPN on the last new connection; nil until
    /// one was made (see ClusterLoopState+Auto.swift).
    var learnedProtocol: [UpstreamProtocol?]
    private var sweeper: RepeatedTask?
    public internal(set) var openConnections = 0
    /// Replaced by a newer endpoint list (DNS discovery): connections coming back are closed, not pooled.
    public private(set) var isRetired = false
    /// The last TLS session per endpoint, offered by the next connection; nil without TLS or resumption.
    let tlsSessions: TLSClientSessionCache?
    /// Upstream TLS handshakes on this loop: completed, of which resumed, and failed.
    public internal(set) var tlsHandshakes: UInt64 = 0
    public internal(set) var tlsResumed: UInt64 = 0
    public internal(set) var tlsHandshakeFailures: UInt64 = 0

    /// The loop's batch of upstream flushes, shared with its other clusters.
    let flushBatch: UpstreamFlushBatch

    /// - Parameter flushBatch: The event loop's batch (`LoopContext` shares one among its clusters); a
    ///   cluster state made on its own gets its own.
    public init(cluster: UpstreamCluster, eventLoop: EventLoop, loopIndex: Int, flushBatch: UpstreamFlushBatch? = nil) {
        self.cluster = cluster
        self.eventLoop = eventLoop
        self.flushBatch = flushBatch ?? UpstreamFlushBatch(eventLoop: eventLoop)
        let local = cluster.options.localZone.map { zone in cluster.endpoints.map { $0.zone == zone.zone } }
        self.balancer = LoadBalancer(policy: cluster.options.lb, weights: cluster.endpoints.map(\.weight), table: cluster.hashTable, loopIndex: loopIndex,
                                     local: local, minLocalPercent: cluster.options.localZone?.minHealthyPercent ?? 70)
        self.idle = Array(repeating: [], count: cluster.endpoints.count)
        self.http2 = Array(repeating: [], count: cluster.endpoints.count)
        self.learnedProtocol = Array(repeating: nil, count: cluster.endpoints.count)
        self.availability = .allUp(cluster.endpoints.count)
        self.failures = cluster.options.outlierDetection.map { ConsecutiveFailureCounter(settings: $0, endpoints: cluster.endpoints.count) }
        self.tlsSessions = cluster.options.tls?.configuration.sessionResumption == true ? TLSClientSessionCache(slots: cluster.endpoints.count) : nil
    }

    /// The next endpoint by the cluster's policy, or nil when none can take traffic.
    /// - Parameters:
    ///   - hash: The request's key for consistent-hash policies.
    ///   - excluding: The index of an endpoint to avoid (a retry's failed one), or -1.
    public func pickEndpoint(hash: UInt64? = nil, excluding: Int = -1) -> Endpoint? {
        balancer.pick(hash: hash, excluding: excluding).map { cluster.endpoints[$0] }
    }

    /// Whether a sticky session's endpoint may take its request: up by health, whatever its weight.
    public func isAvailable(_ index: Int) -> Bool { balancer.isAvailable(index) }

    /// Header stickiness: the key's endpoint among the available weighted ones (see `LoadBalancer.pickSticky`).
    public func pickSticky(hash: UInt64, table: ConsistentHashTable, excluding: Int = -1) -> Endpoint? {
        balancer.pickSticky(hash: hash, table: table, excluding: excluding).map { cluster.endpoints[$0] }
    }

    /// The monitor's latest decision about which endpoints may take traffic.
    func apply(_ availability: EndpointAvailability) {
        self.availability = availability
        balancer.setUsable(availability.usable)
    }

    /// An exchange with `endpoint` starts or ends (least-request counts).
    public func exchangeStarted(_ endpoint: Endpoint) { balancer.requestStarted(endpoint.index) }
    public func exchangeEnded(_ endpoint: Endpoint) { balancer.requestEnded(endpoint.index) }

    /// What an attempt showed about its endpoint: counted here, and a crossed threshold is reported to
    /// the monitor, which decides on ejection for the whole process.
    public func record(_ outcome: AttemptOutcome, for endpoint: Endpoint) {
        guard failures != nil, failures!.record(outcome, endpoint: endpoint.index) else { return }
        let reason: String
        switch outcome {
        case .connectFailure: reason = "consecutive connect failures"
        case .reset: reason = "consecutive resets"
        default: reason = "consecutive 5xx"
        }
        monitor?.reportOutlier(endpoint.index, reason: reason)
    }

    public typealias AcquireCallback = (Result<any UpstreamExchange, UpstreamError>) -> Void

    /// A pooled HTTP/1 connection to `endpoint`, if one is idle: the common case, taken without the
    /// callback (and its closure allocation) that `acquire` needs for a connection still to be made.
    public func takeIdleConnection(_ endpoint: Endpoint) -> (any UpstreamExchange)? {
        guard cluster.options.effectiveProtocol != .http2 else { return nil }
        while let connection = idle[endpoint.index].popLast() {
            if connection.isActive { return connection }
        }
        return nil
    }

    /// Hands over an idle connection to `endpoint` (synchronously) or opens a new one.
    /// `fresh` skips the pool: for a retry after a pooled connection turned out to be closed.
    /// `needsHTTP1`: the exchange must be HTTP/1.1 (a WebSocket upgrade), which matters to `protocol: auto`.
    /// A new connection needs room under the cluster's `max_connections` and `max_pending` breakers;
    /// without it the callback gets `.overflow` at once.
    public func acquire(_ endpoint: Endpoint, fresh: Bool, needsHTTP1: Bool = false, _ callback: @escaping AcquireCallback) {
        eventLoop.preconditionInEventLoop()
        let kind = cluster.options.effectiveProtocol
        switch kind {
        case .http2:
            acquireHTTP2(endpoint, callback)
            return
        case .auto where learnedProtocol[endpoint.index] == .http2 && !needsHTTP1:
            acquireHTTP2(endpoint, callback)
            return
        case .auto, .http1:
            break
        }
        if !fresh, let connection = takeIdleConnection(endpoint) {
            callback(.success(connection))
            return
        }
        guard reserveNewConnection(callback) else { return }
        let resources = cluster.resources
        let connected: AcquireCallback = { result in
            resources.release(.maxPending)
            callback(result)
        }
        if kind == .auto {
            connectAuto(endpoint, http1Only: needsHTTP1, connected)
        } else {
            connect(endpoint, connected)
        }
    }

    private func connect(_ endpoint: Endpoint, _ callback: @escaping AcquireCallback) {
        let loopBoundSelf = NIOLoopBound(self, eventLoop: eventLoop)
        let settings = cluster.settings
        openConnections += 1
        let future = ClientBootstrap(group: eventLoop)
            .connectTimeout(settings.connectTimeout)
            .channelOption(.socketOption(.tcp_nodelay), value: 1)
            .channelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    try loopBoundSelf.value.addTLSHandler(to: channel, endpoint: endpoint)
                    let connection = HTTP1UpstreamConnection(endpoint: endpoint, pool: loopBoundSelf.value)
                    try channel.pipeline.syncOperations.addHandler(connection)
                }
            }
            .connect(to: endpoint.address)
        future.assumeIsolated().whenComplete { result in
            switch result {
            case .success(let channel):
                do {
                    let connection = try channel.pipeline.syncOperations.handler(type: HTTP1UpstreamConnection.self)
                    // A failed handshake closed the channel: its close releases the connection's slot.
                    self.afterHandshake(of: channel) { callback($0.map { _ in connection }) }
                } catch {
                    channel.close(promise: nil)
                    callback(.failure(.connectFailed("\(error)")))
                }
            case .failure(let error):
                self.openConnections -= 1
                self.cluster.resources.release(.maxConnections)
                callback(.failure(Self.connectError(error)))
            }
        }
    }

    /// What a failed connect (NIO's error) means to the proxy: its timeout, or a failure with the reason.
    static func connectError(_ error: any Error) -> UpstreamError {
        if let channelError = error as? ChannelError, case .connectTimeout = channelError { return .connectTimeout }
        return .connectFailed(describe(error))
    }

    private static func describe(_ error: any Error) -> String {
        if let ioError = error as? IOError { return ioError.description }
        if let connectError = error as? NIOConnectionError, let first = connectError.connectionErrors.first {
            return describe(first.error)
        }
        return "\(error)"
    }

    func reachedRequestLimit(_ connection: HTTP1UpstreamConnection) -> Bool {
        let limit = cluster.settings.maxRequestsPerConnection
        return limit > 0 && connection.exchangesStarted >= limit
    }

    /// A connection acquired but never used (its stream ended while it was being set up).
    func returnUnused(_ connection: HTTP1UpstreamConnection) {
        connection.lastUsed = .now()
        release(connection)
    }

    /// A finished, reusable connection comes back.
    func release(_ connection: HTTP1UpstreamConnection) {
        guard connection.isActive else { return }
        if isRetired {
            connection.close()
            return
        }
        if idle[connection.endpoint.index].count >= cluster.settings.maxIdlePerEndpoint {
            connection.close()
            return
        }
        idle[connection.endpoint.index].append(connection)
        startSweeperIfNeeded()
    }

    func connectionClosed(_ connection: HTTP1UpstreamConnection) {
        openConnections -= 1
        cluster.resources.release(.maxConnections)
        let index = connection.endpoint.index
        if let position = idle[index].firstIndex(where: { $0 === connection }) {
            idle[index].remove(at: position)
        }
    }

    /// Room for a new connection under the `max_connections` and `max_pending` breakers (HTTP/1 and
    /// HTTP/2 alike); without it the callback gets `.overflow` and the answer is false.
    func reserveNewConnection(_ callback: AcquireCallback) -> Bool {
        let resources = cluster.resources
        guard resources.tryAcquire(.maxConnections) else {
            callback(.failure(.overflow(.maxConnections)))
            return false
        }
        guard resources.tryAcquire(.maxPending) else {
            resources.release(.maxConnections)
            callback(.failure(.overflow(.maxPending)))
            return false
        }
        return true
    }

    /// A stream on an existing HTTP/2 connection with room, or a new connection (within the breakers)
    /// whose connect the acquirer waits for. A connection going away takes no new streams; a refused
    /// stream's retry therefore lands on a new connection without needing `fresh`.
    func acquireHTTP2(_ endpoint: Endpoint, _ callback: @escaping AcquireCallback) {
        for connection in http2[endpoint.index] where connection.availableStreams > 0 {
            connection.reserve(callback)
            return
        }
        guard reserveNewConnection(callback) else { return }
        let resources = cluster.resources
        let tls = cluster.options.tls != nil
        let connection = HTTP2UpstreamConnection(endpoint: endpoint, pool: self, tls: tls)
        http2[endpoint.index].append(connection)
        openConnections += 1
        connection.reserve(callback)
        let bound = NIOLoopBound(connection, eventLoop: eventLoop)
        let loopBoundSelf = NIOLoopBound(self, eventLoop: eventLoop)
        let future = ClientBootstrap(group: eventLoop)
            .connectTimeout(cluster.settings.connectTimeout)
            .channelOption(.socketOption(.tcp_nodelay), value: 1)
            .channelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    try loopBoundSelf.value.addTLSHandler(to: channel, endpoint: endpoint)
                    try channel.pipeline.syncOperations.addHandler(bound.value)
                }
            }
            .connect(to: endpoint.address)
        future.assumeIsolated().whenComplete { result in
            switch result {
            case .success(let channel):
                guard tls else {
                    resources.release(.maxPending)
                    return
                }
                self.afterHandshake(of: channel) { handshake in
                    resources.release(.maxPending)
                    switch handshake {
                    case .success(let completed) where completed?.applicationProtocol == "h2":
                        connection.handshakeCompleted()
                    case .success:
                        channel.close(promise: nil)
                        if self.cluster.options.upstreamProtocol == .auto {
                            // The endpoint's server no longer prefers h2: the next connection asks again.
                            self.learnedProtocol[endpoint.index] = nil
                        }
                        connection.connectFailed(.connectFailed("the TLS peer did not choose h2 by ALPN"))
                    case .failure(let error):
                        connection.connectFailed(error)
                    }
                }
            case .failure(let error):
                resources.release(.maxPending)
                connection.connectFailed(Self.connectError(error))
            }
        }
    }

    /// The connection got a GOAWAY or reached its stream limit: new streams go elsewhere.
    func http2GoingAway(_ connection: HTTP2UpstreamConnection) {
        let index = connection.endpoint.index
        if let position = http2[index].firstIndex(where: { $0 === connection }) { http2[index].remove(at: position) }
    }

    /// A stream ended; an idle connection starts counting towards its idle timeout.
    func http2StreamSlotFreed(_ connection: HTTP2UpstreamConnection) {
        guard connection.isIdle else { return }
        if isRetired { connection.close() } else { startSweeperIfNeeded() }
    }

    func http2ConnectionClosed(_ connection: HTTP2UpstreamConnection) {
        openConnections -= 1
        cluster.resources.release(.maxConnections)
        http2GoingAway(connection)
    }

    /// Closes connections idle for longer than the idle timeout. One timer per cluster and loop, not
    /// one per connection.
    private func startSweeperIfNeeded() {
        guard sweeper == nil, let timeout = cluster.settings.idleTimeout else { return }
        let interval = max(TimeAmount.milliseconds(100), TimeAmount.nanoseconds(timeout.nanoseconds / 4))
        let loopBoundSelf = NIOLoopBound(self, eventLoop: eventLoop)
        sweeper = eventLoop.scheduleRepeatedTask(initialDelay: interval, delay: interval) { _ in
            loopBoundSelf.value.sweep(olderThan: .now() - timeout)
        }
    }

    private func sweep(olderThan cutoff: NIODeadline) {
        for index in idle.indices {
            let expired = idle[index].filter { $0.lastUsed < cutoff }
            guard !expired.isEmpty else { continue }
            idle[index].removeAll { $0.lastUsed < cutoff }
            for connection in expired { connection.close() }
        }
        for index in http2.indices {
            let expired = http2[index].filter { $0.isIdle && $0.idleSince < cutoff }
            for connection in expired { connection.close() }
        }
    }

    /// The counters a replaced state reached continue here (a DNS change is not a counter reset).
    public func carryCounters(from old: ClusterLoopState) {
        tlsHandshakes += old.tlsHandshakes
        tlsResumed += old.tlsResumed
        tlsHandshakeFailures += old.tlsHandshakeFailures
    }

    /// A newer endpoint list took over on this loop: idle connections close now, busy ones when their
    /// exchange ends. Requests already in flight finish here untouched.
    public func retire() {
        isRetired = true
        closeIdle()
    }

    /// Closes every idle connection (shutdown).
    public func closeIdle() {
        sweeper?.cancel()
        sweeper = nil
        for list in idle { for connection in list { connection.close() } }
        idle = Array(repeating: [], count: idle.count)
        for list in http2 { for connection in list where connection.isIdle { connection.close() } }
    }
}
