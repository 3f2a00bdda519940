import GatewayFilterAPI
import HTTPTypes
import NIOCore

/// `headers: { request: {add, set, remove}, response: {add, set, remove}, path_prefix_rewrite, host_rewrite }`:
/// see README.md.
public struct HeadersFilterFactory: HTTPFilterFactory {
    public static let name = "headers"
    public let phases: FilterPhases
    private let filter: HeadersFilter

    /// Framing and routing fields belong to the gateway: editing them would desynchronise the message.
    static let reservedNames: Set<String> = ["content-length", "transfer-encoding", "connection", "host", "te", "upgrade", "keep-alive"]

    public static func parseConfig(_ value: any FilterConfigValue, environment: FilterEnvironment) -> HeadersFilterConfig? {
        guard let map = value.mapping(allowed: ["request", "response", "path_prefix_rewrite", "host_rewrite"]) else { return nil }
        var config = HeadersFilterConfig()
        var valid = true
        if let section = map["request"] {
            if let edits = edits(section) { config.request = edits } else { valid = false }
        }
        if let section = map["response"] {
            if let edits = edits(section) { config.response = edits } else { valid = false }
        }
        if let rewrite = map["path_prefix_rewrite"]?.mapping(allowed: ["from", "to"]) {
            let from = rewrite.required("from")?.string()
            let to = rewrite.required("to")?.string()
            for (key, text) in [("from", from), ("to", to)] {
                if let text, !text.hasPrefix("/") {
                    rewrite[key]?.fail("must start with '/'")
                    valid = false
                }
            }
            if let from, let to { config.pathPrefixRewrite = (from, to) } else { valid = false }
        }
        if let hostValue = map["host_rewrite"] {
            if let host = hostValue.nonEmptyString() {
                if host.contains(where: { $0 == " " || $0 == "/" || $0 == "@" }) {
                    hostValue.fail("'\(host)' is not a host (host or host:port)")
                    valid = false
                }
                config.hostRewrite = host
            } else {
                valid = false
            }
        }
        return valid ? config : nil
    }

    private static func edits(_ value: any FilterConfigValue) -> HeaderEdits? {
        guard let map = value.mapping(allowed: ["add", "set", "remove"]) else { return nil }
        var edits = HeaderEdits()
        var valid = true
        func name(_ text: String, at value: any FilterConfigValue) -> HTTPField.Name? {
            guard let name = HTTPField.Name(text) else {
                value.fail("'\(text)' is not a valid header name")
                return nil
            }
            if reservedNames.contains(name.canonicalName) {
                value.fail("'\(text)' is managed by the gateway and cannot be edited\(name.canonicalName == "host" ? " (use host_rewrite)" : "")")
                return nil
            }
            return name
        }
        for (key, target) in [("set", \HeaderEdits.set), ("add", \HeaderEdits.add)] {
            guard let section = map[key] else { continue }
            guard let pairs = section.pairs() else { valid = false; continue }
            for (text, item) in pairs {
                guard let fieldName = name(text, at: item), let fieldValue = item.string() else { valid = false; continue }
                guard HTTPField.isValidValue(fieldValue) else {
                    item.fail("invalid header value (control characters or surrounding spaces)")
                    valid = false
                    continue
                }
                edits[keyPath: target].append(HTTPField(name: fieldName, value: fieldValue))
            }
        }
        for item in map["remove"]?.list() ?? [] {
            guard let text = item.string(), let fieldName = name(text, at: item) else { valid = false; continue }
            edits.remove.append(fieldName)
        }
        return valid ? edits : nil
    }

    public init(config: HeadersFilterConfig, environment: FilterEnvironment) {
        filter = HeadersFilter(config: config)
        var phases: FilterPhases = []
        if config.rewritesRequest { phases.insert(.requestHead) }
        // Without response edits the route keeps the fast path that forwards the upstream head as bytes.
        if !config.response.isEmpty { phases.insert(.responseHead) }
        self.phases = phases
    }

    public func makeFilter(on eventLoop: EventLoop) -> any HTTPFilter { filter }
}
