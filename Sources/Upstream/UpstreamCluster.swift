import GatewayTLS
import HTTPTypes
import NIOCore

/// One backend address of a cluster.
///
/// A class with value equality: a request, its attempt span and its connection each hold the endpoint,
/// and a reference costs one retain where the struct cost one per field.
public final class Endpoint: Sendable, Hashable {
    public let address: SocketAddress
    /// `host:port` as configured, for logs and the access log.
    public let label: String
    public let weight: Int
    /// Position in the cluster's endpoint list; pools index by it.
    public let index: Int
    /// The endpoint's zone label (`zone:`), for zone-aware balancing and the admin API.
    public let zone: String?
    /// For an address found by DNS discovery, the name it was found under (`label` is then `IP:port`):
    /// upstream TLS sends it as SNI and verifies the certificate against it.
    public let hostname: String?

    public init(address: SocketAddress, label: String, weight: Int, index: Int, zone: String? = nil, hostname: String? = nil) {
        self.address = address
        self.label = label
        self.weight = weight
        self.index = index
        self.zone = zone
        self.hostname = hostname
    }

    public static func == (lhs: Endpoint, rhs: Endpoint) -> Bool {
        lhs === rhs || (lhs.address == rhs.address && lhs.label == rhs.label && lhs.weight == rhs.weight && lhs.index == rhs.index
            && lhs.zone == rhs.zone && lhs.hostname == rhs.hostname)
    }

    public func hash(into hasher: inout Hasher) {
        hasher.combine(address)
        hasher.combine(label)
        hasher.combine(weight)
        hasher.combine(index)
        hasher.combine(zone)
        hasher.combine(hostname)
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

/// How a cluster balances, checks health and protects itself; the config's cluster keys beyond endpoints,
/// timeouts and pool.
public struct UpstreamClusterOptions: Sendable {
    public var lb: LoadBalancingPolicy = .roundRobin
    /// What `ring_hash` and `maglev` hash; nil: a random pick (as for a request without the key).
    public var hashOn: HashKeySource?
    public var healthCheck: HealthCheckSettings?
    public var outlierDetection: OutlierSettings?
    /// Percent of endpoints that must be up; below it every endpoint takes traffic. 0 disables panic mode.
    public var panicThreshold: Int = 50
    public var retries: RetryPolicy?
    public var circuitBreakers = CircuitBreakerLimits()
    /// Sticky sessions (`sticky:`); nil: every request is balanced.
    public var sticky: StickySettings?
    /// Zone-aware balancing (`local_zone:`); nil: zones are labels only.
    public var localZone: LocalZoneSettings?
    /// The protocol spoken to the endpoints (`protocol:` in the config).
    public var upstreamProtocol = UpstreamProtocol.http1
    /// TLS to the endpoints (built once at load, shared by every loop); nil: plaintext.
    public var tls: TLSClientContext?
    /// `protocol: auto` only: the same TLS settings offering ALPN `http/1.1` alone, for what must speak
    /// HTTP/1.1 whatever the endpoint prefers (health probes).
    public var tlsHTTP1Only: TLSClientContext?

    /// What new connections speak: `auto` without TLS has no ALPN to learn from, so it is HTTP/1.1.
    public var effectiveProtocol: UpstreamProtocol {
        upstreamProtocol == .auto && tls == nil ? .http1 : upstreamProtocol
    }

    public init() {}
}

/// The protocol a cluster speaks to its endpoints. `http2` on a plaintext cluster is h2c with prior
/// knowledge (RFC 9113 §3.3): the connection starts with the HTTP/2 preface, no Upgrade. `auto` (TLS
/// clusters) offers ALPN `h2` and `http/1.1` and speaks what each endpoint's server chooses.
public enum UpstreamProtocol: String, Sendable, CaseIterable {
    case http1
    case http2
    case auto
}

/// An immutable cluster definition, shared by all event loops. Per-loop state (pools, balancer
/// positions) lives in `ClusterLoopState`; process-wide health in `ClusterHealthMonitor`.
public final class UpstreamCluster: Sendable {
    public let name: String
    /// Position in the gateway's cluster list; per-loop state indexes by it.
    public let index: Int
    public let endpoints: [Endpoint]
    public let settings: UpstreamConnectionSettings
    public let options: UpstreamClusterOptions
    /// Built once at load for `ring_hash` and `maglev`; every loop reads the same table.
    public let hashTable: ConsistentHashTable?
    /// Circuit-breaker counters, shared by every loop.
    public let resources: ClusterResources
    /// `hash_on: { header: ... }`, parsed once.
    public let hashHeaderName: HTTPField.Name?
    /// Sticky sessions, ready to use (keyed codec, endpoint ids, header table); nil without `sticky:`.
    public let sticky: StickyPolicy?
    /// Per endpoint, the SNI name sent and the name the certificate must match; empty without TLS.
    public let tlsPeers: [TLSPeer]

    /// Whether the endpoint list comes from DNS and may change while serving (`discovery: dns`).
    public let isDiscovered: Bool
    /// The key sticky sessions are signed with (configured, or the runtime's random one), kept for
    /// `withEndpoints`: a DNS change must not invalidate the cookies of endpoints that stay.
    private let stickyKey: [UInt8]

    /// - Parameter fallbackStickyKey: signs sticky cookies when the config names no key (random per
    ///   runtime lineage, kept across reloads by the caller).
    public convenience init(name: String, index: Int, endpoints: [Endpoint], settings: UpstreamConnectionSettings, options: UpstreamClusterOptions = .init(),
                isDiscovered: Bool = false, fallbackStickyKey: [UInt8] = []) {
        let stickyKey = options.sticky?.key ?? (fallbackStickyKey.isEmpty && options.sticky != nil ? StickyCookieCodec.randomKey() : fallbackStickyKey)
        self.init(name: name, index: index, endpoints: endpoints, settings: settings, options: options, isDiscovered: isDiscovered,
                  resources: ClusterResources(limits: options.circuitBreakers), stickyKey: stickyKey)
    }

    private init(name: String, index: Int, endpoints: [Endpoint], settings: UpstreamConnectionSettings, options: UpstreamClusterOptions,
                 isDiscovered: Bool, resources: ClusterResources, stickyKey: [UInt8]) {
        self.name = name
        self.index = index
        self.endpoints = endpoints
        self.settings = settings
        self.options = options
        self.isDiscovered = isDiscovered
        let hashTable = ConsistentHashTable(policy: options.lb, endpoints: endpoints)
        self.hashTable = hashTable
        self.resources = resources
        self.stickyKey = stickyKey
        if case .header(let name)? = options.hashOn { hashHeaderName = HTTPField.Name(name) } else { hashHeaderName = nil }
        self.sticky = options.sticky.map { sticky in
            StickyPolicy(settings: sticky, clusterName: name, endpoints: endpoints, key: stickyKey,
                         table: sticky.needsHashTable ? (hashTable ?? ConsistentHashTable(policy: .ringHash, endpoints: endpoints)) : nil)
        }

        let serverName = options.tls?.configuration.serverName
        tlsPeers = options.tls == nil ? [] : endpoints.map { TLSPeer(host: $0.hostname ?? Self.host(ofLabel: $0.label), serverName: serverName) }
    }

    /// The same cluster over a new endpoint list (a DNS answer changed). The circuit-breaker counters
    /// are shared with this one, so requests still in flight on the old list count against the limits.
    public func withEndpoints(_ endpoints: [Endpoint]) -> UpstreamCluster {
        UpstreamCluster(name: name, index: index, endpoints: endpoints, settings: settings, options: options, isDiscovered: isDiscovered,
                        resources: resources, stickyKey: stickyKey)
    }

    /// The host of a `host:port` or `[v6]:port` label.
    static func host(ofLabel label: String) -> String {
        if label.hasPrefix("["), let close = label.firstIndex(of: "]") {
            return String(label[label.index(after: label.startIndex)..<close])
        }
        guard let colon = label.lastIndex(of: ":") else { return label }
        return String(label[..<colon])
    }
}
