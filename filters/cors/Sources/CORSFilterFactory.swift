import GatewayFilterAPI
import HTTPTypes
import NIOCore

/// `cors: { allow_origins, allow_methods, allow_headers, expose_headers, allow_credentials, max_age }`:
/// see README.md.
public struct CORSFilterFactory: HTTPFilterFactory {
    public static let name = "cors"
    public var phases: FilterPhases { [.requestHead, .responseHead] }

    /// What every stream's filter reads: the config and its header values, joined once.
    final class Shared: Sendable {
        let config: CORSFilterConfig
        let allowMethods: String
        let allowHeaders: String?
        let exposeHeaders: String?

        init(config: CORSFilterConfig) {
            self.config = config
            allowMethods = config.allowMethods.joined(separator: ", ")
            allowHeaders = config.allowHeaders.map { $0.joined(separator: ", ") }
            exposeHeaders = config.exposeHeaders.isEmpty ? nil : config.exposeHeaders.joined(separator: ", ")
        }
    }

    private let shared: Shared

    public static func parseConfig(_ value: any FilterConfigValue, environment: FilterEnvironment) -> CORSFilterConfig? {
        guard let map = value.mapping(allowed: ["allow_origins", "allow_methods", "allow_headers", "expose_headers", "allow_credentials", "max_age"]) else { return nil }
        var config = CORSFilterConfig()
        var valid = true
        if let origins = map.required("allow_origins")?.list() {
            for item in origins {
                guard let origin = item.nonEmptyString() else { valid = false; continue }
                if origin == "*" {
                    config.allowAnyOrigin = true
                } else if !(origin.hasPrefix("http://") || origin.hasPrefix("https://")) || origin.hasSuffix("/") {
                    item.fail("an origin is scheme://host[:port] without a path, e.g. https://app.example.com, or '*'")
                    valid = false
                } else {
                    config.allowOrigins.insert(origin)
                }
            }
            if origins.isEmpty { map["allow_origins"]?.fail("list at least one origin, or '*'"); valid = false }
        } else {
            valid = false
        }
        if let methods = map["allow_methods"]?.list() {
            config.allowMethods = []
            for item in methods {
                guard let method = item.nonEmptyString() else { valid = false; continue }
                guard HTTPRequest.Method(method) != nil, method == method.uppercased() else {
                    item.fail("'\(method)' is not an HTTP method (methods are upper case, e.g. GET)")
                    valid = false
                    continue
                }
                config.allowMethods.append(method)
            }
        }
        if let headers = map["allow_headers"] {
            if let names = headerNames(headers) { config.allowHeaders = names } else { valid = false }
        }
        if let headers = map["expose_headers"] {
            if let names = headerNames(headers) { config.exposeHeaders = names } else { valid = false }
        }
        if let credentials = map["allow_credentials"] {
            if let flag = credentials.bool() { config.allowCredentials = flag } else { valid = false }
        }
        if let maxAge = map["max_age"] {
            // Kong writes seconds, Envoy a string of seconds; durations read better.
            if let text = maxAge.scalarText, let seconds = Int(text), seconds >= 0 {
                config.maxAgeSeconds = seconds
            } else if let duration = maxAge.duration() {
                config.maxAgeSeconds = Int(duration.nanoseconds / 1_000_000_000)
            } else {
                valid = false
            }
        }
        return valid ? config : nil
    }

    private static func headerNames(_ value: any FilterConfigValue) -> [String]? {
        guard let items = value.list() else { return nil }
        var names: [String] = []
        var valid = true
        for item in items {
            guard let text = item.string() else { valid = false; continue }
            guard HTTPField.Name(text) != nil else {
                item.fail("'\(text)' is not a valid header name")
                valid = false
                continue
            }
            names.append(text)
        }
        return valid ? names : nil
    }

    public init(config: CORSFilterConfig, environment: FilterEnvironment) {
        shared = Shared(config: config)
    }

    /// Per stream: the filter remembers the request's origin until the response head.
    public func makeFilter(on eventLoop: EventLoop) -> any HTTPFilter { CORSFilter(shared: shared) }
}
