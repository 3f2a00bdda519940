import Atomics
import GatewayFilterAPI
import HTTPTypes
import NIOCore

/// Delays or aborts requests, by chance or when the request asks for it: the failures a caller must survive,
/// made on purpose. One instance serves every request of the entry (its only state is the shared count).
final class FaultFilter: HTTPFilter, Sendable {
    private let config: FaultFilterConfig
    private let counters: FaultCounters

    static let delayHeader = HTTPField.Name("x-portcullis-fault-delay-ms")!
    static let abortHeader = HTTPField.Name("x-portcullis-fault-abort")!

    init(config: FaultFilterConfig, counters: FaultCounters) {
        self.config = config
        self.counters = counters
    }

    func onRequestHead(_ head: inout HTTPRequest, endStream: Bool, _ ctx: FilterContext) throws -> FilterVerdict {
        let asked = config.headers ? Asked(delayMs: head.headerFields[Self.delayHeader], abort: head.headerFields[Self.abortHeader]) : Asked()
        return verdict(asked, ctx)
    }

    func onRequestHead(_ head: inout HTTPRequest, receivedFields: ReceivedRequestFields, endStream: Bool, _ ctx: FilterContext) throws -> FilterVerdict {
        guard config.headers else { return verdict(Asked(), ctx) }
        var asked = Asked()
        let readable = receivedFields.forEachValue(of: Self.delayHeader) { asked.delayMs = String(decoding: $0, as: UTF8.self) }
            && receivedFields.forEachValue(of: Self.abortHeader) { asked.abort = String(decoding: $0, as: UTF8.self) }
        guard readable else {
            head.headerFields = receivedFields.takeFields()
            return try onRequestHead(&head, endStream: endStream, ctx)
        }
        return verdict(asked, ctx)
    }

    /// What the request's own headers asked for (`headers: true`), as their text.
    struct Asked {
        var delayMs: String?
        var abort: String?
    }

    private func verdict(_ asked: Asked, _ ctx: FilterContext) -> FilterVerdict {
        let abort = abortStatus(asked, ctx)
        guard let delay = delayDuration(asked, ctx) else {
            return abort.map { respond($0) } ?? .proceed
        }
        // Delayed requests are bounded: past `max_active` a request goes on as if no fault were configured.
        guard counters.active.loadThenWrappingIncrement(ordering: .relaxed) < config.maxActive else {
            counters.active.wrappingDecrement(ordering: .relaxed)
            counters.skipped.wrappingIncrement(ordering: .relaxed)
            return .proceed
        }
        counters.delays.wrappingIncrement(ordering: .relaxed)
        let counters = self.counters
        let answer: FilterVerdict = abort.map { respond($0) } ?? .proceed
        let done = ctx.eventLoop.scheduleTask(in: delay) {
            counters.active.wrappingDecrement(ordering: .relaxed)
            return answer
        }
        return .suspend(done.futureResult)
    }

    private func respond(_ status: Int) -> FilterVerdict {
        counters.aborts.wrappingIncrement(ordering: .relaxed)
        return .respond(.text(HTTPResponse.Status(code: status), "fault filter abort"))
    }

    private func delayDuration(_ asked: Asked, _ ctx: FilterContext) -> TimeAmount? {
        // Field values arrive trimmed (the HTTP/1.1 parser and nghttp2 both strip the surrounding whitespace).
        if let text = asked.delayMs, let delay = FaultFilterConfig.headerDelay(milliseconds: text) { return delay }
        guard let delay = config.delay, ctx.chance(percent: delay.percent) else { return nil }
        return delay.duration
    }

    private func abortStatus(_ asked: Asked, _ ctx: FilterContext) -> Int? {
        if let text = asked.abort, let status = Int(text), (200...599).contains(status) { return status }
        guard let abort = config.abort, ctx.chance(percent: abort.percent) else { return nil }
        return abort.status
    }
}

/// The entry's counts, all loops together.
final class FaultCounters: Sendable {
    let delays = ManagedAtomic<Int>(0)
    let aborts = ManagedAtomic<Int>(0)
    let skipped = ManagedAtomic<Int>(0)
    let active = ManagedAtomic<Int>(0)
}
