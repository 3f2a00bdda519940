/// Maglev consistent hashing (Eisenbud et al., NSDI 2016, with Envoy's weighting): a lookup table of a
/// prime size where each endpoint fills slots in the order of its own permutation, taking turns in
/// proportion to weight. A lookup is one modulo and one load; removing an endpoint remaps about its
/// share of keys plus a little churn. Built once per cluster at load and shared read-only by every loop.
///
/// Deterministic for the same endpoint set: permutations come from fixed-seed hashes of the address, and
/// endpoints take turns in address order, so every instance builds the same table.
public struct MaglevTable: Sendable {
    /// Endpoint index per slot; empty when no endpoint has weight.
    public let slots: [Int32]

    /// Envoy's default table size (prime, and much larger than any endpoint count we expect).
    public static let defaultSize = 65537

    public init(endpoints: [(label: String, weight: Int, index: Int)], size: Int = defaultSize) {
        let members = endpoints.filter { $0.weight > 0 }.sorted { $0.label < $1.label }
        guard !members.isEmpty else {
            slots = []
            return
        }
        let m = UInt64(size)
        let offsets = members.map { StableHash.hash($0.label, seed: StableHash.offsetSeed) % m }
        let skips = members.map { StableHash.hash($0.label, seed: StableHash.skipSeed) % (m - 1) + 1 }
        let maxWeight = members.map(\.weight).max()!
        var next = Array(repeating: UInt64(0), count: members.count)
        // An endpoint of weight w takes a slot in an iteration when iteration * w has caught up with its
        // target; the target grows by the largest weight at each turn taken.
        var targets = Array(repeating: 0, count: members.count)
        var table = Array(repeating: Int32(-1), count: size)
        var filled = 0
        var iteration = 1
        while filled < size {
            for i in members.indices where filled < size {
                if iteration * members[i].weight < targets[i] { continue }
                targets[i] += maxWeight
                var slot = Int((offsets[i] &+ skips[i] &* next[i]) % m)
                while table[slot] >= 0 {
                    next[i] += 1
                    slot = Int((offsets[i] &+ skips[i] &* next[i]) % m)
                }
                table[slot] = Int32(members[i].index)
                next[i] += 1
                filled += 1
            }
            iteration += 1
        }
        slots = table
    }

    public var count: Int { slots.count }
}
