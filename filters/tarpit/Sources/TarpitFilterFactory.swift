import GatewayFilterAPI
import HTTPTypes
import IPFilter
import NIOCore

/// `tarpit: { match: { addresses, headers, too_many_4xx, rate_limited }, delay, drip, status, retry_after,
/// body, max_concurrent, reject_status }`: see README.md.
public struct TarpitFilterFactory: HTTPFilterFactory {
    public static let name = "tarpit"
    /// The response-head hook only for `rate_limited` (a later rate_limit's 429): a chain with one makes
    /// the gateway build structured fields for every upstream response of the route.
    public let phases: FilterPhases

    final class Shared: Sendable {
        let config: TarpitFilterConfig
        let state: TarpitState
        /// Built once: the slow answer and the over-the-cap one.
        let reply: FilterLocalReply
        let rejectReply: FilterLocalReply

        init(config: TarpitFilterConfig) {
            self.config = config
            state = TarpitState(config: config)
            let retryAfter = String(max(1, config.retryAfter.nanoseconds / 1_000_000_000))
            var reply = FilterLocalReply(status: config.status, headerFields: [.contentType: "text/plain; charset=utf-8"],
                                         body: ByteBuffer(string: config.body), drip: config.drip)
            reply.headerFields[.retryAfter] = retryAfter
            self.reply = reply
            var reject = FilterLocalReply.text(config.rejectStatus, "slow down")
            reject.headerFields[.retryAfter] = retryAfter
            rejectReply = reject
        }
    }

    let shared: Shared

    public init(config: TarpitFilterConfig, environment: FilterEnvironment) {
        shared = Shared(config: config)
        phases = config.rateLimited ? [.requestHead, .responseHead, .complete] : [.requestHead, .complete]
    }

    public func makeFilter(on eventLoop: EventLoop) -> any HTTPFilter { TarpitFilter(shared: shared) }

    /// Streams held right now, all loops together (for tests and diagnostics).
    public var activeCount: Int { shared.state.activeCount }

    public var exportedCounters: [FilterCounter] {
        [FilterCounter(name: "tarpit_active", help: "Streams held in the tarpit now.", kind: .gauge, value: shared.state.activeCount)]
    }

    // MARK: - Config

    public static func parseConfig(_ value: any FilterConfigValue, environment: FilterEnvironment) -> TarpitFilterConfig? {
        guard let map = value.mapping(allowed: ["match", "delay", "drip", "status", "retry_after", "body", "max_concurrent",
                                                "reject_status", "max_clients"]) else { return nil }
        var config = TarpitFilterConfig()
        var valid = true
        if let match = map["match"] {
            if !parseMatch(match, into: &config) { valid = false }
        }
        if let node = map["delay"] {
            if let delay = node.duration() { config.delay = delay } else { valid = false }
        }
        if let node = map["drip"] {
            if node.scalarText == "off" || node.scalarText == "false" {
                config.drip = nil
            } else if let drip = node.mapping(allowed: ["bytes", "interval"]) {
                let bytes = drip["bytes"]?.int(min: 1, max: 65536) ?? 1
                let interval = drip["interval"]?.duration() ?? .milliseconds(500)
                if interval <= .zero { drip["interval"]?.fail("needs a positive duration, e.g. 500ms"); valid = false }
                config.drip = .init(bytes: bytes, interval: interval)
            } else {
                valid = false
            }
        }
        if let node = map["status"] {
            if let code = node.int(min: 200, max: 599) { config.status = .init(code: code) } else { valid = false }
        }
        if let node = map["reject_status"] {
            if let code = node.int(min: 400, max: 599) { config.rejectStatus = .init(code: code) } else { valid = false }
        }
        if let node = map["retry_after"] {
            if let value = node.duration() { config.retryAfter = value } else { valid = false }
        }
        if let node = map["body"] {
            if let text = node.nonEmptyString() { config.body = text } else { valid = false }
        }
        if let node = map["max_concurrent"] {
            if let value = node.int(min: 0, max: 1_000_000) { config.maxConcurrent = value } else { valid = false }
        }
        if let node = map["max_clients"] {
            if let value = node.int(min: 64, max: 1 << 24) { config.maxClients = value } else { valid = false }
        }
        if valid && !config.hasRequestRules {
            // An empty match is almost always a mistake; a tarpit for marked requests only says so.
            map.value.fail("needs a `match` with at least one rule: addresses, headers, too_many_4xx, rate_limited, "
                           + "or `requested: true` for requests other filters mark (`tarpit.request`) only")
            valid = false
        }
        return valid ? config : nil
    }

    private static func parseMatch(_ node: any FilterConfigValue, into config: inout TarpitFilterConfig) -> Bool {
        guard let map = node.mapping(allowed: ["addresses", "headers", "too_many_4xx", "rate_limited", "requested"]) else { return false }
        var valid = true
        if let list = map["addresses"]?.list() {
            for item in list {
                guard let text = item.string() else { valid = false; continue }
                if let range = IPRange(parsing: text) { config.addresses.append(range) } else {
                    item.fail("invalid CIDR '\(text)' (e.g. 203.0.113.0/24, 2001:db8::/32 or 192.0.2.7)")
                    valid = false
                }
            }
        }
        if let pairs = map["headers"]?.pairs() {
            for (name, value) in pairs {
                guard let fieldName = HTTPField.Name(name) else { value.fail("'\(name)' is not a valid header name"); valid = false; continue }
                guard let pattern = value.nonEmptyString() else { valid = false; continue }
                config.headers.append(HeaderPattern(name: fieldName, pattern: pattern))
            }
        }
        if let rule = map["too_many_4xx"]?.mapping(allowed: ["count", "window"]) {
            let count = rule.required("count")?.int(min: 1, max: 1_000_000)
            let window = rule.required("window")?.duration()
            if let count, let window, window > .zero { config.tooMany4xx = (count, window) } else { valid = false }
        }
        if let flag = map["rate_limited"]?.bool() { config.rateLimited = flag }
        // Marked requests are always honoured; `requested: true` is the rule for a tarpit that has no other.
        if let flag = map["requested"]?.bool() { config.requested = flag }
        return valid
    }
}
