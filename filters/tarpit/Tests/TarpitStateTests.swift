import NIOCore
@testable import TarpitFilter
import Testing

@Suite("tarpit shared state")
struct TarpitStateTests {
    @Test("the cap admits max_concurrent streams across threads, and frees places as they leave")
    func cap() async {
        var config = TarpitFilterConfig()
        config.maxConcurrent = 10
        let state = TarpitState(config: config)
        let admitted = await withTaskGroup(of: Int.self) { group in
            for _ in 0..<4 { group.addTask { (0..<100).reduce(0) { count, _ in count + (state.enter() ? 1 : 0) } } }
            return await group.reduce(0, +)
        }
        #expect(admitted == 10)
        #expect(state.activeCount == 10)
        state.leave()
        #expect(state.enter())
        #expect(!state.enter())
    }

    @Test("the 4xx rule flags a client after count errors within the window, and forgives it at the window's rate")
    func errors() throws {
        var config = TarpitFilterConfig()
        config.tooMany4xx = (count: 3, window: .seconds(60))
        let errors = try #require(TarpitState(config: config).errors)
        let now: UInt64 = 100_000_000_000
        for _ in 0..<3 {
            #expect(!errors.isExhausted(key: "192.0.2.1", now: now))
            _ = errors.acquire(key: "192.0.2.1", now: now)
        }
        #expect(errors.isExhausted(key: "192.0.2.1", now: now))
        #expect(!errors.isExhausted(key: "192.0.2.2", now: now))
        // One error's worth (window / count = 20 s) later, the client is below the threshold again.
        #expect(!errors.isExhausted(key: "192.0.2.1", now: now + 20_000_000_000))
    }
}
