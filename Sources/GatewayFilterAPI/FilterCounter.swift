/// A number a filter exports on the admin listener's `/metrics` (rendered as
/// `portcullis_filter_<name>{listener, route, filter, ...labels}`).
public struct FilterCounter: Sendable {
    public enum Kind: String, Sendable { case counter, gauge }

    /// Metric name without the prefix, e.g. `shadow_requests_total`.
    public var name: String
    public var help: String
    public var kind: Kind
    public var labels: [(String, String)]
    public var value: Int

    public init(name: String, help: String, kind: Kind = .counter, labels: [(String, String)] = [], value: Int) {
        self.name = name
        self.help = help
        self.kind = kind
        self.labels = labels
        self.value = value
    }
}
