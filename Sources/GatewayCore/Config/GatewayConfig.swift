import GatewayFilterAPI
import GatewayTLS
import Upstream

/// The whole gateway configuration, typed and validated. Built by `ConfigLoader`; immutable and shared
/// by every event loop.
public struct GatewayConfig: Sendable {
    /// Event loops (threads) serving traffic; 0 means one per CPU core.
    public var workers: Int
    public var listeners: [ListenerConfig]
    public var clusters: [ClusterConfig]
    public var accessLog: AccessLogConfig
    /// The file this was loaded from, for messages.
    public var source: String
    public var drain = DrainConfig()
    /// The admin listener (`/metrics`, `/ready`, ...); nil: none.
    public var admin: AdminConfig?
    /// Trace spans on stdout; nil: none (traceparent is still continued and propagated).
    public var tracing: TracingConfig?

    public init(workers: Int, listeners: [ListenerConfig], clusters: [ClusterConfig], accessLog: AccessLogConfig, source: String) {
        self.workers = workers
        self.listeners = listeners
        self.clusters = clusters
        self.accessLog = accessLog
        self.source = source
    }
}

/// Head-based sampling of trace spans: a request continuing a trace follows the caller's sampled flag;
/// a new trace is sampled with `sampleRate`.
public struct TracingConfig: Sendable, Equatable {
    public var sampleRate: Double = 1.0
    public init() {}
}

/// The admin listener: keep it on loopback (the default address) or a private network.
public struct AdminConfig: Sendable, Equatable {
    public var address: HostPort
    public init(address: HostPort) { self.address = address }
}

/// Graceful shutdown on SIGTERM: keep accepting for `delay` (the L4 tier's health checks notice the
/// drain first), then stop accepting and let open requests finish for up to `timeout`.
public struct DrainConfig: Sendable, Equatable {
    public var delay: ConfigDuration = .disabled
    public var timeout: ConfigDuration = .milliseconds(30_000)
    public init() {}
}

public struct HostPort: Sendable, Equatable, CustomStringConvertible {
    public var host: String
    public var port: Int
    public init(host: String, port: Int) { self.host = host; self.port = port }
    public var description: String { host.contains(":") ? "[\(host)]:\(port)" : "\(host):\(port)" }

    /// `host:port` or `[v6]:port`.
    public init?(parsing text: String) {
        let host: Substring
        let portText: Substring
        if text.hasPrefix("[") {
            guard let close = text.firstIndex(of: "]") else { return nil }
            host = text[text.index(after: text.startIndex)..<close]
            let rest = text[text.index(after: close)...]
            guard rest.hasPrefix(":") else { return nil }
            portText = rest.dropFirst()
        } else {
            guard let colon = text.lastIndex(of: ":") else { return nil }
            host = text[..<colon]
            portText = text[text.index(after: colon)...]
            if host.contains(":") { return nil }
        }
        guard !host.isEmpty, let port = Int(portText), (0...65535).contains(port) else { return nil }
        self.host = String(host)
        self.port = port
    }
}

/// A TLS listener's certificates (the first is the default for unknown or missing SNI) and ALPN list.
public struct TLSListenerConfig: Sendable, Equatable {
    public var certificates: [TLSCertificateFiles]
    public var alpn: [String]
    /// TLS 1.2 cipher list in OpenSSL syntax.
    public var ciphers: String = TLSContextStore.defaultCiphers
    /// mTLS; nil when clients are not asked for certificates.
    public var clientVerification: TLSClientVerification?
    /// How often a new random session-ticket key takes over; `.disabled`: never (keys last the process).
    public var sessionTicketRotation: ConfigDuration = .milliseconds(3_600_000)
    /// Shared ticket keys (80-byte files, the first encrypts); when set, no random keys and no timer.
    public var sessionTicketKeyFiles: [String] = []
}

/// Whether a listener expects the PROXY protocol header from the L4 tier in front of it.
public enum ProxyProtocolMode: String, Sendable, CaseIterable {
    case off, v1, v2, any
}

public struct ListenerConfig: Sendable {
    public var name: String
    public var address: HostPort
    public var proxyProtocol: ProxyProtocolMode = .off
    /// Peers allowed to send a PROXY header; empty means any peer.
    public var trustedSources: [CIDRBlock] = []
    /// TLS termination; nil for plain HTTP.
    public var tls: TLSListenerConfig?
    public var http2 = HTTP2Config()
    /// SO_REUSEPORT: several processes (an old and a new binary during an upgrade) may share the port.
    public var reusePort = true
    public var limits: RequestLimits
    public var timeouts: ListenerTimeouts
    public var routes: [RouteConfig]
    /// Filters every request on this listener passes, before its route's own.
    public var filters: [ConfiguredFilter] = []

    public init(name: String, address: HostPort, limits: RequestLimits, timeouts: ListenerTimeouts, routes: [RouteConfig]) {
        self.name = name
        self.address = address
        self.limits = limits
        self.timeouts = timeouts
        self.routes = routes
    }
}

/// Bounds on what a client may send; each has the status a client gets beyond it.
public struct RequestLimits: Sendable, Equatable {
    /// Whole request head (431).
    public var maxHeaderBytes: Int = 32 * 1024
    /// Header field lines (431).
    public var maxHeaders: Int = 100
    /// Request target (414).
    public var maxURIBytes: Int = 8 * 1024
    /// Request body; nil means unlimited (413).
    public var maxBodyBytes: Int64? = nil
}

public struct ListenerTimeouts: Sendable, Equatable {
    /// From the first byte of a request head until the head is complete (slowloris): 408 and close.
    public var headerRead: ConfigDuration = .milliseconds(10_000)
    /// Longest silence while a request body is being received: 408 and close.
    public var bodyRead: ConfigDuration = .milliseconds(30_000)
    /// A keep-alive connection with no request in progress is closed after this.
    public var idle: ConfigDuration = .milliseconds(60_000)
    /// The whole exchange, from request head to the end of the response: 504 (or a reset once streaming).
    public var request: ConfigDuration = .milliseconds(60_000)
}

public struct RouteMatch: Sendable, Equatable {
    /// Exact host (port ignored) or `*.example.com`; nil matches any.
    public var host: String?
    public var pathPrefix: String?
    public var path: String?
}

public struct RouteConfig: Sendable {
    public var match: RouteMatch
    public var cluster: String
    /// Overrides the listener's body limit.
    public var maxBodyBytes: Int64??
    /// Overrides the listener's request timeout.
    public var requestTimeout: ConfigDuration?
    /// Filters after the listener's, for requests on this route.
    public var filters: [ConfiguredFilter] = []
    /// WebSocket handshakes (HTTP/1.1 `Upgrade: websocket`) become tunnels to the upstream.
    public var websocket = true
}

public struct EndpointConfig: Sendable, Equatable {
    public var address: HostPort
    /// 0: draining (only sticky sessions reach it).
    public var weight: Int
    public var zone: String? = nil
}

/// The `dns:` keys of a cluster with `discovery: dns`.
public struct DNSClusterConfig: Sendable, Equatable {
    /// How often every host name is resolved again.
    public var refresh: ConfigDuration = .milliseconds(5_000)
    public var family: AddressFamilyPreference = .auto
    /// DNS servers asked directly over UDP; empty: the system resolver (/etc/hosts, /etc/resolv.conf).
    public var resolvers: [HostPort] = []
    /// Per query and server, for `resolvers`.
    public var timeout: ConfigDuration = .milliseconds(2_000)
    /// How long a start or reload waits for the cluster's first answer.
    public var initialTimeout: ConfigDuration = .milliseconds(5_000)

    public init() {}
}

public struct ClusterConfig: Sendable {
    public var name: String
    public var endpoints: [EndpointConfig]
    /// Balancing, hashing, health checks, outlier detection, panic threshold, retries, circuit breakers.
    public var options = UpstreamClusterOptions()
    public var lb: LoadBalancingPolicy {
        get { options.lb }
        set { options.lb = newValue }
    }
    public var connectTimeout: ConfigDuration = .milliseconds(5_000)
    /// Idle pooled upstream connections are closed after this.
    public var idleTimeout: ConfigDuration = .milliseconds(30_000)
    /// Idle connections kept per endpoint and event loop.
    public var maxIdlePerEndpoint: Int = 1024
    /// A connection is closed after this many requests; 0 means no limit.
    public var maxRequestsPerConnection: Int = 0
    /// `discovery: dns`: every address of each endpoint's host name is an endpoint, re-resolved while
    /// serving. nil (`discovery: static`): each endpoint is one address, resolved once at load.
    public var dns: DNSClusterConfig?

    public init(name: String, endpoints: [EndpointConfig], lb: LoadBalancingPolicy) {
        self.name = name
        self.endpoints = endpoints
        self.options.lb = lb
    }
}

public struct AccessLogConfig: Sendable {
    public var enabled: Bool = true
    /// Filter metadata names printed in each line's `metadata` object, in this order.
    public var metadata: [String] = []
    /// JSON with every field (default), JSON with chosen fields, or a text template.
    public var format: AccessLogFormat = .allJSON
    /// Share of successful (status < 400) requests logged; errors are always logged.
    public var sampleRate: Double = 1.0
}
