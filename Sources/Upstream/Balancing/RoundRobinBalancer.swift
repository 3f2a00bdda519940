/// Smooth weighted round robin (the nginx algorithm): over one cycle each endpoint is picked in
/// proportion to its weight, and picks of a heavy endpoint are spread out rather than bunched.
/// One instance per event loop, so no synchronization; loops start at different offsets.
public struct RoundRobinBalancer {
    private var current: [Int]
    private let weights: [Int]
    private let totalWeight: Int

    public init(weights: [Int], startOffset: Int) {
        self.weights = weights
        self.totalWeight = weights.reduce(0, +)
        self.current = Array(repeating: 0, count: weights.count)
        // Spread loops: each starts as if it had already made `startOffset` picks.
        for _ in 0..<(startOffset % max(1, weights.count)) { _ = next() }
    }

    /// The index of the next endpoint, or nil when every weight is 0.
    public mutating func next() -> Int? {
        guard totalWeight > 0 else { return nil }
        var best = -1
        for i in weights.indices where weights[i] > 0 {
            current[i] += weights[i]
            if best < 0 || current[i] > current[best] { best = i }
        }
        current[best] -= totalWeight
        return best
    }
}
