import GatewayFilterAPI
import HTTPTypes
import NIOCore

/// Answers matched clients slowly: silence for `delay`, then the reply's body a few bytes at a time
/// (`FilterLocalReply.drip`), holding the client's connection while costing the gateway one timer.
/// Over `max_concurrent` held streams, the next matched client gets an immediate plain reject.
///
/// Rules are checked on the request head (address, header patterns, the 4xx history, an earlier filter's
/// `tarpit.request` or `rate_limit.decision`) and on the response head, for a `rate_limit` later in the
/// chain that answered 429. In `onComplete` a 4xx the client got (not from the tarpit) is counted.
final class TarpitFilter: HTTPFilter {
    private let shared: TarpitFilterFactory.Shared
    /// This stream holds a place under the cap.
    private var holding = false
    private var tarpitted = false
    private var timer: Scheduled<FilterVerdict>?

    init(shared: TarpitFilterFactory.Shared) { self.shared = shared }

    func onRequestHead(_ head: inout HTTPRequest, endStream: Bool, _ ctx: FilterContext) throws -> FilterVerdict {
        guard let rule = matchingRule(head, ctx) else { return .proceed }
        return tarpit(rule, ctx)
    }

    func onResponseHead(_ head: inout HTTPResponse, endStream: Bool, _ ctx: FilterContext) throws -> FilterVerdict {
        // A rate_limit after this filter refused the request: its 429 becomes a slow one.
        guard !tarpitted, shared.config.rateLimited, ctx.metadata[Tarpit.rateLimitDecisionKey] == "limited" else { return .proceed }
        return tarpit("rate_limited", ctx)
    }

    func onComplete(_ outcome: StreamOutcome, _ ctx: FilterContext) {
        timer?.cancel()
        timer = nil
        if holding {
            holding = false
            shared.state.leave()
        }
        if !tarpitted, (400..<500).contains(outcome.status), let errors = shared.state.errors {
            _ = errors.acquire(key: Self.clientIP(ctx), now: NIODeadline.now().uptimeNanoseconds)
        }
    }

    private func matchingRule(_ head: HTTPRequest, _ ctx: FilterContext) -> String? {
        let config = shared.config
        if ctx.metadata[Tarpit.requestKey] == true { return "requested" }
        if config.rateLimited, ctx.metadata[Tarpit.rateLimitDecisionKey] == "limited" { return "rate_limited" }
        if !config.addresses.isEmpty {
            let address = ctx.downstreamAddress
            if config.addresses.contains(where: { $0.contains(address) }) { return "address" }
        }
        if config.headers.contains(where: { $0.matches(head.headerFields) }) { return "header" }
        if let errors = shared.state.errors, errors.isExhausted(key: Self.clientIP(ctx), now: NIODeadline.now().uptimeNanoseconds) {
            return "too_many_4xx"
        }
        return nil
    }

    private func tarpit(_ rule: String, _ ctx: FilterContext) -> FilterVerdict {
        tarpitted = true
        guard shared.state.enter() else {
            ctx.metadata[Tarpit.decisionKey] = "rejected:\(rule)"
            return .respond(shared.rejectReply)
        }
        holding = true
        ctx.metadata[Tarpit.decisionKey] = "tarpitted:\(rule)"
        let reply = shared.reply
        guard shared.config.delay > .zero else { return .respond(reply) }
        let scheduled = ctx.eventLoop.scheduleTask(in: shared.config.delay) { FilterVerdict.respond(reply) }
        timer = scheduled
        return .suspend(scheduled.futureResult)
    }

    /// The 4xx rule counts by address, not port: one client, many connections.
    static func clientIP(_ ctx: FilterContext) -> String {
        let address = ctx.downstreamAddress
        if address.hasPrefix("["), let close = address.firstIndex(of: "]") {
            return String(address[address.index(after: address.startIndex)..<close])
        }
        if let colon = address.lastIndex(of: ":"), address.firstIndex(of: ":") == colon { return String(address[..<colon]) }
        return address
    }
}
