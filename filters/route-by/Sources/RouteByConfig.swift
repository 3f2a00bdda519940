import HTTPTypes

/// What `route_by` decides: rules tried in order (first match wins), each sending the request to one
/// cluster or splitting it by weight; an optional split for requests no rule matched.
public struct RouteByConfig: Sendable {
    var rules: [Rule] = []
    var defaultSplit: [WeightedCluster]?
    var stickOn: StickSource = .none

    struct Rule: Sendable {
        var source: Source
        var test: Test
        var targets: [WeightedCluster]
    }

    enum Source: Sendable {
        case header(HTTPField.Name)
        case cookie(String)
        case query(String)
    }

    enum Test: Sendable {
        case present
        case exact(String)
        case prefix(String)
        case regex(RegexBox)
    }

    /// Swift's `Regex` is not `Sendable`; it is only read (matched), never mutated, once compiled.
    final class RegexBox: @unchecked Sendable {
        let pattern: String
        let regex: Regex<AnyRegexOutput>
        init(_ pattern: String) throws {
            self.pattern = pattern
            self.regex = try Regex(pattern)
        }
    }

    struct WeightedCluster: Sendable {
        var cluster: String
        var weight: Int
    }

    /// What keeps a client on the same side of a split: nothing (each request draws), or a hash of a value.
    enum StickSource: Sendable {
        case none
        case requestID
        case header(HTTPField.Name)
        case cookie(String)
    }
}
