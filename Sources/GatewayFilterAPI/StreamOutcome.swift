/// How a stream ended, as `onComplete` sees it.
public struct StreamOutcome: Sendable {
    /// The status the client got (or 499 when it went away first).
    public var status: Int
    /// The access log's `error`, when the stream failed.
    public var errorReason: String?

    public init(status: Int, errorReason: String?) {
        self.status = status
        self.errorReason = errorReason
    }
}
