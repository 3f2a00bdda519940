import GatewayFilterAPI
import NIOCore

/// The config reader's node as the filter API's read-only view: a filter's `parseConfig` reports through
/// the same diagnostics as the rest of the config, with file, line and key path.
struct FilterConfigNode: FilterConfigValue {
    let value: ConfigValue

    var keyPath: String { value.path }
    var scalarText: String? { value.node.isNull ? nil : value.scalarString }
    func fail(_ message: String) { value.fail(message) }
    func string() -> String? { value.string() }
    func nonEmptyString() -> String? { value.nonEmptyString() }
    func int(min: Int, max: Int) -> Int? { value.int(min: min, max: max) }
    func bool() -> Bool? { value.bool() }
    func byteSize() -> Int64? { value.byteSize() }

    func duration() -> TimeAmount? {
        guard let parsed: ConfigDuration = value.duration() else { return nil }
        return parsed.timeAmount ?? .zero
    }

    var data: FilterConfigData { Self.data(of: value.node) }

    private static func data(of node: YAMLNode) -> FilterConfigData {
        if node.isNull { return .null }
        switch node {
        case .scalar(let text, let plain, _):
            guard plain else { return .string(text) }
            switch text {
            case "true", "True", "TRUE": return .bool(true)
            case "false", "False", "FALSE": return .bool(false)
            default: break
            }
            if let int = Int(text) { return .int(int) }
            if text.first.map({ $0.isNumber || $0 == "-" || $0 == "." }) == true, let double = Double(text) { return .double(double) }
            return .string(text)
        case .sequence(let items, _):
            return .list(items.map(data(of:)))
        case .mapping(let pairs, _):
            return .mapping(pairs.map { (key: $0.key.string ?? "", value: data(of: $0.value)) })
        }
    }

    func list() -> [any FilterConfigValue]? {
        value.sequence()?.map { FilterConfigNode(value: $0) }
    }

    func mapping(allowed: [String]) -> (any FilterConfigMapping)? {
        // `- cors:` with nothing after it: the filter's defaults.
        if value.node.isNull { return FilterConfigNodeMapping(mapping: ConfigMapping(mapping: [], value: value, allowed: allowed)) }
        return value.mapping(allowed: allowed).map(FilterConfigNodeMapping.init)
    }

    func pairs() -> [(key: String, value: any FilterConfigValue)]? {
        if value.node.isNull { return [] }
        guard case .mapping(let pairs, _) = value.node else { value.fail("expected a mapping"); return nil }
        var result: [(key: String, value: any FilterConfigValue)] = []
        for (key, node) in pairs {
            guard let name = key.string else {
                value.diagnostics.error(key, value.path, "keys must be strings")
                continue
            }
            result.append((name, FilterConfigNode(value: ConfigValue(node: node, path: "\(value.path).\(name)", diagnostics: value.diagnostics))))
        }
        return result
    }
}

struct FilterConfigNodeMapping: FilterConfigMapping {
    let mapping: ConfigMapping

    var value: any FilterConfigValue { FilterConfigNode(value: mapping.value) }
    subscript(_ key: String) -> (any FilterConfigValue)? { mapping[key].map { FilterConfigNode(value: $0) } }
    func required(_ key: String) -> (any FilterConfigValue)? { mapping.required(key).map { FilterConfigNode(value: $0) } }
}
