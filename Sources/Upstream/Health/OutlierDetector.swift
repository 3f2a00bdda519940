import NIOCore

/// What one upstream attempt told us about its endpoint, for outlier detection.
public enum AttemptOutcome: Sendable {
    case success
    /// The endpoint answered with a 5xx.
    case serverError
    /// No connection could be opened (refused, timed out).
    case connectFailure
    /// The connection broke or timed out before a response.
    case reset
}

/// Counts consecutive failures per endpoint on one event loop. A loop that sees a threshold crossed asks
/// the cluster's health monitor to eject; the monitor decides for the whole process.
public struct ConsecutiveFailureCounter {
    private let settings: OutlierSettings
    private var serverErrors: [Int]
    private var connectFailures: [Int]

    public init(settings: OutlierSettings, endpoints: Int) {
        self.settings = settings
        serverErrors = Array(repeating: 0, count: endpoints)
        connectFailures = Array(repeating: 0, count: endpoints)
    }

    /// True when this outcome crosses a threshold: time to ask for an ejection.
    public mutating func record(_ outcome: AttemptOutcome, endpoint: Int) -> Bool {
        switch outcome {
        case .success:
            serverErrors[endpoint] = 0
            connectFailures[endpoint] = 0
            return false
        case .serverError, .reset:
            serverErrors[endpoint] += 1
        case .connectFailure:
            // A client sees a failed connect as a 502 or 504: it counts towards both detectors.
            serverErrors[endpoint] += 1
            connectFailures[endpoint] += 1
        }
        let crossed = (settings.consecutive5xx > 0 && serverErrors[endpoint] >= settings.consecutive5xx)
            || (settings.consecutiveConnectFailures > 0 && connectFailures[endpoint] >= settings.consecutiveConnectFailures)
        if crossed {
            // Start over: the endpoint is either ejected now or was refused by the max-percent cap, and
            // in both cases it must earn the next ejection with a fresh run of failures.
            serverErrors[endpoint] = 0
            connectFailures[endpoint] = 0
        }
        return crossed
    }
}

/// The ejection state machine of one cluster, process-wide (owned by its health monitor). Time is passed
/// in, so tests drive it with an injected clock.
///
/// An endpoint is ejected for `base * n`, where n counts its recent ejections (capped at `maxEjection`);
/// n goes down by one for each `base` the endpoint spends back in service, so an endpoint that keeps
/// failing stays out longer and longer, and one that recovered is forgiven (Envoy's behaviour).
public struct OutlierDetector {
    public struct EndpointState: Sendable {
        public var ejectedUntil: NIODeadline?
        /// Recent ejections, decaying while the endpoint is in service.
        public var multiplier = 0
        public var returnedAt: NIODeadline?
        /// Every ejection ever, for metrics.
        public var ejectionsTotal: UInt64 = 0
    }

    public enum Decision: Equatable, Sendable {
        case ejected(until: NIODeadline)
        case alreadyEjected
        /// Ejecting would exceed `max_ejection_percent` or leave the cluster with no endpoint.
        case refusedByCap
    }

    public let settings: OutlierSettings
    public private(set) var endpoints: [EndpointState]

    public init(settings: OutlierSettings, endpoints: Int) {
        self.settings = settings
        self.endpoints = Array(repeating: EndpointState(), count: endpoints)
    }

    public var ejectedCount: Int { endpoints.filter { $0.ejectedUntil != nil }.count }
    public func isEjected(_ index: Int) -> Bool { endpoints[index].ejectedUntil != nil }
    public var ejected: [Bool] { endpoints.map { $0.ejectedUntil != nil } }

    public mutating func eject(_ index: Int, now: NIODeadline) -> Decision {
        if endpoints[index].ejectedUntil != nil { return .alreadyEjected }
        let total = endpoints.count
        let already = ejectedCount
        // Never the whole cluster; otherwise within the percentage, but one ejection is always allowed
        // (with 10% of 3 endpoints, none could ever be ejected otherwise).
        let withinPercent = (already + 1) * 100 <= settings.maxEjectionPercent * total || already == 0
        guard already + 1 < total, withinPercent else { return .refusedByCap }
        var state = endpoints[index]
        if let returned = state.returnedAt, settings.baseEjection.nanoseconds > 0 {
            let forgiven = Int((now - returned).nanoseconds / settings.baseEjection.nanoseconds)
            state.multiplier = max(0, state.multiplier - forgiven)
        }
        state.multiplier += 1
        let longest = max(settings.baseEjection, settings.maxEjection)
        let (product, overflow) = settings.baseEjection.nanoseconds.multipliedReportingOverflow(by: Int64(state.multiplier))
        let duration = overflow ? longest : min(TimeAmount.nanoseconds(product), longest)
        let until = now + duration
        state.ejectedUntil = until
        state.ejectionsTotal += 1
        endpoints[index] = state
        return .ejected(until: until)
    }

    /// Returns endpoints whose ejection has ended (in index order).
    public mutating func expire(now: NIODeadline) -> [Int] {
        var returned: [Int] = []
        for index in endpoints.indices {
            guard let until = endpoints[index].ejectedUntil, until <= now else { continue }
            endpoints[index].ejectedUntil = nil
            endpoints[index].returnedAt = now
            returned.append(index)
        }
        return returned
    }

    /// When the next ejection ends, if any is in force.
    public var nextExpiry: NIODeadline? { endpoints.compactMap(\.ejectedUntil).min() }
}
