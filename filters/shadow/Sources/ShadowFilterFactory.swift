import GatewayFilterAPI
import HTTPTypes
import NIOCore

/// `shadow: { cluster, percent, match: { header, value }, max_body_bytes, timeout, max_in_flight, tag, host_rewrite }`:
/// see README.md.
public struct ShadowFilterFactory: HTTPFilterFactory {
    public static let name = "shadow"
    public let phases: FilterPhases = [.requestHead, .requestBody, .complete]
    private let config: ShadowConfig
    private let counters = ShadowCounters()

    public static func parseConfig(_ value: any FilterConfigValue, environment: FilterEnvironment) -> ShadowConfig? {
        guard let map = value.mapping(allowed: ["cluster", "percent", "match", "max_body_bytes", "timeout", "max_in_flight", "tag", "host_rewrite"]) else { return nil }
        var config = ShadowConfig()
        var valid = true
        if let clusterValue = map.required("cluster"), let cluster = clusterValue.nonEmptyString() {
            if environment.clusterNames.contains(cluster) {
                config.cluster = cluster
            } else {
                clusterValue.fail("unknown cluster '\(cluster)' (clusters: \(environment.clusterNames.joined(separator: ", ")))")
                valid = false
            }
        } else {
            valid = false
        }
        if let percentValue = map["percent"], let text = percentValue.scalarText {
            if let percent = Double(text), percent >= 0, percent <= 100 { config.percent = percent } else { percentValue.fail("percent must be a number from 0 to 100"); valid = false }
        }
        if let match = map["match"]?.mapping(allowed: ["header", "value"]) {
            if let header = match.required("header")?.nonEmptyString(), let name = HTTPField.Name(header) {
                config.matchHeader = (name, match["value"]?.string())
            } else {
                valid = false
            }
        }
        if let bytes = map["max_body_bytes"]?.byteSize() { config.maxBodyBytes = Int(min(bytes, 1 << 30)) }
        if let timeout = map["timeout"]?.duration() { config.timeout = timeout }
        if let limit = map["max_in_flight"]?.int(min: 1, max: 1_000_000) { config.maxInFlight = limit }
        if let tag = map["tag"]?.mapping(allowed: ["name", "value"]) {
            if let name = tag.required("name")?.nonEmptyString().flatMap({ HTTPField.Name($0) }), let value = tag.required("value")?.string() {
                config.tag = HTTPField(name: name, value: value)
            } else {
                tag.value.fail("tag needs a valid header name and a value")
                valid = false
            }
        }
        if let host = map["host_rewrite"]?.nonEmptyString() { config.hostRewrite = host }
        return valid ? config : nil
    }

    public init(config: ShadowConfig, environment: FilterEnvironment) {
        self.config = config
    }

    public var exportedCounters: [FilterCounter] {
        let help = "Requests mirrored to the shadow cluster, by outcome."
        return [
            FilterCounter(name: "shadow_requests_total", help: help, labels: [("cluster", config.cluster), ("outcome", "sent")], value: counters.sent.load(ordering: .relaxed)),
            FilterCounter(name: "shadow_requests_total", help: help, labels: [("cluster", config.cluster), ("outcome", "dropped")], value: counters.dropped.load(ordering: .relaxed)),
            FilterCounter(name: "shadow_requests_total", help: help, labels: [("cluster", config.cluster), ("outcome", "over_cap")], value: counters.overCap.load(ordering: .relaxed)),
            FilterCounter(name: "shadow_requests_total", help: help, labels: [("cluster", config.cluster), ("outcome", "failed")], value: counters.failed.load(ordering: .relaxed)),
            FilterCounter(name: "shadow_in_flight", help: "Shadow requests in flight.", kind: .gauge, labels: [("cluster", config.cluster)], value: counters.inFlight.load(ordering: .relaxed)),
        ]
    }

    public func makeFilter(on eventLoop: EventLoop) -> any HTTPFilter {
        ShadowFilter(config: config, counters: counters)
    }
}
