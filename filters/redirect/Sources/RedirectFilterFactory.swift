import GatewayFilterAPI
import NIOCore

/// `redirect: { scheme, host, port, path, prefix_rewrite: { from, to }, strip_query, status }`: see README.md.
public struct RedirectFilterFactory: HTTPFilterFactory {
    public static let name = "redirect"
    public var phases: FilterPhases { [.requestHead] }

    private let filter: RedirectFilter

    public static func parseConfig(_ value: any FilterConfigValue, environment: FilterEnvironment) -> RedirectFilterConfig? {
        guard let map = value.mapping(allowed: ["scheme", "host", "port", "path", "prefix_rewrite", "strip_query", "status"]) else { return nil }
        var config = RedirectFilterConfig()
        var valid = true
        if let scheme = map["scheme"] {
            if let text = scheme.string(), text == "http" || text == "https" { config.scheme = text } else {
                scheme.fail("expected http or https")
                valid = false
            }
        }
        if let host = map["host"] {
            if let text = host.nonEmptyString(), !text.contains("/"), !text.contains(" "), RedirectFilterConfig.split(text).port == nil {
                config.host = text
            } else {
                host.fail("expected a host name or address without a port (set `port` for that)")
                valid = false
            }
        }
        if let port = map["port"] {
            if let n = port.int(min: 1, max: 65535) { config.port = n } else { valid = false }
        }
        if let path = map["path"] {
            if let text = path.string(), text.hasPrefix("/") { config.path = text } else {
                path.fail("must start with '/'")
                valid = false
            }
        }
        if let rewrite = map["prefix_rewrite"]?.mapping(allowed: ["from", "to"]) {
            let from = rewrite.required("from")?.string()
            let to = rewrite.required("to")?.string()
            if let from, let to, from.hasPrefix("/"), to.hasPrefix("/") { config.prefixRewrite = .init(from: from, to: to) } else {
                rewrite.value.fail("from and to are paths starting with '/'")
                valid = false
            }
        } else if map["prefix_rewrite"] != nil {
            valid = false
        }
        if let strip = map["strip_query"] {
            if let flag = strip.bool() { config.stripQuery = flag } else { valid = false }
        }
        if let status = map["status"] {
            if let n = status.int(), [301, 302, 303, 307, 308].contains(n) { config.status = n } else {
                status.fail("expected 301, 302, 303, 307 or 308")
                valid = false
            }
        }
        return valid ? config : nil
    }

    public init(config: RedirectFilterConfig, environment: FilterEnvironment) {
        filter = RedirectFilter(config: config)
    }

    public func makeFilter(on eventLoop: EventLoop) -> any HTTPFilter { filter }
}
