import NIOCore

/// One backend address of a cluster.
public struct Endpoint: Sendable, Hashable {
    public let address: SocketAddress
    /// `host:port` as configured, for logs and the access log.
    public let label: String
    public let weight: Int
    /// Position in the cluster's endpoint list; pools index by it.
    public let index: Int

    public init(address: SocketAddress, label: String, weight: Int, index: Int) {
        self.address = address
        self.label = label
        self.weight = weight
        self.index = index
    }
}

/// Connection settings shared by every pool of a cluster.
public struct UpstreamConnectionSettings: Sendable {
    public var connectTimeout: TimeAmount
    /// nil: idle connections stay until the peer closes them.
    public var idleTimeout: TimeAmount?
    public var maxIdlePerEndpoint: Int
    /// 0: unlimited.
    public var maxRequestsPerConnection: Int

    public init(connectTimeout: TimeAmount, idleTimeout: TimeAmount?, maxIdlePerEndpoint: Int, maxRequestsPerConnection: Int) {
        self.connectTimeout = connectTimeout
        self.idleTimeout = idleTimeout
        self.maxIdlePerEndpoint = maxIdlePerEndpoint
        self.maxRequestsPerConnection = maxRequestsPerConnection
    }
}

/// An immutable cluster definition, shared by all event loops. Per-loop state (pools, balancer
/// positions) lives in `UpstreamLoopState`.
public final class UpstreamCluster: Sendable {
    public let name: String
    /// Position in the gateway's cluster list; per-loop state indexes by it.
    public let index: Int
    public let endpoints: [Endpoint]
    public let settings: UpstreamConnectionSettings

    public init(name: String, index: Int, endpoints: [Endpoint], settings: UpstreamConnectionSettings) {
        self.name = name
        self.index = index
        self.endpoints = endpoints
        self.settings = settings
    }
}
