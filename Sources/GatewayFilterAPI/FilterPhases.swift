/// The hooks a filter implements. The chain calls only declared hooks, and a route whose filters declare
/// no response-head hook keeps the fast path that forwards the upstream's head as received bytes.
///
/// ```swift
/// var phases: FilterPhases { [.requestHead, .responseHead] }
/// ```
public struct FilterPhases: OptionSet, Sendable, Hashable {
    public let rawValue: UInt8
    public init(rawValue: UInt8) { self.rawValue = rawValue }

    public static let requestHead = FilterPhases(rawValue: 1 << 0)
    public static let requestBody = FilterPhases(rawValue: 1 << 1)
    public static let requestTrailers = FilterPhases(rawValue: 1 << 2)
    public static let responseHead = FilterPhases(rawValue: 1 << 3)
    public static let responseBody = FilterPhases(rawValue: 1 << 4)
    public static let responseTrailers = FilterPhases(rawValue: 1 << 5)
    public static let complete = FilterPhases(rawValue: 1 << 6)

    public static let all: FilterPhases = [.requestHead, .requestBody, .requestTrailers, .responseHead, .responseBody, .responseTrailers, .complete]
}
