import NIOCore

/// How the filter talks to Redis: `rate_limit.redis` in the config.
public struct RedisSettings: Sendable {
    public var address: SocketAddress
    /// The address as written, for logs.
    public var addressText: String
    /// The longest a request waits for a decision, connecting included.
    public var timeout: TimeAmount = .milliseconds(50)
    public var connectTimeout: TimeAmount = .milliseconds(500)
    /// Commands in flight (or waiting for the connection) per event loop; beyond, decisions fail at once.
    public var maxPending = 1024
    /// Prefix of every key the filter writes, so one Redis can serve several gateways' policies.
    public var keyPrefix = "portcullis:rl:"
    /// Wait before reconnecting after a failure: doubles from `backoffMin` up to `backoffMax`.
    public var backoffMin: TimeAmount = .milliseconds(100)
    public var backoffMax: TimeAmount = .seconds(2)

    public init(address: SocketAddress, addressText: String) {
        self.address = address
        self.addressText = addressText
    }
}
