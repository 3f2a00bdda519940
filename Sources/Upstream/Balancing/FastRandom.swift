/// wyrand: a fast per-loop generator for load balancing, seeded from the system's random source.
/// Balancing needs spread, not secrecy, and a `getrandom` call per pick would cost more than the pick.
public struct FastRandom {
    private var state: UInt64

    public init() {
        var system = SystemRandomNumberGenerator()
        state = system.next()
    }

    /// A fixed seed, for tests that must be repeatable.
    public init(seed: UInt64) { state = seed }

    public mutating func next() -> UInt64 {
        state &+= 0xa076_1d64_78bd_642f
        let product = state.multipliedFullWidth(by: state ^ 0xe703_7ed1_a0b4_28db)
        return product.high ^ product.low
    }

    /// Uniform in `0..<bound` (multiply-shift; the bias is below 2^-32 for any bound a cluster has).
    public mutating func next(below bound: Int) -> Int {
        precondition(bound > 0)
        return Int(next().multipliedFullWidth(by: UInt64(bound)).high)
    }
}
