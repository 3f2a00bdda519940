/// Which endpoints of a cluster the balancers may pick, as the health monitor last decided: immutable,
/// published to every loop by `execute`, so a pick reads loop-local memory and takes no lock.
public struct EndpointAvailability: Sendable, Equatable {
    /// Passing active health checks (true when there are none).
    public var healthy: [Bool]
    /// Ejected by outlier detection.
    public var ejected: [Bool]
    /// Too few endpoints are up: balance over all of them rather than overload the few (Envoy's panic).
    public var panic: Bool
    /// What the balancers use: healthy and not ejected, or everything in panic.
    public var usable: [Bool]

    public var upCount: Int { zip(healthy, ejected).filter { $0 && !$1 }.count }

    /// - Parameter panicThreshold: percent of endpoints that must be up; below it, panic. 0 disables.
    public init(healthy: [Bool], ejected: [Bool], panicThreshold: Int) {
        self.healthy = healthy
        self.ejected = ejected
        let up = zip(healthy, ejected).map { $0 && !$1 }
        let upCount = up.filter { $0 }.count
        // Envoy: panic when the healthy share is below the threshold (and there is something to panic over).
        panic = !up.isEmpty && upCount * 100 < panicThreshold * up.count
        usable = panic ? Array(repeating: true, count: up.count) : up
    }

    public static func allUp(_ count: Int) -> EndpointAvailability {
        EndpointAvailability(healthy: Array(repeating: true, count: count), ejected: Array(repeating: false, count: count), panicThreshold: 0)
    }
}
