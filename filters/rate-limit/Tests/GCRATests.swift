import Foundation
@testable import RateLimitFilter
import Testing

@Suite("GCRA and the local limiter, with an injected clock")
struct GCRATests {
    let second: UInt64 = 1_000_000_000

    @Test("rates parse as count per s, m or h; nonsense does not")
    func rates() {
        #expect(RateSpec(parsing: "100/s") == RateSpec(count: 100, periodNanos: second))
        #expect(RateSpec(parsing: "20/m") == RateSpec(count: 20, periodNanos: 60 * second))
        #expect(RateSpec(parsing: "5 / h") == RateSpec(count: 5, periodNanos: 3600 * second))
        for bad in ["100", "0/s", "-1/s", "10/d", "x/s", "/s"] { #expect(RateSpec(parsing: bad) == nil, "\(bad)") }
    }

    @Test("a full bucket allows exactly burst requests at once, then refuses with the time to the next token")
    func burstThenLimited() {
        let gcra = GCRA(rate: RateSpec(count: 10, periodNanos: second), burst: 5)
        let limiter = LocalRateLimiter(gcra: gcra, capacity: 64)
        let now = 1000 * second
        var remaining: [Int] = []
        for _ in 0..<5 {
            guard case .allowed(_, let left, _) = limiter.acquire(key: "k", now: now) else { Issue.record("refused early"); return }
            remaining.append(left)
        }
        #expect(remaining == [4, 3, 2, 1, 0])
        guard case .limited(let retry, let reset) = limiter.acquire(key: "k", now: now) else { Issue.record("not limited"); return }
        #expect(retry == second / 10)
        #expect(reset == 5 * second / 10)
        #expect(limiter.isExhausted(key: "k", now: now))
    }

    @Test("tokens come back at the rate: one per emission interval")
    func refill() {
        let gcra = GCRA(rate: RateSpec(count: 10, periodNanos: second), burst: 2)
        let limiter = LocalRateLimiter(gcra: gcra, capacity: 64)
        var now = 50 * second
        var allowed = 0
        // 10 s of one attempt per millisecond: 2 (burst) + 100 (10/s for 10 s).
        for _ in 0..<10_000 {
            if case .allowed = limiter.acquire(key: "k", now: now) { allowed += 1 }
            now += second / 1000
        }
        #expect(allowed == 2 + 100 || allowed == 2 + 99)
    }

    @Test("keys are independent")
    func independentKeys() {
        let limiter = LocalRateLimiter(gcra: GCRA(rate: RateSpec(count: 1, periodNanos: 60 * second), burst: 1), capacity: 64)
        let now = 10 * second
        for key in ["a", "b", "c"] {
            if case .limited = limiter.acquire(key: key, now: now) { Issue.record("\(key) refused") }
        }
        for key in ["a", "b", "c"] {
            if case .allowed = limiter.acquire(key: key, now: now) { Issue.record("\(key) allowed twice") }
        }
    }

    @Test("memory is bounded: 50 000 keys through a 1 024-slot table; idle keys make room, busy ones keep their bucket")
    // At a quarter of the table busy at once, a key almost never finds its 8-slot window all busy.
    func bounded() {
        let limiter = LocalRateLimiter(gcra: GCRA(rate: RateSpec(count: 1, periodNanos: second), burst: 1), capacity: 1024)
        #expect(limiter.capacity == 1024)
        var now = 10 * second
        // Each key is used once; a second later its bucket is full again, so its slot is free to reuse.
        for index in 0..<50_000 {
            if case .limited = limiter.acquire(key: "client-\(index)", now: now) { Issue.record("new key refused") }
            if index % 256 == 255 { now += 2 * second }
        }
        #expect(limiter.forcedEvictions < 10, "\(limiter.forcedEvictions)")
        // A key that is over its limit is still remembered after more new keys pass.
        _ = limiter.acquire(key: "hot", now: now)
        for index in 0..<200 { _ = limiter.acquire(key: "new-\(index)", now: now) }
        if case .allowed = limiter.acquire(key: "hot", now: now) { Issue.record("hot key forgotten") }
    }

    @Test("a table full of busy keys evicts the oldest and counts it, instead of growing")
    func forcedEviction() {
        let limiter = LocalRateLimiter(gcra: GCRA(rate: RateSpec(count: 1, periodNanos: 60 * second), burst: 1), capacity: 64)
        let now = 10 * second
        for index in 0..<1000 { _ = limiter.acquire(key: "k\(index)", now: now) }
        #expect(limiter.forcedEvictions >= 1000 - 64)
        #expect(limiter.contentionPasses == 0)
    }

    @Test("threads hammering one key share one limit exactly")
    func concurrentExact() async {
        let limiter = LocalRateLimiter(gcra: GCRA(rate: RateSpec(count: 1, periodNanos: 3600 * second), burst: 1000), capacity: 64)
        let now = 10 * second
        let allowed = await withTaskGroup(of: Int.self) { group in
            for _ in 0..<4 {
                group.addTask {
                    var count = 0
                    for _ in 0..<5000 { if case .allowed = limiter.acquire(key: "shared", now: now) { count += 1 } }
                    return count
                }
            }
            return await group.reduce(0, +)
        }
        #expect(allowed == 1000)
    }

    @Test("the Redis script's SHA-1 constant is the script's (else every call pays for EVAL)")
    func scriptSHA() throws {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        process.arguments = ["sha1sum"]
        let input = Pipe(), output = Pipe()
        process.standardInput = input
        process.standardOutput = output
        try process.run()
        input.fileHandleForWriting.write(Data(RedisGCRAScript.source.utf8))
        try input.fileHandleForWriting.close()
        let text = String(decoding: output.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        process.waitUntilExit()
        #expect(text.split(separator: " ").first.map(String.init) == RedisGCRAScript.sha1)
    }
}
