/// Ketama-style consistent hashing: each endpoint owns many points on a 64-bit ring, in proportion to
/// its weight, and a key belongs to the first point at or after its hash. Removing an endpoint moves only
/// the keys its points owned. Built once per cluster at load and shared read-only by every loop.
///
/// Deterministic for the same endpoint set (DESIGN.md, "Many instances"): points are hashes of
/// `address_replica` with a fixed seed, endpoints are taken in address order, and equal hashes are
/// ordered by address, so every instance builds the same ring.
public struct RingHashTable: Sendable {
    /// Point hashes, ascending.
    public let hashes: [UInt64]
    /// The endpoint index (in the cluster's order) owning each point.
    public let owners: [Int32]

    /// Points per unit of weight (weights divided by their greatest common divisor first).
    public static let defaultPointsPerWeight = 1024
    /// Weights are scaled down until the ring has at most this many points.
    public static let defaultMaximumSize = 8 * 1024 * 1024

    /// - Parameter endpoints: label (address), weight and index of each endpoint; weight 0 takes no points.
    ///
    /// The number of points an endpoint gets depends on its own weight only, not on how many endpoints
    /// there are. (Envoy sizes the ring to a minimum total instead, so every endpoint's point count
    /// changes when one joins or leaves, and about twice the ideal share of keys moves.)
    public init(endpoints: [(label: String, weight: Int, index: Int)], pointsPerWeight: Int = defaultPointsPerWeight,
                maximumSize: Int = defaultMaximumSize) {
        let members = endpoints.filter { $0.weight > 0 }.sorted { $0.label < $1.label }
        guard !members.isEmpty else {
            hashes = []
            owners = []
            return
        }
        func gcd(_ a: Int, _ b: Int) -> Int { b == 0 ? a : gcd(b, a % b) }
        let divisor = members.map(\.weight).reduce(0, gcd)
        let units = members.map { $0.weight / divisor }
        var perUnit = pointsPerWeight
        while perUnit > 1 && units.reduce(0, +) * perUnit > maximumSize { perUnit /= 2 }
        var points: [(hash: UInt64, order: Int, owner: Int32)] = []
        points.reserveCapacity(units.reduce(0, +) * perUnit)
        for (order, member) in members.enumerated() {
            for replica in 0..<max(1, units[order] * perUnit) {
                points.append((StableHash.hash("\(member.label)_\(replica)"), order, Int32(member.index)))
            }
        }
        points.sort { ($0.hash, $0.order) < ($1.hash, $1.order) }
        hashes = points.map(\.hash)
        owners = points.map(\.owner)
    }

    public var count: Int { hashes.count }

    /// The ring position a key hashes to: the first point at or after it, wrapping around.
    @inlinable
    public func position(of hash: UInt64) -> Int {
        var low = 0
        var high = hashes.count
        while low < high {
            let middle = (low + high) >> 1
            if hashes[middle] < hash { low = middle + 1 } else { high = middle }
        }
        return low == hashes.count ? 0 : low
    }
}
