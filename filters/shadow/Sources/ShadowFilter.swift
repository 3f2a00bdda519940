import Atomics
import GatewayFilterAPI
import HTTPTypes
import NIOCore

/// Mirrors a request to a shadow cluster, fire and forget: the copy is sent when the primary request's
/// body is complete (bounded by `max_body_bytes`), its answer is discarded, and nothing about it (failure,
/// slowness, the in-flight cap) can change the primary's response or delay it.
final class ShadowFilter: HTTPFilter {
    static let decision = FilterMetadataKey<String>("shadow.decision")

    private let config: ShadowConfig
    private let counters: ShadowCounters
    private var copy: HTTPRequest?
    private var body: ByteBuffer?
    private var sent = false

    init(config: ShadowConfig, counters: ShadowCounters) {
        self.config = config
        self.counters = counters
    }

    func onRequestHead(_ head: inout HTTPRequest, endStream: Bool, _ ctx: FilterContext) throws -> FilterVerdict {
        guard selects(head, ctx) else { return .proceed }
        var copy = head
        copy.headerFields.append(config.tag)
        if let host = config.hostRewrite { copy.authority = host }
        self.copy = copy
        if endStream { send(ctx) }
        return .proceed
    }

    func onRequestBody(_ chunk: inout ByteBuffer, endStream: Bool, _ ctx: FilterContext) throws -> FilterVerdict {
        guard copy != nil else { return .proceed }
        if (body?.readableBytes ?? 0) + chunk.readableBytes > config.maxBodyBytes {
            copy = nil
            body = nil
            counters.overCap.wrappingIncrement(ordering: .relaxed)
            ctx.metadata[Self.decision] = "over_cap"
            return .proceed
        }
        // In place: the first chunk is kept as is, later ones append to the uniquely held buffer (copying
        // it out of `body` first would copy the whole body again for every chunk).
        body.setOrWriteImmutableBuffer(chunk)
        if endStream { send(ctx) }
        return .proceed
    }

    func onComplete(_ outcome: StreamOutcome, _ ctx: FilterContext) {
        // A request whose body never completed (the client left) is not mirrored.
        copy = nil
        body = nil
    }

    private func selects(_ head: HTTPRequest, _ ctx: FilterContext) -> Bool {
        if let match = config.matchHeader {
            guard let value = head.headerFields[match.name] else { return false }
            if let expected = match.value, value != expected { return false }
        }
        return ctx.chance(percent: config.percent)
    }

    private func send(_ ctx: FilterContext) {
        guard let copy, !sent else { return }
        sent = true
        self.copy = nil
        let body = self.body
        self.body = nil
        // The cap is process-wide and never waits: over it, the copy is dropped.
        guard counters.inFlight.loadThenWrappingIncrement(ordering: .relaxed) < config.maxInFlight else {
            counters.inFlight.wrappingDecrement(ordering: .relaxed)
            counters.dropped.wrappingIncrement(ordering: .relaxed)
            ctx.metadata[Self.decision] = "dropped"
            return
        }
        counters.sent.wrappingIncrement(ordering: .relaxed)
        ctx.metadata[Self.decision] = "sent"
        let counters = self.counters
        ctx.httpCall(cluster: config.cluster, request: copy, body: body, timeout: config.timeout).whenComplete { result in
            counters.inFlight.wrappingDecrement(ordering: .relaxed)
            if case .failure = result { counters.failed.wrappingIncrement(ordering: .relaxed) }
        }
    }
}

/// Process-wide counts, shared by every stream's filter.
final class ShadowCounters: Sendable {
    let inFlight = ManagedAtomic<Int>(0)
    let sent = ManagedAtomic<Int>(0)
    let dropped = ManagedAtomic<Int>(0)
    let overCap = ManagedAtomic<Int>(0)
    let failed = ManagedAtomic<Int>(0)
}
