/// The active-health state of each endpoint: healthy or not, and how many results in a row disagree with
/// that. Pure; the monitor feeds it probe results.
public struct HealthCheckTracker {
    public struct EndpointState: Sendable {
        public var healthy = true
        /// No probe has answered yet: the first result decides at once (no threshold), as Envoy does
        /// while a cluster warms up.
        public var checked = false
        public var streak = 0
        public var failuresTotal: UInt64 = 0
        public var lastFailure: String?
    }

    public let healthyThreshold: Int
    public let unhealthyThreshold: Int
    public private(set) var endpoints: [EndpointState]

    public init(healthyThreshold: Int, unhealthyThreshold: Int, endpoints: Int) {
        self.healthyThreshold = max(1, healthyThreshold)
        self.unhealthyThreshold = max(1, unhealthyThreshold)
        self.endpoints = Array(repeating: EndpointState(), count: endpoints)
    }

    public var healthy: [Bool] { endpoints.map(\.healthy) }

    /// Records a probe result; returns the new health when it changed.
    public mutating func record(endpoint index: Int, passed: Bool, reason: String? = nil) -> Bool? {
        var state = endpoints[index]
        defer { endpoints[index] = state }
        if !passed {
            state.failuresTotal += 1
            state.lastFailure = reason
        }
        if !state.checked {
            state.checked = true
            state.streak = 0
            if state.healthy != passed {
                state.healthy = passed
                return passed
            }
            return nil
        }
        if passed == state.healthy {
            state.streak = 0
            return nil
        }
        state.streak += 1
        guard state.streak >= (passed ? healthyThreshold : unhealthyThreshold) else { return nil }
        state.streak = 0
        state.healthy = passed
        return passed
    }
}
