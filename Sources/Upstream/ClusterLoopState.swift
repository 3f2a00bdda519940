import NIOCore
import NIOPosix

/// A cluster as seen from one event loop: its balancer position and its pool of idle connections.
/// Touched only on that loop, so it needs no lock.
public final class ClusterLoopState {
    public let cluster: UpstreamCluster
    public let eventLoop: EventLoop
    private var balancer: RoundRobinBalancer
    /// Idle connections per endpoint index, most recently used last.
    private var idle: [[HTTP1UpstreamConnection]]
    private var sweeper: RepeatedTask?
    public private(set) var openConnections = 0

    public init(cluster: UpstreamCluster, eventLoop: EventLoop, loopIndex: Int) {
        self.cluster = cluster
        self.eventLoop = eventLoop
        self.balancer = RoundRobinBalancer(weights: cluster.endpoints.map(\.weight), startOffset: loopIndex)
        self.idle = Array(repeating: [], count: cluster.endpoints.count)
    }

    /// The next endpoint by the cluster's policy, or nil when none can take traffic.
    public func pickEndpoint() -> Endpoint? {
        balancer.next().map { cluster.endpoints[$0] }
    }

    public typealias AcquireCallback = (Result<HTTP1UpstreamConnection, UpstreamError>) -> Void

    /// Hands over an idle connection to `endpoint` (synchronously) or opens a new one.
    /// `fresh` skips the pool: for a retry after a pooled connection turned out to be closed.
    public func acquire(_ endpoint: Endpoint, fresh: Bool, _ callback: @escaping AcquireCallback) {
        eventLoop.preconditionInEventLoop()
        while !fresh, let connection = idle[endpoint.index].popLast() {
            if connection.isActive {
                callback(.success(connection))
                return
            }
        }
        connect(endpoint, callback)
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
                    callback(.success(connection))
                } catch {
                    channel.close(promise: nil)
                    callback(.failure(.connectFailed("\(error)")))
                }
            case .failure(let error):
                self.openConnections -= 1
                if let channelError = error as? ChannelError, case .connectTimeout = channelError {
                    callback(.failure(.connectTimeout))
                } else {
                    callback(.failure(.connectFailed(Self.describe(error))))
                }
            }
        }
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
    public func returnUnused(_ connection: HTTP1UpstreamConnection) {
        connection.lastUsed = .now()
        release(connection)
    }

    /// A finished, reusable connection comes back.
    func release(_ connection: HTTP1UpstreamConnection) {
        guard connection.isActive else { return }
        if idle[connection.endpoint.index].count >= cluster.settings.maxIdlePerEndpoint {
            connection.close()
            return
        }
        idle[connection.endpoint.index].append(connection)
        startSweeperIfNeeded()
    }

    func connectionClosed(_ connection: HTTP1UpstreamConnection) {
        openConnections -= 1
        let index = connection.endpoint.index
        if let position = idle[index].firstIndex(where: { $0 === connection }) {
            idle[index].remove(at: position)
        }
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
    }

    /// Closes every idle connection (shutdown).
    public func closeIdle() {
        sweeper?.cancel()
        sweeper = nil
        for list in idle { for connection in list { connection.close() } }
        idle = Array(repeating: [], count: idle.count)
    }
}
