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

    /// Envoy's defaults: at least 1024 points, at most 8M.
    public static let defaultMinimumSize = 1024
    public static let defaultMaximumSize = 8 * 1024 * 1024

    /// - Parameter endpoints: label (address), weight and index of each endpoint; weight 0 takes no points.
    public init(endpoints: [(label: String, weight: Int, index: Int)], minimumSize: Int = defaultMinimumSize,
                maximumSize: Int = defaultMaximumSize) {
        let members = endpoints.filter { $0.weight > 0 }.sorted { $0.label < $1.label }
        let total = members.reduce(0) { $0 + $1.weight }
        guard total > 0 else {
            hashes = []
            owners = []
            return
        }
        // The lightest endpoint gets at least minimumSize * its share points; the rest scale with it.
        let minShare = Double(members.map(\.weight).min()!) / Double(total)
        let scale = min((Double(minimumSize) * minShare).rounded(.up) / minShare, Double(maximumSize))
        var points: [(hash: UInt64, order: Int, owner: Int32)] = []
        points.reserveCapacity(Int(scale) + members.count)
        // Running totals rather than per-endpoint rounding, so the ring size stays close to `scale`.
        var target = 0.0
        var placed = 0
        for (order, member) in members.enumerated() {
            target += scale * Double(member.weight) / Double(total)
            var replica = 0
            while Double(placed) < target.rounded(.down) || replica == 0 {
                points.append((StableHash.hash("\(member.label)_\(replica)"), order, Int32(member.index)))
                replica += 1
                placed += 1
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
