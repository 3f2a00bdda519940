import GatewayFilterAPI
import NIOCore

/// `ip_filter: { allow: [CIDR...], deny: [CIDR...] }`: see README.md.
public struct IPFilterFactory: HTTPFilterFactory {
    public static let name = "ip_filter"
    public var phases: FilterPhases { .requestHead }
    private let filter: IPFilter

    public static func parseConfig(_ value: any FilterConfigValue, environment: FilterEnvironment) -> IPFilterConfig? {
        guard let map = value.mapping(allowed: ["allow", "deny"]) else { return nil }
        let allow = ranges(map["allow"])
        let deny = ranges(map["deny"])
        guard let allow, let deny else { return nil }
        if allow.isEmpty && deny.isEmpty {
            map.value.fail("needs an `allow` or a `deny` list of CIDR blocks (e.g. deny: [10.0.0.0/8])")
            return nil
        }
        return IPFilterConfig(allow: allow, deny: deny)
    }

    /// nil when an entry was invalid (already reported); absent lists are empty.
    private static func ranges(_ value: (any FilterConfigValue)?) -> [IPRange]? {
        guard let value else { return [] }
        guard let items = value.list() else { return nil }
        var ranges: [IPRange] = []
        var valid = true
        for item in items {
            guard let text = item.string() else { valid = false; continue }
            if let range = IPRange(parsing: text) {
                ranges.append(range)
            } else {
                item.fail("invalid CIDR '\(text)' (e.g. 10.0.0.0/8, 2001:db8::/32 or 192.0.2.7)")
                valid = false
            }
        }
        return valid ? ranges : nil
    }

    public init(config: IPFilterConfig, environment: FilterEnvironment) {
        filter = IPFilter(config: config)
    }

    public func makeFilter(on eventLoop: EventLoop) -> any HTTPFilter { filter }
}
