import GatewayFilterAPI

/// The filters a gateway build knows, by YAML name. The executable lists them explicitly; tests add
/// their own. A name registered twice is a startup error, not a silent override.
public struct FilterRegistry: Sendable {
    private let factories: [String: any HTTPFilterFactory.Type]

    public static let empty = FilterRegistry()

    private init() { factories = [:] }

    public init(_ types: [any HTTPFilterFactory.Type]) throws(DuplicateFilterName) {
        var factories: [String: any HTTPFilterFactory.Type] = [:]
        for type in types {
            if factories[type.name] != nil { throw DuplicateFilterName(name: type.name) }
            factories[type.name] = type
        }
        self.factories = factories
    }

    public var names: [String] { factories.keys.sorted() }

    func factoryType(named name: String) -> (any HTTPFilterFactory.Type)? { factories[name] }
}

public struct DuplicateFilterName: Error, Sendable, CustomStringConvertible {
    public var name: String
    public var description: String { "filter '\(name)' is registered twice" }
}
