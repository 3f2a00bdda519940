@testable import FaultFilter
import Testing

@Suite("fault filter: chance")
struct FaultFilterTests {
    @Test("0 never happens, 100 always; in between, the share of random words follows the percent")
    func percent() {
        #expect(!FaultFilterConfig.happens(0, random: .max))
        #expect(FaultFilterConfig.happens(100, random: .max))
        var generator = SystemRandomNumberGenerator()
        var hits = 0
        for _ in 0..<20_000 where FaultFilterConfig.happens(25, random: generator.next()) { hits += 1 }
        // 25% of 20,000 is 5,000; the standard deviation is ~61, so this holds but for a one-in-a-billion draw.
        #expect(hits > 4_600 && hits < 5_400, "\(hits)")
        #expect(FaultFilterConfig.happens(0.5, random: 0))
        #expect(!FaultFilterConfig.happens(0.5, random: .max))
    }
}
