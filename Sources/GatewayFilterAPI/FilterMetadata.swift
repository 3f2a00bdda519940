/// Names one typed piece of per-request metadata. Declare keys as static constants; the name is what
/// `access_log.metadata` lists, conventionally `filter_name.field`.
///
/// ```swift
/// static let subject = FilterMetadataKey<String>("auth.subject")
/// ctx.metadata[Self.subject] = claims.sub
/// ```
public struct FilterMetadataKey<Value>: Sendable {
    public let name: String
    public init(_ name: String) { self.name = name }
}

/// Per-request values that filters pass to each other, typed by their keys. Empty (and free) until a
/// filter sets something; a handful of entries are looked up by a linear scan, cheaper than hashing.
public struct FilterMetadata {
    private var entries: [(name: String, value: Any)] = []

    public init() {}

    public subscript<Value>(key: FilterMetadataKey<Value>) -> Value? {
        get {
            for entry in entries where entry.name == key.name { return entry.value as? Value }
            return nil
        }
        set {
            let index = entries.firstIndex { $0.name == key.name }
            switch (index, newValue) {
            case (let index?, let value?): entries[index].value = value
            case (let index?, nil): entries.remove(at: index)
            case (nil, let value?): entries.append((key.name, value))
            case (nil, nil): break
            }
        }
    }

    public var isEmpty: Bool { entries.isEmpty }

    /// The value under `name` as access-log text: strings as they are, anything else by its description.
    public func loggableValue(named name: String) -> String? {
        for entry in entries where entry.name == name {
            if let text = entry.value as? String { return text }
            if let value = entry.value as? CustomStringConvertible { return value.description }
            return String(describing: entry.value)
        }
        return nil
    }
}
