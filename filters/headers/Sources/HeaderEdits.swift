import HTTPTypes

/// Header changes for one direction, with names parsed once at load. Applied as remove, then set, then
/// add, so `remove: [x-a]` with `add: { x-a: b }` leaves exactly `x-a: b`.
public struct HeaderEdits: Sendable, Equatable {
    public var remove: [HTTPField.Name] = []
    /// Replaces every value of the name with this one.
    public var set: [HTTPField] = []
    /// Appends a value, keeping the ones already there.
    public var add: [HTTPField] = []

    public init(remove: [HTTPField.Name] = [], set: [HTTPField] = [], add: [HTTPField] = []) {
        self.remove = remove
        self.set = set
        self.add = add
    }

    public var isEmpty: Bool { remove.isEmpty && set.isEmpty && add.isEmpty }

    public func apply(to fields: inout HTTPFields) {
        for name in remove { fields[name] = nil }
        for field in set { fields[field.name] = field.value }
        for field in add { fields.append(field) }
    }
}
