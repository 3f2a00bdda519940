import HTTPTypes

/// A header whose value matches a glob (`*` any run, `?` one character), case-insensitively:
/// `user-agent: "*sqlmap*"`. A `*` pattern matches any request that has the header.
public struct HeaderPattern: Sendable {
    public let name: HTTPField.Name
    let pattern: [UInt8]

    public init(name: HTTPField.Name, pattern: String) {
        self.name = name
        self.pattern = Array(pattern.lowercased().utf8)
    }

    func matches(_ fields: HTTPFields) -> Bool {
        fields[fields: name].contains { Self.glob(pattern[...], Array($0.value.lowercased().utf8)[...]) }
    }

    /// Iterative glob with one backtrack point: linear in practice, no recursion for hostile inputs.
    static func glob(_ pattern: ArraySlice<UInt8>, _ text: ArraySlice<UInt8>) -> Bool {
        var p = pattern.startIndex, t = text.startIndex
        var star: Int? = nil, resume = text.startIndex
        while t < text.endIndex {
            if p < pattern.endIndex && (pattern[p] == UInt8(ascii: "?") || pattern[p] == text[t]) {
                p += 1
                t += 1
            } else if p < pattern.endIndex && pattern[p] == UInt8(ascii: "*") {
                star = p
                p += 1
                resume = t
            } else if let star {
                p = star + 1
                resume += 1
                t = resume
            } else {
                return false
            }
        }
        while p < pattern.endIndex && pattern[p] == UInt8(ascii: "*") { p += 1 }
        return p == pattern.endIndex
    }
}
