import GatewayTLS
import HTTP1
import Logging
import NIOCore
import Synchronization
import Upstream

/// A cluster whose endpoints come from DNS: what to resolve, and how.
public struct DiscoveredCluster: Sendable {
    public let clusterIndex: Int
    public let hosts: [DiscoveredHost]
    public let settings: DNSDiscoverySettings
}

/// Everything built from one config that the data path reads: listeners with compiled routes and
/// clusters with resolved endpoints. Immutable and shared by all event loops.
public final class GatewayRuntime: Sendable {
    public let config: GatewayConfig
    public let listeners: [ListenerRuntime]
    /// Every cluster as it is now. Static clusters never change; a DNS cluster is replaced by
    /// `replaceCluster` when its answer changes. Read by the admin listener and when a loop's state is
    /// built; the request path uses its loop's own copy and never takes this lock.
    public var clusters: [UpstreamCluster] { currentClusters.withLock { $0 } }
    private let currentClusters: Mutex<[UpstreamCluster]>
    /// The clusters with `discovery: dns`; their endpoint lists start empty until the first answer.
    public let discoveredClusters: [DiscoveredCluster]
    /// For filters that steer a request to a cluster by name.
    public let clusterIndexByName: [String: Int]
    /// Signs sticky sessions of clusters that configure no key: random, and kept across reloads (not
    /// restarts), like unconfigured session-ticket keys.
    public let stickyFallbackKey: [UInt8]
    /// The indexes of clusters with cookie or app-cookie stickiness, for `FilterContext.stickyCluster(_:)`.
    /// (Indexes, not clusters: a DNS cluster's endpoint list, and so its sticky ids, can change.)
    public let stickyCookieClusters: [Int]

    /// Resolves endpoint addresses (at load, not per request) and compiles routes.
    /// - Parameter previous: the runtime this one replaces (a reload): TLS listeners of the same name keep
    ///   their session-ticket keys, so clients resume across the reload.
    public init(config: GatewayConfig, previous: GatewayRuntime? = nil) throws(ConfigErrors) {
        self.config = config
        var errors: [ConfigError] = []
        var clusters: [UpstreamCluster] = []
        var discovered: [DiscoveredCluster] = []
        let fallbackKey = previous?.stickyFallbackKey ?? StickyCookieCodec.randomKey()
        self.stickyFallbackKey = fallbackKey
        for (clusterIndex, cluster) in config.clusters.enumerated() {
            var endpoints: [Endpoint] = []
            if let dns = cluster.dns {
                let hosts = cluster.endpoints.map { DiscoveredHost(host: $0.address.host, port: $0.address.port, weight: $0.weight, zone: $0.zone) }
                discovered.append(DiscoveredCluster(clusterIndex: clusterIndex, hosts: hosts, settings: Self.discoverySettings(dns)))
            }
            for (index, endpoint) in cluster.endpoints.enumerated() where cluster.dns == nil {
                do {
                    let address = try SocketAddress.makeAddressResolvingHost(endpoint.address.host, port: endpoint.address.port)
                    endpoints.append(Endpoint(address: address, label: endpoint.address.description, weight: endpoint.weight, index: index, zone: endpoint.zone))
                } catch {
                    errors.append(ConfigError(file: config.source, line: 0, column: 0, keyPath: "clusters[\(clusterIndex)].endpoints[\(index)].address",
                                              message: "cannot resolve '\(endpoint.address.host)': \(error)"))
                }
            }
            let settings = UpstreamConnectionSettings(
                connectTimeout: cluster.connectTimeout.timeAmount ?? .seconds(5),
                idleTimeout: cluster.idleTimeout.timeAmount,
                maxIdlePerEndpoint: cluster.maxIdlePerEndpoint,
                maxRequestsPerConnection: cluster.maxRequestsPerConnection)
            clusters.append(UpstreamCluster(name: cluster.name, index: clusterIndex, endpoints: endpoints, settings: settings, options: cluster.options,
                                            isDiscovered: cluster.dns != nil, fallbackStickyKey: fallbackKey))
        }
        if !errors.isEmpty { throw ConfigErrors(errors: errors) }
        self.currentClusters = Mutex(clusters)
        self.discoveredClusters = discovered
        self.stickyCookieClusters = clusters.filter { $0.sticky?.cookieName != nil }.map(\.index)
        let clusterIndex = Dictionary(uniqueKeysWithValues: clusters.map { ($0.name, $0.index) })
        self.clusterIndexByName = clusterIndex
        var tlsStores: [String: ReloadableTLSContextStore] = [:]
        for (index, listener) in config.listeners.enumerated() {
            guard let tls = listener.tls else { continue }
            do {
                let kept = tls.sessionTicketKeyFiles.isEmpty
                    ? previous?.listeners.first(where: { $0.name == listener.name })?.tls.flatMap { $0.ticketKeys.keyFiles.isEmpty ? $0.ticketKeys : nil }
                    : nil
                let ticketKeys: TLSSessionTicketKeys
                if let kept {
                    ticketKeys = kept
                } else if tls.sessionTicketKeyFiles.isEmpty {
                    ticketKeys = try TLSSessionTicketKeys()
                } else {
                    ticketKeys = try TLSSessionTicketKeys(files: tls.sessionTicketKeyFiles)
                }
                tlsStores[listener.name] = try ReloadableTLSContextStore(certificates: tls.certificates, alpn: tls.alpn, ciphers: tls.ciphers,
                                                                      clientVerification: tls.clientVerification, ticketKeys: ticketKeys)
            } catch {
                errors.append(ConfigError(file: config.source, line: 0, column: 0, keyPath: "listeners[\(index)].tls", message: error.message))
            }
        }
        if !errors.isEmpty { throw ConfigErrors(errors: errors) }
        self.listeners = config.listeners.enumerated().map { listenerIndex, listener in
            let listenerChain = FilterChain(filters: listener.filters)
            let routes = listener.routes.enumerated().map { routeIndex, route in
                Route(index: routeIndex,
                      match: route.match,
                      clusterIndex: clusterIndex[route.cluster]!,
                      clusterName: route.cluster,
                      maxBodyBytes: route.maxBodyBytes ?? listener.limits.maxBodyBytes,
                      requestTimeout: (route.requestTimeout ?? listener.timeouts.request).timeAmount,
                      filterChain: FilterChain(filters: listener.filters + route.filters),
                      websocket: route.websocket)
            }
            return ListenerRuntime(
                index: listenerIndex,
                name: listener.name,
                address: listener.address,
                scheme: listener.tls == nil ? "http" : "https",
                parserLimits: HTTP1Limits(maxHeadBytes: listener.limits.maxHeaderBytes, maxHeaderCount: listener.limits.maxHeaders,
                                          maxURIBytes: listener.limits.maxURIBytes),
                maxBodyBytes: listener.limits.maxBodyBytes,
                headerReadTimeout: listener.timeouts.headerRead.timeAmount,
                bodyReadTimeout: listener.timeouts.bodyRead.timeAmount,
                idleTimeout: listener.timeouts.idle.timeAmount,
                requestTimeout: listener.timeouts.request.timeAmount,
                routes: RouteTable(routes: routes),
                proxyProtocol: listener.proxyProtocol,
                trustedSources: listener.trustedSources,
                tls: tlsStores[listener.name],
                http2: listener.http2,
                filterChain: listenerChain,
                reusePort: listener.reusePort)
        }
    }

    /// A DNS cluster's new endpoint list is in force from now on (for the admin API and new loop states).
    public func replaceCluster(_ cluster: UpstreamCluster) {
        currentClusters.withLock { $0[cluster.index] = cluster }
    }

    private static func discoverySettings(_ dns: DNSClusterConfig) -> DNSDiscoverySettings {
        let resolver: any HostResolver
        if dns.resolvers.isEmpty {
            resolver = SystemHostResolver()
        } else {
            // The decoder checked that each resolver is an IP address.
            let servers = dns.resolvers.compactMap { try? SocketAddress(ipAddress: $0.host, port: $0.port) }
            resolver = DNSServerResolver(servers: servers, timeout: dns.timeout.timeAmount ?? .seconds(2))
        }
        return DNSDiscoverySettings(refresh: dns.refresh.timeAmount ?? .seconds(5), family: dns.family, resolver: resolver,
                                    initialTimeout: dns.initialTimeout.timeAmount ?? .zero)
    }
}
