import NIOCore

/// A read-only view of one node of the YAML config, given to `HTTPFilterFactory.parseConfig`. Accessors
/// report a problem themselves (with file, line, column and key path, like the rest of the config) and
/// return nil; reading goes on, so `portcullis check` lists every error at once.
///
/// ```swift
/// guard let map = value.mapping(allowed: ["allow", "deny"]) else { return nil }
/// let allow = map["allow"]?.stringList() ?? []
/// if allow.isEmpty { map.value.fail("needs at least one address") }
/// ```
public protocol FilterConfigValue {
    /// Where the node is, e.g. `listeners[0].filters[1].cors.max_age`.
    var keyPath: String { get }
    /// The text of a scalar, without reporting anything; nil for lists and mappings.
    var scalarText: String? { get }
    /// Reports a problem at this node.
    func fail(_ message: String)
    func string() -> String?
    func nonEmptyString() -> String?
    func int(min: Int, max: Int) -> Int?
    func bool() -> Bool?
    /// `250ms`, `5s`, `2m`, `1h`; `0` or `off` is `.zero`.
    func duration() -> TimeAmount?
    /// `512`, `16k`, `10m`, `1g` (binary units).
    func byteSize() -> Int64?
    func list() -> [any FilterConfigValue]?
    /// A mapping whose keys must be among `allowed` (others are reported with a "did you mean").
    func mapping(allowed: [String]) -> (any FilterConfigMapping)?
    /// A mapping with free-form keys (e.g. header names), in file order.
    func pairs() -> [(key: String, value: any FilterConfigValue)]?
    /// The node as plain data (scalars typed by YAML's core schema), reporting nothing: for free-form settings.
    var data: FilterConfigData { get }
}

/// A mapping read with a set of allowed keys.
public protocol FilterConfigMapping {
    /// The mapping itself, to report problems that concern it as a whole.
    var value: any FilterConfigValue { get }
    /// The value under `key` (one of the allowed keys); nil when absent or null.
    subscript(_ key: String) -> (any FilterConfigValue)? { get }
    /// Like the subscript, but reports the key as missing.
    func required(_ key: String) -> (any FilterConfigValue)?
}

extension FilterConfigValue {
    public func int() -> Int? { int(min: Int.min, max: Int.max) }

    /// A list of strings; each bad item is reported and left out.
    public func stringList() -> [String]? {
        guard let items = list() else { return nil }
        return items.compactMap { $0.string() }
    }
}

/// Thrown by `HTTPFilterFactory.init` for a problem found while building (a file that cannot be read, a
/// key that does not parse); reported as a config error at the filter's entry.
public struct FilterConfigError: Error, Sendable, CustomStringConvertible {
    public var message: String
    public init(_ message: String) { self.message = message }
    public var description: String { message }
}

/// A config node as plain data, for filters that take free-form settings (the Lua filter hands its
/// `config:` to scripts). Plain scalars follow YAML's core schema (`true`, `42`, `1.5`, `null`); quoted
/// scalars stay strings.
public indirect enum FilterConfigData: Sendable {
    case null
    case bool(Bool)
    case int(Int)
    case double(Double)
    case string(String)
    case list([FilterConfigData])
    case mapping([(key: String, value: FilterConfigData)])
}

extension FilterConfigValue {
    /// The node as plain data, reporting nothing. The gateway's nodes override this; the default sees only scalars.
    public var data: FilterConfigData { scalarText.map { .string($0) } ?? .null }
}
