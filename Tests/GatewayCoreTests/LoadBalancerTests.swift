import Testing
import Upstream

@Suite("Load-balancing policies")
struct LoadBalancerTests {
    private func counts(_ policy: LoadBalancingPolicy, weights: [Int], usable: [Bool]? = nil, picks: Int, seed: UInt64 = 42) -> [Int] {
        var balancer = LoadBalancer(policy: policy, weights: weights, table: nil, loopIndex: 0, rng: FastRandom(seed: seed))
        if let usable { balancer.setUsable(usable) }
        var counts = Array(repeating: 0, count: weights.count)
        for _ in 0..<picks { if let index = balancer.pick() { counts[index] += 1 } }
        return counts
    }

    /// Largest relative error of the observed shares against the weights' shares.
    private func worstError(_ counts: [Int], _ weights: [Int]) -> Double {
        let total = Double(counts.reduce(0, +))
        let weightTotal = Double(weights.reduce(0, +))
        return zip(counts, weights).filter { $0.1 > 0 }.map { abs(Double($0.0) / total - Double($0.1) / weightTotal) / (Double($0.1) / weightTotal) }.max() ?? 0
    }

    @Test("random and least_request (idle) respect weights 1:2:3:4 within 3% over 100k picks", arguments: [LoadBalancingPolicy.random, .leastRequest])
    func weightedDistribution(_ policy: LoadBalancingPolicy) {
        let weights = [1, 2, 3, 4]
        let observed = counts(policy, weights: weights, picks: 100_000)
        print("\(policy.rawValue): weights 1:2:3:4 got \(observed) of 100k picks, worst relative error \(String(format: "%.2f", worstError(observed, weights) * 100))%")
        #expect(worstError(observed, weights) < 0.03, "\(observed)")
    }

    @Test("round robin respects weights exactly over whole cycles")
    func roundRobinExact() {
        #expect(counts(.roundRobin, weights: [1, 2, 3, 4], picks: 10_000) == [1000, 2000, 3000, 4000])
    }

    @Test("weight 0 and unusable endpoints are never picked", arguments: LoadBalancingPolicy.allCases)
    func unusableSkipped(_ policy: LoadBalancingPolicy) {
        let members = [0, 1, 2, 3].map { (label: "10.0.0.\($0):80", weight: $0 == 0 ? 0 : 1, index: $0) }
        let table: ConsistentHashTable? = policy == .ringHash ? .ring(RingHashTable(endpoints: members))
            : policy == .maglev ? .maglev(MaglevTable(endpoints: members, size: 1009)) : nil
        var balancer = LoadBalancer(policy: policy, weights: members.map(\.weight), table: table, loopIndex: 0, rng: FastRandom(seed: 7))
        balancer.setUsable([true, true, false, true])
        var seen = Set<Int>()
        for key in 0..<2000 { if let index = balancer.pick(hash: StableHash.hash("k\(key)")) { seen.insert(index) } }
        #expect(seen == [1, 3])
    }

    @Test("least_request prefers the less loaded endpoint (P2C): about 3/4 of picks with two endpoints")
    func powerOfTwoPrefersLessLoaded() {
        var balancer = LoadBalancer(policy: .leastRequest, weights: [1, 1], table: nil, loopIndex: 0, rng: FastRandom(seed: 3))
        balancer.setActive(0, 50)
        var toIdle = 0
        for _ in 0..<10_000 where balancer.pick() == 1 { toIdle += 1 }
        // The busy one wins only when both choices land on it (1/4).
        #expect(toIdle > 7_200 && toIdle < 7_800, "\(toIdle)")
    }

    @Test("least_request weighs load by weight: 10 requests on weight 10 beat 2 on weight 1")
    func powerOfTwoWeighted() {
        var balancer = LoadBalancer(policy: .leastRequest, weights: [10, 1], table: nil, loopIndex: 0, rng: FastRandom(seed: 5))
        balancer.setActive(0, 10)
        balancer.setActive(1, 2)
        var heavy = 0
        for _ in 0..<10_000 where balancer.pick() == 0 { heavy += 1 }
        // 10/10 = 1 < 2/1 = 2: the heavy endpoint wins every mixed draw.
        #expect(heavy > 9_500, "\(heavy)")
    }

    @Test("a retry avoids the endpoint that failed while another is usable", arguments: LoadBalancingPolicy.allCases)
    func excludingAvoidsFailed(_ policy: LoadBalancingPolicy) {
        let members = [0, 1, 2].map { (label: "10.0.0.\($0):80", weight: 1, index: $0) }
        let table: ConsistentHashTable? = policy == .ringHash ? .ring(RingHashTable(endpoints: members))
            : policy == .maglev ? .maglev(MaglevTable(endpoints: members, size: 1009)) : nil
        var balancer = LoadBalancer(policy: policy, weights: [1, 1, 1], table: table, loopIndex: 0, rng: FastRandom(seed: 11))
        for key in 0..<1000 {
            #expect(balancer.pick(hash: StableHash.hash("k\(key)"), excluding: 1) != 1)
        }
        balancer.setUsable([false, true, false])
        #expect(balancer.pick(excluding: 1) == 1, "the only usable endpoint is still used")
    }
}
