import Logging
import NIOCore

/// The health of one cluster's endpoints for the whole process: active health checks (one probe per
/// endpoint per interval, not one per loop) and outlier ejections. It lives on one event loop and
/// publishes every change to each loop's `ClusterLoopState` as an immutable `EndpointAvailability`,
/// through `execute`: the request path reads loop-local memory and never takes a lock.
///
/// Loops report outliers to it (`reportOutlier`) when their own consecutive-failure counters cross a
/// threshold; it alone decides, so the max-ejection cap holds for the process.
///
/// `@unchecked Sendable`: the reference travels to other loops (to call back here with `execute`), but
/// its state is only touched on `eventLoop`.
public final class ClusterHealthMonitor: @unchecked Sendable {
    public let cluster: UpstreamCluster
    public let eventLoop: EventLoop
    private let logger: Logger
    private var loops: [ClusterLoopState] = []
    private var tracker: HealthCheckTracker
    private var outliers: OutlierDetector?
    private var published: EndpointAvailability
    private var expiryTask: Scheduled<Void>?
    private var probeTasks: [Scheduled<Void>?]
    private var random = FastRandom()
    private var stopped = false
    /// For an HTTP/2 cluster's `http` and `grpc` checks: the probes' own connections (created on first use).
    private var probePool: ClusterLoopState?

    public init(cluster: UpstreamCluster, eventLoop: EventLoop, logger: Logger) {
        self.cluster = cluster
        self.eventLoop = eventLoop
        self.logger = logger
        let count = cluster.endpoints.count
        let check = cluster.options.healthCheck
        tracker = HealthCheckTracker(healthyThreshold: check?.healthyThreshold ?? 1, unhealthyThreshold: check?.unhealthyThreshold ?? 1, endpoints: count)
        outliers = cluster.options.outlierDetection.map { OutlierDetector(settings: $0, endpoints: count) }
        published = .allUp(count)
        probeTasks = Array(repeating: nil, count: count)
    }

    /// Whether this cluster needs a monitor at all.
    public static func isNeeded(for cluster: UpstreamCluster) -> Bool {
        cluster.options.healthCheck != nil || cluster.options.outlierDetection != nil
    }

    /// Connects the loops' states (before traffic starts) and starts the checks.
    public func start(loops: [ClusterLoopState]) {
        self.loops = loops
        for state in loops { state.monitor = self }
        eventLoop.execute { [self] in
            guard let check = cluster.options.healthCheck else { return }
            for endpoint in cluster.endpoints {
                // The first round goes out at once, spread over a little jitter, so an endpoint that is
                // down at startup is found within one timeout rather than one interval.
                scheduleProbe(endpoint, check, after: .milliseconds(Int64(random.next(below: 50))))
            }
        }
    }

    public func stop() {
        eventLoop.execute { [self] in
            stopped = true
            for task in probeTasks { task?.cancel() }
            probePool?.retire()
            expiryTask?.cancel()
        }
    }

    // MARK: - Active checks

    private func scheduleProbe(_ endpoint: Endpoint, _ check: HealthCheckSettings, after delay: TimeAmount) {
        guard !stopped else { return }
        probeTasks[endpoint.index] = eventLoop.scheduleTask(in: delay) { [self] in
            let probe: EventLoopFuture<HealthProbe.Result>
            if cluster.options.upstreamProtocol == .http2 && check.kind != .tcp {
                let pool = probePool ?? HTTP2HealthProbe.probePool(for: cluster, on: eventLoop)
                probePool = pool
                probe = HTTP2HealthProbe.run(check, endpoint: endpoint, pool: pool, on: eventLoop)
            } else {
                let tls = cluster.options.tlsHTTP1Only ?? cluster.options.tls
                probe = HealthProbe.run(check, endpoint: endpoint, tls: tls.map { ($0, cluster.tlsPeers[endpoint.index]) }, on: eventLoop)
            }
            probe.whenSuccess { [self] result in probeFinished(endpoint, check, result) }
        }
    }

    private func probeFinished(_ endpoint: Endpoint, _ check: HealthCheckSettings, _ result: HealthProbe.Result) {
        if let healthy = tracker.record(endpoint: endpoint.index, passed: result.passed, reason: result.reason) {
            if healthy {
                logger.info("endpoint healthy", metadata: ["upstream_cluster": "\(cluster.name)", "endpoint": "\(endpoint.label)", "check": "active"])
            } else {
                logger.warning("endpoint unhealthy", metadata: ["upstream_cluster": "\(cluster.name)", "endpoint": "\(endpoint.label)",
                                                                 "check": "active", "reason": "\(result.reason ?? "")"])
            }
            publish()
        }
        var wait = check.interval
        if check.jitter.nanoseconds > 0 { wait = wait + .nanoseconds(Int64(random.next(below: Int(check.jitter.nanoseconds)))) }
        scheduleProbe(endpoint, check, after: wait)
    }

    // MARK: - Outlier detection

    /// A loop saw an endpoint cross a consecutive-failure threshold. Safe from any loop.
    public func reportOutlier(_ endpointIndex: Int, reason: String) {
        eventLoop.execute { [self] in ejectIfAllowed(endpointIndex, reason: reason) }
    }

    private func ejectIfAllowed(_ index: Int, reason: String) {
        guard var detector = outliers else { return }
        let decision = detector.eject(index, now: .now())
        outliers = detector
        let label = cluster.endpoints[index].label
        switch decision {
        case .ejected(let until):
            let seconds = Double((until - .now()).nanoseconds) / 1e9
            logger.warning("endpoint ejected", metadata: ["upstream_cluster": "\(cluster.name)", "endpoint": "\(label)", "reason": "\(reason)",
                                                          "ejection_s": "\(seconds.rounded())", "ejections": "\(detector.endpoints[index].ejectionsTotal)"])
            publish()
            scheduleExpiry()
        case .refusedByCap:
            logger.notice("ejection refused by max_ejection_percent", metadata: ["upstream_cluster": "\(cluster.name)", "endpoint": "\(label)",
                                                                                  "reason": "\(reason)"])
        case .alreadyEjected:
            break
        }
    }

    private func scheduleExpiry() {
        expiryTask?.cancel()
        guard !stopped, let next = outliers?.nextExpiry else { return }
        expiryTask = eventLoop.scheduleTask(deadline: next) { [self] in
            guard var detector = outliers else { return }
            let returned = detector.expire(now: .now())
            outliers = detector
            for index in returned {
                logger.info("endpoint returned from ejection", metadata: ["upstream_cluster": "\(cluster.name)", "endpoint": "\(cluster.endpoints[index].label)"])
            }
            if !returned.isEmpty { publish() }
            scheduleExpiry()
        }
    }

    // MARK: - Publishing

    private func publish() {
        let count = cluster.endpoints.count
        let availability = EndpointAvailability(healthy: tracker.healthy, ejected: outliers?.ejected ?? Array(repeating: false, count: count),
                                                panicThreshold: cluster.options.panicThreshold)
        if availability.panic != published.panic {
            if availability.panic {
                logger.warning("cluster in panic mode: too few endpoints up, balancing over all", metadata: [
                    "upstream_cluster": "\(cluster.name)", "up": "\(availability.upCount)", "endpoints": "\(count)"])
            } else {
                logger.info("cluster left panic mode", metadata: ["upstream_cluster": "\(cluster.name)", "up": "\(availability.upCount)"])
            }
        }
        published = availability
        for state in loops {
            state.eventLoop.execute { state.apply(availability) }
        }
    }

    /// What the admin API and metrics show. Call on `eventLoop` (e.g. through `submit`).
    public var status: ClusterHealthStatus {
        let detector = outliers
        return ClusterHealthStatus(
            availability: published,
            activeChecks: cluster.options.healthCheck != nil,
            ejectionsTotal: cluster.endpoints.indices.map { detector?.endpoints[$0].ejectionsTotal ?? 0 },
            healthCheckFailures: tracker.endpoints.map(\.failuresTotal),
            checked: tracker.endpoints.map(\.checked))
    }
}

/// A copy of a cluster's health for the admin API and metrics.
public struct ClusterHealthStatus: Sendable {
    public var availability: EndpointAvailability
    public var activeChecks: Bool
    public var ejectionsTotal: [UInt64]
    public var healthCheckFailures: [UInt64]
    /// An active probe has answered (before that, an endpoint counts as healthy).
    public var checked: [Bool]

    /// For a cluster without health checks or outlier detection.
    public static func unmonitored(_ cluster: UpstreamCluster) -> ClusterHealthStatus {
        let count = cluster.endpoints.count
        return ClusterHealthStatus(availability: .allUp(count), activeChecks: false, ejectionsTotal: Array(repeating: 0, count: count),
                                   healthCheckFailures: Array(repeating: 0, count: count), checked: Array(repeating: false, count: count))
    }

    /// Statuses shaped exactly like `clusters`: a DNS cluster may have changed its endpoint list between
    /// reading its health and rendering it; such a cluster shows as unmonitored until the next read.
    public static func aligned(_ health: [ClusterHealthStatus], to clusters: [UpstreamCluster]) -> [ClusterHealthStatus] {
        clusters.enumerated().map { index, cluster in
            guard index < health.count, health[index].availability.healthy.count == cluster.endpoints.count else { return .unmonitored(cluster) }
            return health[index]
        }
    }

    /// `none` without active checks, `pending` until the first probe answers, then `passing` or `failing`.
    public func activeCheck(_ index: Int) -> String {
        guard activeChecks else { return "none" }
        guard checked[index] else { return "pending" }
        return availability.healthy[index] ? "passing" : "failing"
    }

    /// `healthy`, `unhealthy` (failing active checks) or `ejected` (outlier detection).
    public func health(_ index: Int) -> String {
        if availability.ejected[index] { return "ejected" }
        return availability.healthy[index] ? "healthy" : "unhealthy"
    }
}
