import NIOCore
import Upstream

/// The state one event loop owns: upstream pools and balancers per cluster, the access-log batch and
/// the request-id generator. Each connection finds its loop's context once, at accept; from then on the
/// hot path touches only loop-local state, with no locks.
///
/// `@unchecked Sendable`: the reference may travel to other threads (the admin listener hands work to
/// each loop with `eventLoop.submit`), but its state is only ever used on `eventLoop`.
public final class LoopContext: @unchecked Sendable {
    public let eventLoop: EventLoop
    public let runtime: GatewayRuntime
    /// Position of this loop in the group; balancers start at different offsets per loop.
    public let loopIndex: Int
    /// Per cluster, in config order. A DNS cluster's entry is replaced when its endpoints change.
    public private(set) var clusters: [ClusterLoopState]
    public let accessLog: AccessLogBuffer
    /// `access_log.metadata`: the filter metadata names each line prints.
    let accessLogMetadata: [String]
    var requestIDs = RequestIDGenerator()
    /// Fast random bits for the request path: retry jitter, trace ids, sampling, filters' splits.
    var random = FastRandom()
    /// Request deadlines: checked often, since they end with a 504.
    let requestDeadlines: Sweeper
    /// Connection read deadlines (idle, header, body): many, mostly idle, checked less often.
    public let connectionDeadlines: Sweeper
    /// Open client connections, for graceful drain.
    public let connections = ConnectionRegistry()
    /// This loop's counters for `/metrics`.
    public let metrics: LoopMetrics
    /// The buffer this loop's HTTP/1.1 client connections write upstream response heads into, taken and
    /// given back around each head. Once NIO has written a head the buffer is uniquely referenced again,
    /// so the next head, on any connection, reuses its memory; one per loop rather than per connection
    /// keeps idle connections small.
    public var responseHeadBuffer = ByteBuffer()
    /// Buffers that filters' added request fields were written into (`HTTP1FieldEdits`), given back when
    /// their streams end: a route whose filter sets fields would otherwise allocate one per request.
    var spareFieldLines: [ByteBuffer] = []
    static let maxSpareFieldLines = 64
    static let maxSpareFieldLinesBytes = 4096
    /// Upstream requests written during a tick go out together at its end (`UpstreamFlushBatch`); every
    /// cluster of this loop shares it.
    public let upstreamFlushes: UpstreamFlushBatch

    public init(eventLoop: EventLoop, loopIndex: Int, runtime: GatewayRuntime, accessLog: AccessLogBuffer) {
        self.eventLoop = eventLoop
        self.runtime = runtime
        self.loopIndex = loopIndex
        let flushes = UpstreamFlushBatch(eventLoop: eventLoop)
        self.upstreamFlushes = flushes
        self.clusters = runtime.clusters.map { ClusterLoopState(cluster: $0, eventLoop: eventLoop, loopIndex: loopIndex, flushBatch: flushes) }
        self.accessLog = accessLog
        self.metrics = LoopMetrics(runtime: runtime)
        self.accessLogMetadata = runtime.config.accessLog.metadata
        self.requestDeadlines = Sweeper(eventLoop: eventLoop, interval: .milliseconds(25))
        self.connectionDeadlines = Sweeper(eventLoop: eventLoop, interval: .milliseconds(100))
    }

    /// A DNS cluster's endpoint list changed: new requests use `state`; requests in flight finish on
    /// the old state, whose connections then close. The cluster's per-endpoint counters follow their
    /// endpoints by label. Call on this loop.
    public func replaceCluster(with state: ClusterLoopState) {
        eventLoop.preconditionInEventLoop()
        let index = state.cluster.index
        let old = clusters[index]
        clusters[index] = state
        metrics.remapEndpoints(ofCluster: index, to: state.cluster.endpoints.map(\.label))
        state.carryCounters(from: old)
        old.retire()
    }

    /// This loop's counters with the pools' own (upstream TLS handshakes). Call on `eventLoop`.
    public var metricsSnapshot: LoopMetrics.Snapshot {
        var snapshot = metrics.snapshot
        for (index, cluster) in clusters.enumerated() {
            snapshot.clusters[index].tlsHandshakes = cluster.tlsHandshakes
            snapshot.clusters[index].tlsResumed = cluster.tlsResumed
            snapshot.clusters[index].tlsHandshakeFailures = cluster.tlsHandshakeFailures
        }
        return snapshot
    }

    /// A reload retired this context: its idle upstream connections are closed, busy ones as soon as
    /// their exchanges end.
    public func releaseUpstreamIdle() {
        for cluster in clusters { cluster.retire() }
    }
}

/// One `LoopContext` per event loop, looked up by loop identity.
public struct LoopContexts: @unchecked Sendable {
    // @unchecked: the dictionary is immutable after construction, and each context is only ever used
    // on its own event loop (checked by `context(for:)`).
    private let contexts: [ObjectIdentifier: LoopContext]

    public init(_ contexts: [LoopContext]) {
        self.contexts = Dictionary(uniqueKeysWithValues: contexts.map { (ObjectIdentifier($0.eventLoop), $0) })
    }

    public func context(for eventLoop: EventLoop) -> LoopContext {
        eventLoop.preconditionInEventLoop()
        guard let context = contexts[ObjectIdentifier(eventLoop)] else {
            preconditionFailure("no loop context for event loop \(eventLoop)")
        }
        return context
    }

    public var all: [LoopContext] { Array(contexts.values) }
}

/// Random version-4 UUIDs for X-Request-Id. A request id needs uniqueness, not secrecy, so a fast
/// per-loop generator (wyrand, seeded from the system's random source) replaces two `getrandom`
/// system calls per request.
struct RequestIDGenerator {
    private var state: UInt64

    init() {
        var system = SystemRandomNumberGenerator()
        state = system.next()
    }

    private mutating func nextWord() -> UInt64 {
        state &+= 0xa076_1d64_78bd_642f
        let product = state.multipliedFullWidth(by: state ^ 0xe703_7ed1_a0b4_28db)
        return product.high ^ product.low
    }

    mutating func next() -> String {
        var high = nextWord()
        var low = nextWord()
        high = (high & 0xFFFF_FFFF_FFFF_0FFF) | 0x0000_0000_0000_4000
        low = (low & 0x3FFF_FFFF_FFFF_FFFF) | 0x8000_0000_0000_0000
        return String(unsafeUninitializedCapacity: 36) { bytes in
            let hex: StaticString = "0123456789abcdef"
            var out = 0
            func put(_ value: UInt64, nibbles: Int, from shift: Int) {
                var s = shift
                for _ in 0..<nibbles {
                    bytes[out] = hex.utf8Start[Int((value >> UInt64(s)) & 0xF)]
                    out += 1
                    s -= 4
                }
            }
            put(high, nibbles: 8, from: 60); bytes[out] = 0x2D; out += 1
            put(high, nibbles: 4, from: 28); bytes[out] = 0x2D; out += 1
            put(high, nibbles: 4, from: 12); bytes[out] = 0x2D; out += 1
            put(low, nibbles: 4, from: 60); bytes[out] = 0x2D; out += 1
            put(low, nibbles: 12, from: 44)
            return 36
        }
    }
}
