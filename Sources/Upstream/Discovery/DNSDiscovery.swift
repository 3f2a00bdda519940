import Logging
import NIOCore

/// One `host:port` of a DNS-discovered cluster as configured; each of its addresses becomes an endpoint.
public struct DiscoveredHost: Sendable, Equatable {
    public var host: String
    public var port: Int
    public var weight: Int
    /// The zone every address of this host is in (`endpoints[].zone`).
    public var zone: String?

    public init(host: String, port: Int, weight: Int, zone: String? = nil) {
        self.host = host
        self.port = port
        self.weight = weight
        self.zone = zone
    }
}

/// How a DNS cluster is resolved (`discovery: dns`, `dns:` keys).
public struct DNSDiscoverySettings: Sendable {
    public var refresh: TimeAmount
    public var family: AddressFamilyPreference
    public var resolver: any HostResolver
    /// How long a start or reload waits for the first answer.
    public var initialTimeout: TimeAmount

    public init(refresh: TimeAmount, family: AddressFamilyPreference, resolver: any HostResolver, initialTimeout: TimeAmount = .seconds(5)) {
        self.refresh = refresh
        self.family = family
        self.resolver = resolver
        self.initialTimeout = initialTimeout
    }
}

/// Keeps a DNS cluster's endpoint list current: re-resolves every host each `refresh` on one event
/// loop, and reports a new list only when the set of addresses changed (resolvers rotate their answers;
/// that is not a change). A failed lookup keeps the host's previous addresses, as Envoy does: a DNS
/// outage must not empty a cluster that still works. An empty answer (NXDOMAIN) does remove them.
///
/// `@unchecked Sendable`: created anywhere, but its state is only touched on `eventLoop`.
public final class DNSDiscovery: @unchecked Sendable {
    public typealias Endpoints = [Endpoint]

    public let clusterName: String
    private let hosts: [DiscoveredHost]
    private let settings: DNSDiscoverySettings
    private let eventLoop: EventLoop
    private let logger: Logger
    /// Per host, the addresses of the last good answer (sorted).
    private var known: [[String]?]
    /// Endpoints one host name may contribute: per-endpoint state (pools, balancer arrays, health
    /// probes) grows with the list, so a huge answer must not grow it without bound.
    static let maxAddressesPerHost = 256
    /// The labels of the endpoint list last handed out (by `resolveNow` or to `changed`).
    private var reportedLabels: [String] = []
    private var firstLookupAnswered = false
    private var task: Scheduled<Void>?
    private var stopped = false

    public init(clusterName: String, hosts: [DiscoveredHost], settings: DNSDiscoverySettings, eventLoop: EventLoop, logger: Logger) {
        self.clusterName = clusterName
        self.hosts = hosts
        self.settings = settings
        self.eventLoop = eventLoop
        self.logger = logger
        self.known = Array(repeating: nil, count: hosts.count)
    }

    /// Resolves every host once and returns the endpoint list, waiting at most `initialTimeout`: a lookup still
    /// running then (a system resolver retrying a dead server can take tens of seconds) is not waited
    /// for; the list is what is known by then (empty at start), and the first refresh after the lookup
    /// ends reports the rest.
    public func resolveNow() -> EventLoopFuture<Endpoints> {
        eventLoop.flatSubmit { [self] in
            let promise = eventLoop.makePromise(of: Endpoints.self)
            let timer = eventLoop.scheduleTask(in: settings.initialTimeout) { [self] in answerFirstLookup(promise) }
            refreshKnown().whenComplete { [self] _ in
                timer.cancel()
                answerFirstLookup(promise)
            }
            return promise.futureResult
        }
    }

    /// Re-resolves every `refresh` from now on; `changed` hears each new endpoint list (on `eventLoop`).
    public func start(_ changed: @escaping @Sendable (Endpoints) -> Void) {
        eventLoop.execute { [self] in schedule(changed) }
    }

    public func stop() {
        eventLoop.execute { [self] in
            stopped = true
            task?.cancel()
        }
    }

    private func schedule(_ changed: @escaping @Sendable (Endpoints) -> Void) {
        guard !stopped else { return }
        task = eventLoop.scheduleTask(in: settings.refresh) { [self] in
            refreshKnown().whenComplete { [self] _ in
                let current = endpoints()
                // Compared with what was last handed out, not with the previous lookup: an answer that
                // arrived after `resolveNow` gave up is a change too.
                if current.map(\.label) != reportedLabels, !stopped { changed(report(current)) }
                schedule(changed)
            }
        }
    }

    /// The timeout or the lookup, whichever comes first, answers `resolveNow`; the other must not touch
    /// what was reported.
    private func answerFirstLookup(_ promise: EventLoopPromise<Endpoints>) {
        guard !firstLookupAnswered else { return }
        firstLookupAnswered = true
        promise.succeed(report(endpoints()))
    }

    /// Remembers `endpoints` as the list in force.
    private func report(_ endpoints: Endpoints) -> Endpoints {
        reportedLabels = endpoints.map(\.label)
        return endpoints
    }

    /// Looks every host up; each answer replaces that host's addresses, each failure keeps them.
    private func refreshKnown() -> EventLoopFuture<Void> {
        let lookups = hosts.enumerated().map { index, host in
            settings.resolver.resolve(host.host, family: settings.family, on: eventLoop).hop(to: eventLoop).map { [self] addresses in
                var sorted = addresses.sorted()
                if sorted.count > Self.maxAddressesPerHost {
                    logger.warning("DNS answer has more addresses than a host may add; using the first ones", metadata: [
                        "upstream_cluster": "\(clusterName)", "host": "\(host.host)", "addresses": "\(sorted.count)",
                        "kept": "\(Self.maxAddressesPerHost)"])
                    sorted.removeLast(sorted.count - Self.maxAddressesPerHost)
                }
                if known[index] != sorted {
                    logger.info("DNS answer changed", metadata: ["upstream_cluster": "\(clusterName)", "host": "\(host.host)",
                                                                 "addresses": "\(sorted.joined(separator: ","))"])
                }
                known[index] = sorted
            }.recover { [self] error in
                logger.warning("DNS lookup failed; keeping the previous addresses", metadata: [
                    "upstream_cluster": "\(clusterName)", "host": "\(host.host)", "error": "\(error)"])
            }
        }
        return EventLoopFuture.andAllComplete(lookups, on: eventLoop)
    }

    /// The current addresses as endpoints, in configured host order, each host's addresses sorted.
    private func endpoints() -> Endpoints {
        var result: Endpoints = []
        for (host, addresses) in zip(hosts, known) {
            for text in addresses ?? [] {
                guard let address = try? SocketAddress(ipAddress: text, port: host.port),
                      !result.contains(where: { $0.address == address }) else { continue }
                let label = text.contains(":") ? "[\(text)]:\(host.port)" : "\(text):\(host.port)"
                result.append(Endpoint(address: address, label: label, weight: host.weight, index: result.count, zone: host.zone, hostname: host.host))
            }
        }
        return result
    }
}
