import GatewayFilterAPI
import NIOCore

/// `fault: { delay: { duration, percent }, abort: { status, percent }, headers, max_active }`: see README.md.
public struct FaultFilterFactory: HTTPFilterFactory {
    public static let name = "fault"
    public var phases: FilterPhases { [.requestHead] }

    private let filter: FaultFilter
    private let counters = FaultCounters()

    public static func parseConfig(_ value: any FilterConfigValue, environment: FilterEnvironment) -> FaultFilterConfig? {
        guard let map = value.mapping(allowed: ["delay", "abort", "headers", "max_active"]) else { return nil }
        var config = FaultFilterConfig()
        var valid = true
        if let delayValue = map["delay"] {
            if let delay = delayValue.mapping(allowed: ["duration", "percent"]),
               let duration = delay.required("duration")?.duration(), let percent = percent(delay) {
                config.delay = .init(duration: duration, percent: percent)
            } else {
                valid = false
            }
        }
        if let abortValue = map["abort"] {
            if let abort = abortValue.mapping(allowed: ["status", "percent"]),
               let status = abort.required("status")?.int(min: 200, max: 599), let percent = percent(abort) {
                config.abort = .init(status: status, percent: percent)
            } else {
                valid = false
            }
        }
        if let headers = map["headers"] {
            if let flag = headers.bool() { config.headers = flag } else { valid = false }
        }
        if let maxActive = map["max_active"] {
            if let n = maxActive.int(min: 1, max: 1_000_000) { config.maxActive = n } else { valid = false }
        }
        if valid && config.delay == nil && config.abort == nil && !config.headers {
            map.value.fail("configure delay, abort or headers: true")
            valid = false
        }
        return valid ? config : nil
    }

    /// `percent`: 0 to 100, fractions allowed; 100 when left out.
    private static func percent(_ map: any FilterConfigMapping) -> Double? {
        guard let value = map["percent"] else { return 100 }
        guard let text = value.scalarText, let percent = Double(text), percent >= 0, percent <= 100 else {
            value.fail("percent must be a number from 0 to 100")
            return nil
        }
        return percent
    }

    public init(config: FaultFilterConfig, environment: FilterEnvironment) {
        filter = FaultFilter(config: config, counters: counters)
    }

    public func makeFilter(on eventLoop: EventLoop) -> any HTTPFilter { filter }

    public var exportedCounters: [FilterCounter] {
        [
            FilterCounter(name: "fault_delays_total", help: "Requests delayed by the fault filter.", value: counters.delays.load(ordering: .relaxed)),
            FilterCounter(name: "fault_aborts_total", help: "Requests answered by the fault filter instead of the upstream.", value: counters.aborts.load(ordering: .relaxed)),
            FilterCounter(name: "fault_skipped_total", help: "Delays not made because max_active delays were in progress.", value: counters.skipped.load(ordering: .relaxed)),
            FilterCounter(name: "fault_active", help: "Requests being delayed now.", kind: .gauge, value: counters.active.load(ordering: .relaxed)),
        ]
    }
}
