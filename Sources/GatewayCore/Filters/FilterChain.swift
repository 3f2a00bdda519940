import GatewayFilterAPI

/// One configured filter: its name (for logs) and its factory, built and validated at config load.
public struct ConfiguredFilter: Sendable {
    public let name: String
    public let factory: any HTTPFilterFactory
    /// The factory's phases, read once: the data path checks these bits, not the existential.
    public let phases: FilterPhases

    init(name: String, factory: any HTTPFilterFactory) {
        self.name = name
        self.factory = factory
        self.phases = factory.phases
    }
}

/// The filters a request on one route passes, in order: the listener's, then the route's. Built once at
/// load. An empty chain is what a route without filters pays: one bit test per phase.
public struct FilterChain: Sendable {
    public let filters: [ConfiguredFilter]
    /// The union of every filter's phases.
    public let phases: FilterPhases

    public static let empty = FilterChain(filters: [])

    public init(filters: [ConfiguredFilter]) {
        self.filters = filters
        self.phases = filters.reduce(into: []) { $0.formUnion($1.phases) }
    }

    public var isEmpty: Bool { filters.isEmpty }

    /// The body limit for `.bufferBody` when neither the route nor the listener sets `max_body_bytes`.
    public static let defaultMaxBufferedBody: Int64 = 1 << 20
}
