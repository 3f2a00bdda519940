import Testing
import Upstream

@Suite("Consistent hashing: ring hash and Maglev")
struct ConsistentHashTests {
    private static func endpoints(_ count: Int, weights: [Int]? = nil) -> [(label: String, weight: Int, index: Int)] {
        (0..<count).map { (label: "10.0.\($0 / 250).\($0 % 250 + 1):8080", weight: weights?[$0] ?? 1, index: $0) }
    }

    private static func table(_ policy: LoadBalancingPolicy, _ members: [(label: String, weight: Int, index: Int)]) -> ConsistentHashTable {
        policy == .ringHash ? .ring(RingHashTable(endpoints: members)) : .maglev(MaglevTable(endpoints: members))
    }

    private static let keys = (0..<10_000).map { StableHash.hash("user-\($0)") }

    /// Share of keys whose endpoint (by label) changed when endpoint `removed` left the set.
    private static func remapped(_ policy: LoadBalancingPolicy, endpoints count: Int, removed: Int) -> (moved: Double, ofRemoved: Double) {
        let all = endpoints(count)
        let before = table(policy, all)
        // Indexes shift when one leaves; compare by address, as instances would.
        let rest = all.filter { $0.index != removed }.enumerated().map { (label: $1.label, weight: $1.weight, index: $0) }
        let after = table(policy, rest)
        var moved = 0
        var ownedByRemoved = 0
        for key in keys {
            let old = all[before.owner(of: key)!].label
            let new = rest[after.owner(of: key)!].label
            if old != new { moved += 1 }
            if old == all[removed].label { ownedByRemoved += 1 }
        }
        return (Double(moved) / Double(keys.count), Double(ownedByRemoved) / Double(keys.count))
    }

    @Test("removing 1 of 10 endpoints remaps about 1/10 of 10k keys", arguments: [LoadBalancingPolicy.ringHash, .maglev])
    func minimalDisruption(_ policy: LoadBalancingPolicy) {
        for removed in [0, 4, 9] {
            let (moved, ofRemoved) = Self.remapped(policy, endpoints: 10, removed: removed)
            print("\(policy.rawValue): removing endpoint \(removed) of 10 remapped \(String(format: "%.2f", moved * 100))% of 10k keys (it owned \(String(format: "%.2f", ofRemoved * 100))%)")
            // Ideal: exactly the removed endpoint's keys (≈10%). Ring hash moves only those; Maglev
            // moves those plus a little churn.
            #expect(moved >= ofRemoved)
            #expect(moved > 0.06 && moved < 0.15, "\(moved)")
            if policy == .ringHash { #expect(moved == ofRemoved) }
        }
    }

    @Test("tables are identical for the same endpoint set in any order (many instances agree)", arguments: [LoadBalancingPolicy.ringHash, .maglev])
    func deterministic(_ policy: LoadBalancingPolicy) {
        let members = Self.endpoints(7)
        let shuffled = members.reversed().map { $0 }
        let a = Self.table(policy, members)
        let b = Self.table(policy, shuffled)
        for key in Self.keys.prefix(2000) { #expect(a.owner(of: key) == b.owner(of: key)) }
    }

    @Test("the mapping is pinned: a known key lands on a known endpoint in every build", arguments: [LoadBalancingPolicy.ringHash, .maglev])
    func pinned(_ policy: LoadBalancingPolicy) {
        let table = Self.table(policy, Self.endpoints(5))
        let owners = (0..<8).map { table.owner(of: StableHash.hash("user-\($0)"))! }
        // Recorded once; a change here means instances of different versions would disagree.
        let expected = policy == .ringHash ? ConsistentHashTests.pinnedRing : ConsistentHashTests.pinnedMaglev
        #expect(owners == expected, "\(policy.rawValue): \(owners)")
    }
    static let pinnedRing = [1, 3, 0, 1, 1, 4, 4, 4]
    static let pinnedMaglev = [4, 4, 3, 3, 1, 3, 0, 4]

    @Test("weights shape the key share: 1:2:3:4 within 8% (ring) and 5% (Maglev)", arguments: [LoadBalancingPolicy.ringHash, .maglev])
    func weighted(_ policy: LoadBalancingPolicy) {
        let weights = [1, 2, 3, 4]
        let table = Self.table(policy, Self.endpoints(4, weights: weights))
        var counts = [0, 0, 0, 0]
        for key in (0..<100_000).map({ StableHash.hash("w\($0)") }) { counts[table.owner(of: key)!] += 1 }
        let worst = zip(counts, weights).map { abs(Double($0.0) / 100_000 - Double($0.1) / 10) / (Double($0.1) / 10) }.max()!
        print("\(policy.rawValue): weights 1:2:3:4 got \(counts) of 100k keys, worst relative error \(String(format: "%.1f", worst * 100))%")
        #expect(worst < (policy == .ringHash ? 0.08 : 0.05), "\(counts)")
    }

    @Test("a Maglev table has exactly weight-proportional slot counts")
    func maglevSlots() {
        let table = MaglevTable(endpoints: Self.endpoints(3, weights: [1, 1, 2]), size: 65537)
        var counts = [0, 0, 0]
        for slot in table.slots { counts[Int(slot)] += 1 }
        #expect(counts.reduce(0, +) == 65537)
        #expect(abs(counts[2] - 2 * counts[0]) <= 10, "\(counts)")
    }

    @Test("with an endpoint down, only its keys move, and they move the same way on every loop", arguments: [LoadBalancingPolicy.ringHash, .maglev])
    func unhealthyEndpointKeysOnly(_ policy: LoadBalancingPolicy) {
        let members = Self.endpoints(5)
        let table = Self.table(policy, members)
        var loopA = LoadBalancer(policy: policy, weights: Array(repeating: 1, count: 5), table: table, loopIndex: 0, rng: FastRandom(seed: 1))
        var loopB = LoadBalancer(policy: policy, weights: Array(repeating: 1, count: 5), table: table, loopIndex: 1, rng: FastRandom(seed: 2))
        let before = Self.keys.map { loopA.pick(hash: $0)! }
        loopA.setUsable([true, true, false, true, true])
        loopB.setUsable([true, true, false, true, true])
        for (key, old) in zip(Self.keys, before) {
            let new = loopA.pick(hash: key)!
            #expect(new != 2)
            if old != 2 { #expect(new == old) }
            #expect(loopB.pick(hash: key) == new)
        }
    }
}
