/// One event loop's balancer for one cluster: whichever policy the cluster has, over the endpoints that
/// are currently usable (health checks, outlier ejection, panic mode decide which; see
/// `EndpointAvailability`), restricted to the local zone while it has enough of them. Touched only on
/// its loop; a pick allocates nothing.
public struct LoadBalancer {
    public let policy: LoadBalancingPolicy
    private let weights: [Int]
    private let table: ConsistentHashTable?
    private let loopIndex: Int
    /// What the policy picks from: available, weighted, and in the local zone when that zone is preferred.
    private var usable: [Bool]
    /// Up by health (whatever the weight or zone): a sticky session may still reach these.
    private var available: [Bool]
    /// Available and weighted: what header stickiness hashes over.
    private var stickyMask: [Bool]
    /// Endpoints of the local zone (`local_zone`), nil without zone-aware balancing.
    private let local: [Bool]?
    private let minLocalPercent: Int
    /// Traffic is kept in the local zone right now.
    public private(set) var localZoneActive = false
    /// Round robin over the usable endpoints' weights (unusable ones weigh 0).
    private var roundRobin: RoundRobinBalancer
    /// Running sums of usable weights, for weighted random draws by binary search.
    private var cumulative: [Int]
    private var rng: FastRandom
    /// Requests in flight per endpoint on this loop (`least_request`).
    public private(set) var active: [Int]

    /// - Parameters:
    ///   - local: which endpoints are in the local zone, for zone-aware balancing (nil: none).
    ///   - minLocalPercent: the share of the local zone's weighted endpoints that must be available for
    ///     traffic to stay in it.
    public init(policy: LoadBalancingPolicy, weights: [Int], table: ConsistentHashTable?, loopIndex: Int, rng: FastRandom = FastRandom(),
                local: [Bool]? = nil, minLocalPercent: Int = 70) {
        self.policy = policy
        self.weights = weights
        self.table = table
        self.loopIndex = loopIndex
        self.local = local
        self.minLocalPercent = minLocalPercent
        self.available = Array(repeating: true, count: weights.count)
        self.usable = Array(repeating: true, count: weights.count)
        self.stickyMask = weights.map { $0 > 0 }
        self.roundRobin = RoundRobinBalancer(weights: weights, startOffset: loopIndex)
        self.cumulative = []
        self.rng = rng
        self.active = Array(repeating: 0, count: weights.count)
        let picking = restrictToLocalZone(available)
        if picking != usable {
            usable = picking
            roundRobin = RoundRobinBalancer(weights: weights.indices.map { picking[$0] ? weights[$0] : 0 }, startOffset: loopIndex)
        }
        rebuildCumulative()
    }

    /// Which endpoints are up from now on (the monitor's decision); the pickable set follows, zone first.
    public mutating func setUsable(_ available: [Bool]) {
        guard available.count == weights.count, available != self.available else { return }
        self.available = available
        stickyMask = weights.indices.map { available[$0] && weights[$0] > 0 }
        let usable = restrictToLocalZone(available)
        guard usable != self.usable else { return }
        self.usable = usable
        roundRobin = RoundRobinBalancer(weights: weights.indices.map { usable[$0] ? weights[$0] : 0 }, startOffset: loopIndex)
        rebuildCumulative()
    }

    /// Envoy's zone-aware routing, simple version: everything to the local zone while at least
    /// `minLocalPercent` of its weighted endpoints are available, else every zone.
    private mutating func restrictToLocalZone(_ available: [Bool]) -> [Bool] {
        localZoneActive = false
        guard let local else { return available }
        var total = 0
        var up = 0
        for index in weights.indices where local[index] && weights[index] > 0 {
            total += 1
            if available[index] { up += 1 }
        }
        guard up > 0, up * 100 >= minLocalPercent * total else { return available }
        localZoneActive = true
        return weights.indices.map { available[$0] && local[$0] }
    }

    /// Up by health, whatever its weight or zone: a sticky session's endpoint (weight 0 is draining:
    /// no new sessions, but its own still reach it).
    public func isAvailable(_ index: Int) -> Bool { index >= 0 && index < available.count && available[index] }

    private mutating func rebuildCumulative() {
        var sum = 0
        cumulative = weights.indices.map { index in
            if usable[index] { sum += weights[index] }
            return sum
        }
    }

    public func isUsable(_ index: Int) -> Bool { usable[index] && weights[index] > 0 }

    public mutating func requestStarted(_ index: Int) { active[index] += 1 }
    public mutating func requestEnded(_ index: Int) { active[index] -= 1 }

    /// Test hook: pretend `count` requests are in flight to an endpoint.
    public mutating func setActive(_ index: Int, _ count: Int) { active[index] = count }

    /// The next endpoint, or nil when none is usable.
    /// - Parameters:
    ///   - hash: The request's key hash for consistent-hash policies (nil: no key, pick at random).
    ///   - excluding: An endpoint to avoid (the one a retry just failed on), or -1. It is still returned
    ///     when it is the only usable one: a retry there beats no retry.
    public mutating func pick(hash: UInt64? = nil, excluding: Int = -1) -> Int? {
        if let hash, let table {
            return pickHashed(hash, table: table, excluding: excluding, mask: usable)
        }
        for _ in 0..<3 {
            guard let index = pickOnce() else { return nil }
            if index != excluding { return index }
        }
        // Unlucky draws, or the excluded endpoint is the only usable one: take the next usable other.
        let count = weights.count
        let start = rng.next(below: count)
        for step in 0..<count {
            let index = (start + step) % count
            if index != excluding && isUsable(index) { return index }
        }
        return isUsable(excluding) ? excluding : nil
    }

    private mutating func pickOnce() -> Int? {
        switch policy {
        case .roundRobin:
            return roundRobin.next()
        case .random, .ringHash, .maglev:
            return weightedRandom()
        case .leastRequest:
            guard let first = weightedRandom(), let second = weightedRandom() else { return nil }
            // Fewer requests in flight per unit of weight wins (a/wa < b/wb, without division). Ties go to
            // the first draw, which is weighted: idle endpoints, or loads already in proportion to the
            // weights, then get traffic in proportion to weight rather than the heavy one winning twice.
            return active[second] * weights[first] < active[first] * weights[second] ? second : first
        }
    }

    private mutating func weightedRandom() -> Int? {
        guard let total = cumulative.last, total > 0 else { return nil }
        let draw = rng.next(below: total)
        // The first index whose running sum exceeds the draw; unusable ones add 0 and are never chosen.
        var low = 0
        var high = cumulative.count - 1
        while low < high {
            let middle = (low + high) >> 1
            if cumulative[middle] > draw { high = middle } else { low = middle + 1 }
        }
        return low
    }

    /// The key's owner when it is usable. Otherwise the ring walks on to the next usable point, and
    /// Maglev rehashes the key a few times before scanning: either way only the keys of unusable
    /// endpoints move, and they move the same way on every instance.
    private func pickHashed(_ hash: UInt64, table: ConsistentHashTable, excluding: Int, mask: [Bool]) -> Int? {
        switch table {
        case .ring(let ring):
            guard ring.count > 0 else { return nil }
            let start = ring.position(of: hash)
            for step in 0..<ring.count {
                let owner = Int(ring.owners[(start + step) % ring.count])
                if owner != excluding && mask[owner] { return owner }
            }
        case .maglev(let maglev):
            guard maglev.count > 0 else { return nil }
            var key = hash
            let size = UInt64(maglev.count)
            for _ in 0..<8 {
                let owner = Int(maglev.slots[Int(key % size)])
                if owner != excluding && mask[owner] { return owner }
                key = StableHash.mix(key &+ 0x9e37_79b9_7f4a_7c15)
            }
            let start = Int(key % size)
            for step in 0..<maglev.count {
                let owner = Int(maglev.slots[(start + step) % maglev.count])
                if owner != excluding && mask[owner] { return owner }
            }
        }
        return excluding >= 0 && excluding < mask.count && mask[excluding] ? excluding : nil
    }

    /// Header stickiness: the key's endpoint on `table` among the available endpoints with weight, in any
    /// zone (a session keeps its endpoint whichever instance or zone the request comes through).
    public func pickSticky(hash: UInt64, table: ConsistentHashTable, excluding: Int) -> Int? {
        pickHashed(hash, table: table, excluding: excluding, mask: stickyMask)
    }
}
