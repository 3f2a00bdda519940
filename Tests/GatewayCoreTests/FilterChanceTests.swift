import GatewayFilterAPI
import Testing

@Suite("FilterChance: the share of requests a percent picks")
struct FilterChanceTests {
    @Test("the lowest words are picked first; the share of random words follows the percent")
    func share() {
        #expect(FilterChance.happens(0.5, random: 0))
        #expect(!FilterChance.happens(0.5, random: .max))
        #expect(!FilterChance.happens(0, random: 0))
        var generator = SystemRandomNumberGenerator()
        var hits = 0
        for _ in 0..<20_000 where FilterChance.happens(25, random: generator.next()) { hits += 1 }
        // 25% of 20,000 is 5,000; the standard deviation is ~61, so this holds but for a one-in-a-billion draw.
        #expect(hits > 4_600 && hits < 5_400, "\(hits)")
    }
}
