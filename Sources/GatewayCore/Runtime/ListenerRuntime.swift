import HTTP1
import NIOCore

/// A listener's settings in the form the data path uses, computed once at load.
public struct ListenerRuntime: Sendable {
    public let name: String
    public let address: HostPort
    /// "http" or "https": the scheme clients used, for X-Forwarded-Proto.
    public let scheme: String
    public let parserLimits: HTTP1Limits
    public let maxBodyBytes: Int64?
    public let headerReadTimeout: TimeAmount?
    public let bodyReadTimeout: TimeAmount?
    public let idleTimeout: TimeAmount?
    public let requestTimeout: TimeAmount?
    public let routes: RouteTable
}

extension ConfigDuration {
    var timeAmount: TimeAmount? { milliseconds.map { .milliseconds($0) } }
}
