/// Why an upstream exchange failed. The gateway maps these to 502/503/504 in one place.
public enum UpstreamError: Error, Sendable, Equatable, CustomStringConvertible {
    /// The cluster has no endpoint to send to.
    case noHealthyEndpoint
    case connectTimeout
    case connectFailed(String)
    /// The connection closed or reset before the response was complete. `beforeResponse` is true when
    /// not a byte of the response had arrived, which makes an idempotent request safe to retry.
    case connectionReset(beforeResponse: Bool)
    /// The upstream sent something that is not valid HTTP.
    case protocolError(String)
    /// A circuit breaker is open: the request fails fast rather than pile onto a struggling cluster.
    case overflow(CircuitBreaker)
    /// One attempt took longer than the retry policy's per-try timeout to get a response head.
    case perTryTimeout
    /// Strict sticky sessions: the endpoint the session is pinned to is gone, unhealthy or refused it.
    case stickyEndpointUnavailable

    public var description: String {
        switch self {
        case .noHealthyEndpoint: "no healthy upstream endpoint"
        case .connectTimeout: "upstream connect timeout"
        case .connectFailed(let reason): "upstream connect failed: \(reason)"
        case .connectionReset: "upstream connection reset"
        case .protocolError(let reason): "invalid upstream response: \(reason)"
        case .overflow(let breaker): "upstream overflow: circuit breaker \(breaker.rawValue)"
        case .perTryTimeout: "upstream per-try timeout"
        case .stickyEndpointUnavailable: "sticky endpoint unavailable"
        }
    }
}
