import GatewayFilterAPI
import HTTPTypes
import NIOCore

/// `route_by: { rules: [{ match: {header|cookie|query: NAME, exact|prefix|regex: V | present: true},
/// cluster: C | split: [{cluster, weight}] }], default_split: [...], stick_on: request_id | {header|cookie: NAME} }`:
/// see README.md.
public struct RouteByFilterFactory: HTTPFilterFactory {
    public static let name = "route_by"
    public let phases: FilterPhases = [.requestHead]
    private let filter: RouteByFilter

    public static func parseConfig(_ value: any FilterConfigValue, environment: FilterEnvironment) -> RouteByConfig? {
        guard let map = value.mapping(allowed: ["rules", "default_split", "stick_on"]) else { return nil }
        var config = RouteByConfig()
        var valid = true
        for item in map["rules"]?.list() ?? [] {
            if let rule = parseRule(item, environment) { config.rules.append(rule) } else { valid = false }
        }
        if let splitValue = map["default_split"] {
            if let split = parseSplit(splitValue, environment) { config.defaultSplit = split } else { valid = false }
        }
        if let stick = map["stick_on"] {
            if stick.scalarText == "request_id" {
                config.stickOn = .requestID
            } else if let section = stick.mapping(allowed: ["header", "cookie"]) {
                if let header = section["header"]?.nonEmptyString() {
                    if let name = HTTPField.Name(header) { config.stickOn = .header(name) } else { section["header"]?.fail("'\(header)' is not a header name"); valid = false }
                } else if let cookie = section["cookie"]?.nonEmptyString() {
                    config.stickOn = .cookie(cookie)
                } else {
                    section.value.fail("stick_on needs header or cookie"); valid = false
                }
            } else {
                valid = false
            }
        }
        if config.rules.isEmpty && config.defaultSplit == nil && valid {
            value.fail("route_by needs rules or a default_split")
            valid = false
        }
        return valid ? config : nil
    }

    private static func parseRule(_ value: any FilterConfigValue, _ environment: FilterEnvironment) -> RouteByConfig.Rule? {
        guard let map = value.mapping(allowed: ["match", "cluster", "split"]) else { return nil }
        guard let match = map.required("match")?.mapping(allowed: ["header", "cookie", "query", "exact", "prefix", "regex", "present"]) else { return nil }
        var source: RouteByConfig.Source?
        if let header = match["header"]?.nonEmptyString() {
            if let name = HTTPField.Name(header) { source = .header(name) } else { match["header"]?.fail("'\(header)' is not a header name") }
        } else if let cookie = match["cookie"]?.nonEmptyString() {
            source = .cookie(cookie)
        } else if let query = match["query"]?.nonEmptyString() {
            source = .query(query)
        } else {
            match.value.fail("match needs header, cookie or query")
        }
        var test: RouteByConfig.Test?
        if let exact = match["exact"]?.string() {
            test = .exact(exact)
        } else if let prefix = match["prefix"]?.string() {
            test = .prefix(prefix)
        } else if let pattern = match["regex"]?.string() {
            do { test = .regex(try RouteByConfig.RegexBox(pattern)) } catch { match["regex"]?.fail("invalid regex: \(error)") }
        } else if match["present"]?.bool() == true {
            test = .present
        } else {
            match.value.fail("match needs exact, prefix, regex or present: true")
        }
        var targets: [RouteByConfig.WeightedCluster]?
        if let clusterValue = map["cluster"] {
            if map["split"] != nil { map["split"]?.fail("a rule has either cluster or split") }
            if let cluster = clusterName(clusterValue, environment) { targets = [.init(cluster: cluster, weight: 1)] }
        } else if let splitValue = map.required("split") {
            targets = parseSplit(splitValue, environment)
        }
        guard let source, let test, let targets else { return nil }
        return RouteByConfig.Rule(source: source, test: test, targets: targets)
    }

    private static func parseSplit(_ value: any FilterConfigValue, _ environment: FilterEnvironment) -> [RouteByConfig.WeightedCluster]? {
        guard let items = value.list() else { return nil }
        var split: [RouteByConfig.WeightedCluster] = []
        var valid = true
        for item in items {
            guard let map = item.mapping(allowed: ["cluster", "weight"]),
                  let cluster = map.required("cluster").flatMap({ clusterName($0, environment) }),
                  let weight = map.required("weight")?.int(min: 0, max: 1_000_000) else { valid = false; continue }
            split.append(.init(cluster: cluster, weight: weight))
        }
        if valid && split.reduce(0, { $0 + $1.weight }) == 0 { value.fail("a split needs at least one positive weight"); valid = false }
        return valid && !split.isEmpty ? split : nil
    }

    private static func clusterName(_ value: any FilterConfigValue, _ environment: FilterEnvironment) -> String? {
        guard let name = value.nonEmptyString() else { return nil }
        guard environment.clusterNames.contains(name) else {
            value.fail("unknown cluster '\(name)' (clusters: \(environment.clusterNames.joined(separator: ", ")))")
            return nil
        }
        return name
    }

    public init(config: RouteByConfig, environment: FilterEnvironment) {
        filter = RouteByFilter(config: config)
    }

    public func makeFilter(on eventLoop: EventLoop) -> any HTTPFilter { filter }
}
