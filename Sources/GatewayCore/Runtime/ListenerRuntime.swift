import GatewayTLS
import HTTP1
import NIOCore

/// A listener's settings in the form the data path uses, computed once at load. A class, so each of
/// thousands of connections holds a pointer to it rather than a copy.
public final class ListenerRuntime: Sendable {
    /// Position in the config's listener list (metrics index by it).
    public let index: Int
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
    public let proxyProtocol: ProxyProtocolMode
    public let trustedSources: [CIDRBlock]
    /// The listener's certificates, SNI and ALPN; nil for plain HTTP.
    public let tls: ReloadableTLSContextStore?
    public let http2: HTTP2Config
    public let reusePort: Bool
    /// The listener's own filters; they run before the route is chosen, so they may steer it.
    public let filterChain: FilterChain

    public init(index: Int = 0, name: String, address: HostPort, scheme: String, parserLimits: HTTP1Limits, maxBodyBytes: Int64?,
                headerReadTimeout: TimeAmount?, bodyReadTimeout: TimeAmount?, idleTimeout: TimeAmount?,
                requestTimeout: TimeAmount?, routes: RouteTable, proxyProtocol: ProxyProtocolMode = .off,
                trustedSources: [CIDRBlock] = [], tls: ReloadableTLSContextStore? = nil,
                http2: HTTP2Config = HTTP2Config(), filterChain: FilterChain = .empty, reusePort: Bool = true) {
        self.reusePort = reusePort
        self.tls = tls
        self.http2 = http2
        self.filterChain = filterChain
        self.proxyProtocol = proxyProtocol
        self.trustedSources = trustedSources
        self.index = index
        self.name = name
        self.address = address
        self.scheme = scheme
        self.parserLimits = parserLimits
        self.maxBodyBytes = maxBodyBytes
        self.headerReadTimeout = headerReadTimeout
        self.bodyReadTimeout = bodyReadTimeout
        self.idleTimeout = idleTimeout
        self.requestTimeout = requestTimeout
        self.routes = routes
    }
}

extension ConfigDuration {
    var timeAmount: TimeAmount? { milliseconds.map { .milliseconds($0) } }
}
