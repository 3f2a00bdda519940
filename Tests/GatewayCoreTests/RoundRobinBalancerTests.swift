import Testing
import Upstream

@Suite("Smooth weighted round robin")
struct RoundRobinBalancerTests {
    private func picks(_ weights: [Int], startOffset: Int = 0, count: Int) -> [Int?] {
        var balancer = RoundRobinBalancer(weights: weights, startOffset: startOffset)
        return (0..<count).map { _ in balancer.next() }
    }

    private func counts(_ picks: some Sequence<Int?>, endpoints: Int) -> [Int] {
        var counts = Array(repeating: 0, count: endpoints)
        for pick in picks { if let pick { counts[pick] += 1 } }
        return counts
    }

    @Test("equal weights take turns in order", arguments: [[1, 1], [1, 1, 1], [3, 3], [7, 7, 7, 7]])
    func equalWeightsAlternate(_ weights: [Int]) {
        let expected = (0..<(weights.count * 5)).map { Optional($0 % weights.count) }
        #expect(picks(weights, count: weights.count * 5) == expected)
    }

    @Test("weights 5/1/1 give the nginx smooth sequence a a b a c a a, cycle after cycle")
    func smoothSequence() {
        let cycle: [Int?] = [0, 0, 1, 0, 2, 0, 0]
        #expect(picks([5, 1, 1], count: 70) == Array((0..<10).map { _ in cycle }.joined()))
    }

    @Test("every window of one full cycle picks each endpoint exactly as often as its weight, from any start offset",
          arguments: [([5, 1, 1], 0), ([5, 1, 1], 1), ([5, 1, 1], 2), ([3, 2], 1), ([2, 0, 3, 1], 3), ([10, 1], 0)])
    func proportionalPerCycle(_ weights: [Int], _ startOffset: Int) {
        let total = weights.reduce(0, +)
        let sequence = picks(weights, startOffset: startOffset, count: total * 6)
        for start in 0...(sequence.count - total) {
            #expect(counts(sequence[start..<(start + total)], endpoints: weights.count) == weights, "window at \(start)")
        }
    }

    @Test("a heavy endpoint is interleaved: light picks never meet, and 5/1/1 never runs the heavy one 5 times")
    func heavyEndpointIsSpread() {
        // Smooth WRR spreads picks within a cycle (at most 2 a's in a row inside a a b a c a a), but the cycle's
        // end meets the next one's start, so runs of 4 occur; with 5 of 7 slots a run of 3 is unavoidable anyway.
        let sequence = picks([5, 1, 1], count: 700)
        var longestRun = 0
        var run = 0
        for pick in sequence {
            run = pick == 0 ? run + 1 : 0
            longestRun = max(longestRun, run)
        }
        #expect(longestRun == 4)
        for (previous, next) in zip(sequence, sequence.dropFirst()) where previous != 0 {
            #expect(next == 0, "two light picks in a row")
        }
    }

    @Test("an endpoint with weight 0 is never picked", arguments: [[2, 0, 1], [0, 1], [0, 0, 5, 0]])
    func zeroWeightNeverPicked(_ weights: [Int]) {
        let sequence = picks(weights, count: 60)
        let total = weights.reduce(0, +)
        #expect(counts(sequence, endpoints: weights.count) == weights.map { $0 * 60 / total })
    }

    @Test("with every weight 0, or no endpoints, there is nothing to pick", arguments: [[0], [0, 0, 0], []])
    func nothingToPick(_ weights: [Int]) {
        #expect(picks(weights, count: 5) == Array(repeating: nil, count: 5))
        #expect(picks(weights, startOffset: 3, count: 1) == [nil])
    }

    @Test("loops with different start offsets begin with different endpoints")
    func startOffsetSpreadsLoops() {
        let firstPicks = (0..<4).map { picks([1, 1, 1, 1], startOffset: $0, count: 1)[0] }
        #expect(firstPicks == [0, 1, 2, 3])
        #expect(picks([1, 1, 1], startOffset: 3, count: 6) == picks([1, 1, 1], startOffset: 0, count: 6), "offsets wrap at the endpoint count")
    }

    @Test("a start offset only shifts where in the sequence a loop begins")
    func startOffsetIsARotation() {
        let base = picks([5, 1, 1], count: 30)
        for offset in 1..<3 {
            #expect(picks([5, 1, 1], startOffset: offset, count: 20) == Array(base[offset..<(offset + 20)]))
        }
    }
}
