import NIOCore
import Testing
import Upstream

@Suite("Outlier detection and active health state")
struct OutlierDetectorTests {
    private let t0 = NIODeadline.uptimeNanoseconds(1_000_000_000_000)
    private func settings(percent: Int = 50) -> OutlierSettings {
        var s = OutlierSettings()
        s.consecutive5xx = 3
        s.consecutiveConnectFailures = 2
        s.baseEjection = .seconds(10)
        s.maxEjection = .seconds(35)
        s.maxEjectionPercent = percent
        return s
    }

    @Test("consecutive 5xx cross the threshold at the 3rd; a success in between starts over")
    func consecutiveCounting() {
        var counter = ConsecutiveFailureCounter(settings: settings(), endpoints: 2)
        let steps: [(AttemptOutcome, Int)] = [(.serverError, 0), (.serverError, 0), (.success, 0), (.serverError, 0), (.serverError, 1),
                                              (.serverError, 0), (.serverError, 0), (.serverError, 0)]
        let crossed = steps.map { counter.record($0.0, endpoint: $0.1) }
        #expect(crossed == [false, false, false, false, false, false, true, false], "counts per endpoint, and start over after crossing")
    }

    @Test("connect failures have their own, lower threshold")
    func connectFailures() {
        var counter = ConsecutiveFailureCounter(settings: settings(), endpoints: 1)
        let crossed = [counter.record(.connectFailure, endpoint: 0), counter.record(.connectFailure, endpoint: 0)]
        #expect(crossed == [false, true])
    }

    @Test("ejection time grows with repeated ejections (10s, 20s, 30s) and is capped (35s)")
    func backoff() {
        var detector = OutlierDetector(settings: settings(), endpoints: 4)
        var now = t0
        var durations: [Int64] = []
        for _ in 0..<4 {
            guard case .ejected(let until) = detector.eject(1, now: now) else { Issue.record("not ejected"); return }
            durations.append((until - now).nanoseconds / 1_000_000_000)
            let decision0 = detector.eject(1, now: now)
            #expect(decision0 == .alreadyEjected)
            let early = detector.expire(now: until - .milliseconds(1))
            #expect(early.isEmpty)
            let decision1 = detector.expire(now: until)
            #expect(decision1 == [1])
            now = until
        }
        #expect(durations == [10, 20, 30, 35])
        #expect(detector.endpoints[1].ejectionsTotal == 4)
    }

    @Test("time in service forgives earlier ejections, one base period each")
    func forgiveness() {
        var detector = OutlierDetector(settings: settings(), endpoints: 4)
        guard case .ejected(let first) = detector.eject(0, now: t0) else { Issue.record("not ejected"); return }
        _ = detector.expire(now: first)
        guard case .ejected(let second) = detector.eject(0, now: first) else { Issue.record("not ejected"); return }
        #expect(second - first == .seconds(20))
        _ = detector.expire(now: second)
        // 25 s healthy: two base periods forgiven, so the next ejection is the first again.
        let later = second + .seconds(25)
        guard case .ejected(let third) = detector.eject(0, now: later) else { Issue.record("not ejected"); return }
        #expect(third - later == .seconds(10))
    }

    @Test("max_ejection_percent caps ejections; one is always allowed; never the whole cluster")
    func cap() {
        var detector = OutlierDetector(settings: settings(percent: 50), endpoints: 4)
        let decision2 = detector.eject(0, now: t0)
        #expect(decision2 != .refusedByCap)
        let decision3 = detector.eject(1, now: t0)
        #expect(decision3 != .refusedByCap)
        let decision4 = detector.eject(2, now: t0)
        #expect(decision4 == .refusedByCap, "3 of 4 is over 50%")
        var low = OutlierDetector(settings: settings(percent: 10), endpoints: 3)
        let decision5 = low.eject(0, now: t0)
        #expect(decision5 != .refusedByCap, "one ejection is always allowed")
        let decision6 = low.eject(1, now: t0)
        #expect(decision6 == .refusedByCap)
        var all = OutlierDetector(settings: settings(percent: 100), endpoints: 2)
        let decision7 = all.eject(0, now: t0)
        #expect(decision7 != .refusedByCap)
        let decision8 = all.eject(1, now: t0)
        #expect(decision8 == .refusedByCap, "the last endpoint stays")
        var single = OutlierDetector(settings: settings(percent: 100), endpoints: 1)
        let decision9 = single.eject(0, now: t0)
        #expect(decision9 == .refusedByCap)
    }

    @Test("panic: below the threshold every endpoint is usable again")
    func panic() {
        let calm = EndpointAvailability(healthy: [true, true, false, true], ejected: [false, false, false, false], panicThreshold: 50)
        #expect(!calm.panic)
        #expect(calm.usable == [true, true, false, true])
        let panicking = EndpointAvailability(healthy: [true, false, false, true], ejected: [false, false, false, true], panicThreshold: 50)
        #expect(panicking.panic, "1 of 4 up is below 50%")
        #expect(panicking.usable == [true, true, true, true])
        let disabled = EndpointAvailability(healthy: [false, false], ejected: [false, false], panicThreshold: 0)
        #expect(!disabled.panic && disabled.usable == [false, false])
    }

    @Test("health thresholds: the first result decides, then 3 failures to go down and 2 successes to come back")
    func healthThresholds() {
        var tracker = HealthCheckTracker(healthyThreshold: 2, unhealthyThreshold: 3, endpoints: 1)
        let results = [true, false, false, true, false, false, false, true, true].map { tracker.record(endpoint: 0, passed: $0) }
        // nil: no change. The success in 4th place resets the failure streak; the third failure in a
        // row takes it down, the second success in a row brings it back.
        #expect(results == [nil, nil, nil, nil, nil, nil, false, nil, true])
        var fresh = HealthCheckTracker(healthyThreshold: 2, unhealthyThreshold: 3, endpoints: 1)
        let first = fresh.record(endpoint: 0, passed: false)
        #expect(first == false, "down at startup is found by the first probe")
    }
}
