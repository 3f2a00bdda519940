import GatewayFilterAPI

/// A stream's filter instances, in chain order. The first is kept inline: most routes with filters have
/// one, and an array per stream was one of the few allocations such a request still made.
struct FilterInstances {
    private var first: (any HTTPFilter)?
    private var rest: [any HTTPFilter] = []

    var count: Int { first == nil ? 0 : 1 + rest.count }
    var isEmpty: Bool { first == nil }

    subscript(index: Int) -> any HTTPFilter { index == 0 ? first! : rest[index - 1] }

    mutating func append(_ filter: any HTTPFilter) {
        if first == nil { first = filter } else { rest.append(filter) }
    }

    /// Room for `total` instances in all, so that appending them grows the overflow array at most once.
    mutating func reserveCapacity(_ total: Int) {
        if total > 1 { rest.reserveCapacity(total - 1) }
    }
}
