/// How a cluster spreads requests over its endpoints (`clusters[].lb`).
public enum LoadBalancingPolicy: String, Sendable, CaseIterable {
    /// Smooth weighted round robin, one position per event loop.
    case roundRobin = "round_robin"
    /// Weighted random.
    case random
    /// Weighted power of two choices on active requests (counted per event loop).
    case leastRequest = "least_request"
    /// Consistent hashing on a ring (Ketama).
    case ringHash = "ring_hash"
    /// Consistent hashing with a Maglev lookup table.
    case maglev

    public var isConsistentHash: Bool { self == .ringHash || self == .maglev }
}

/// What a consistent-hash policy hashes (`clusters[].hash_on`). A request without the header or cookie
/// is balanced at random, as Envoy does.
public enum HashKeySource: Sendable, Equatable, CustomStringConvertible {
    /// A request header, by lowercase name.
    case header(String)
    /// A cookie, by name.
    case cookie(String)
    /// The client's address (after the PROXY protocol, if any), without the port.
    case clientIP
    /// Only a key a filter sets (`FilterContext.setHashKey`, Lua `ctx:set_hash_key`).
    case filter

    public var description: String {
        switch self {
        case .header(let name): "{ header: \(name) }"
        case .cookie(let name): "{ cookie: \(name) }"
        case .clientIP: "client_ip"
        case .filter: "filter"
        }
    }
}

/// A consistent-hash table, built once per cluster at load.
public enum ConsistentHashTable: Sendable {
    case ring(RingHashTable)
    case maglev(MaglevTable)

    public init?(policy: LoadBalancingPolicy, endpoints: [Endpoint]) {
        let members = endpoints.map { (label: $0.label, weight: $0.weight, index: $0.index) }
        switch policy {
        case .ringHash: self = .ring(RingHashTable(endpoints: members))
        case .maglev: self = .maglev(MaglevTable(endpoints: members))
        default: return nil
        }
    }

    /// The endpoint a key maps to when every endpoint is up; nil when no endpoint has weight.
    public func owner(of hash: UInt64) -> Int? {
        switch self {
        case .ring(let ring):
            guard ring.count > 0 else { return nil }
            return Int(ring.owners[ring.position(of: hash)])
        case .maglev(let table):
            guard table.count > 0 else { return nil }
            return Int(table.slots[Int(hash % UInt64(table.count))])
        }
    }
}
