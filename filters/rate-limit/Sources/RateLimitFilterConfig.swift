import HTTPTypes

/// `rate_limit`'s config; see README.md for every key and its default.
public struct RateLimitFilterConfig: Sendable {
    public enum FailureMode: String, Sendable { case open, closed }
    public enum MissingKey: String, Sendable {
        /// Requests without the key are not limited (and marked `no_key`).
        case pass
        /// They are counted by client address instead.
        case clientIP = "client_ip"
    }

    /// Names the policy in `RateLimit-Policy` and, for the global mode, in Redis keys: instances that
    /// share a limit must use the same name.
    public var name: String
    public var key: RateLimitKey = .clientIP
    public var rate: RateSpec
    public var burst: Int
    /// Global mode when set; local (per process) otherwise.
    public var redis: RedisSettings?
    /// Local mode: the most keys tracked at once.
    public var maxKeys = 100_000
    public var status: HTTPResponse.Status = .tooManyRequests
    /// Global mode, Redis unusable: let requests through (`open`) or refuse them (`closed`).
    public var failureMode = FailureMode.open
    public var failureStatus: HTTPResponse.Status = .serviceUnavailable
    public var missingKey = MissingKey.pass
    /// Decide and record, but never refuse (a later tarpit may act on the decision).
    public var dryRun = false
    /// Also put `RateLimit-Policy` / `RateLimit` on allowed responses.
    public var headersOnAllowed = false

    public init(name: String, rate: RateSpec, burst: Int) {
        self.name = name
        self.rate = rate
        self.burst = burst
    }
}
