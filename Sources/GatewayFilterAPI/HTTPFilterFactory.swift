import NIOCore

/// Built once per configured use (a listener's or a route's `filters:` entry) at config load, shared by
/// all event loops; makes the cheap per-stream filter. Register the type in the executable's filter list.
///
/// ```swift
/// public struct ServerHeaderFilterFactory: HTTPFilterFactory {
///     public static let name = "server_header"
///     public let phases: FilterPhases = [.responseHead]
///     public static func parseConfig(_ value: any FilterConfigValue, environment: FilterEnvironment) -> String? {
///         guard let map = value.mapping(allowed: ["value"]) else { return nil }
///         return map["value"]?.nonEmptyString() ?? "portcullis"
///     }
///     let value: String
///     public init(config: String, environment: FilterEnvironment) { value = config }
///     public func makeFilter(on eventLoop: EventLoop) -> any HTTPFilter { ServerHeaderFilter(value: value) }
/// }
/// ```
public protocol HTTPFilterFactory: Sendable {
    /// The typed, validated config this factory is built from.
    associatedtype Config: Sendable
    /// The YAML key that names this filter (snake_case, unique among registered filters).
    static var name: String { get }
    /// Reads this filter's config. Report every problem with `fail` on the value it concerns (the message
    /// then carries file, line and key path) and return nil if there was any. `value` is the node under the
    /// filter's name; an absent config (`- cors:`) reads as an empty mapping.
    static func parseConfig(_ value: any FilterConfigValue, environment: FilterEnvironment) -> Config?
    /// Builds the shared state. A throw is a config error located at the filter's entry.
    init(config: Config, environment: FilterEnvironment) throws
    /// The hooks the filter implements; undeclared hooks are never called.
    var phases: FilterPhases { get }
    /// Called on `eventLoop` for each stream of a route that has this filter. A filter without per-stream
    /// state may return one shared instance (one that keeps state for some streams finds it by the stream's
    /// identity, `ObjectIdentifier(ctx)`, and lets go of it in `onComplete`, as the Lua filter does).
    func makeFilter(on eventLoop: EventLoop) -> any HTTPFilter
    /// Numbers for `/metrics`, read when scraped (from any thread).
    var exportedCounters: [FilterCounter] { get }
}

extension HTTPFilterFactory {
    public var phases: FilterPhases { .all }
    public var exportedCounters: [FilterCounter] { [] }
}

/// What a factory may know about the gateway at load time.
public struct FilterEnvironment: Sendable {
    /// Names of the configured clusters (for filters that steer requests by cluster name).
    public var clusterNames: [String]
    /// The listener the filter is configured on.
    public var listenerName: String

    public init(clusterNames: [String], listenerName: String) {
        self.clusterNames = clusterNames
        self.listenerName = listenerName
    }
}
