import GatewayFilterAPI
import HTTPTypes
import NIOCore

/// The filter instance every request of one state gets when its script has only `on_request`: nothing of
/// such a request outlives its request-head hook unless the phase waits, so one object serves them all and
/// no instance is made and freed per request.
///
/// Each hook runs the phase on a `LuaFilter` (the run), kept here for the next request once it finished.
/// A run whose phase waits (`ctx.req:body()`, `ctx:http_call`, `gw.sleep`) belongs to its stream until the
/// stream completes: later hooks of that stream find it by the stream's identity.
final class LuaRequestPhaseFilter: HTTPFilter {
    let shared: LuaFilterShared
    let state: LuaScriptState
    let eventLoop: EventLoop
    /// The finished run, ready for the next request.
    private var spare: LuaFilter?
    /// Runs whose phase waits, by their stream; each leaves in its stream's `onComplete`.
    private var waiting: [ObjectIdentifier: LuaFilter] = [:]

    init(shared: LuaFilterShared, state: LuaScriptState, eventLoop: EventLoop) {
        self.shared = shared
        self.state = state
        self.eventLoop = eventLoop
    }

    /// Whether requests of `state` can share an instance: nothing runs after the request phase.
    static func serves(_ state: LuaScriptState) -> Bool {
        state.onResponseHeaders == Lua.noRef && state.onResponseBody == Lua.noRef && state.onLog == Lua.noRef
    }

    var waitingCount: Int { waiting.count }

    @inline(__always)
    private func takeRun() -> LuaFilter {
        if let run = spare {
            spare = nil
            return run
        }
        return LuaFilter(shared: shared, state: state, eventLoop: eventLoop)
    }

    /// After the hook: a finished run is kept for the next request; a waiting one stays with its stream.
    @inline(__always)
    private func settle(_ run: LuaFilter, _ ctx: FilterContext) {
        if run.isIdle {
            run.recycle()
            spare = run
        } else {
            waiting[ObjectIdentifier(ctx)] = run
        }
    }

    func onRequestHead(_ head: inout HTTPRequest, endStream: Bool, _ ctx: FilterContext) throws -> FilterVerdict {
        let run = takeRun()
        defer { settle(run, ctx) }
        return try run.onRequestHead(&head, endStream: endStream, ctx)
    }

    func onRequestHead(_ head: inout HTTPRequest, receivedFields: ReceivedRequestFields, endStream: Bool, _ ctx: FilterContext) throws -> FilterVerdict {
        let run = takeRun()
        defer { settle(run, ctx) }
        return try run.onRequestHead(&head, receivedFields: receivedFields, endStream: endStream, ctx)
    }

    func onRequestBody(_ chunk: inout ByteBuffer, endStream: Bool, _ ctx: FilterContext) throws -> FilterVerdict {
        guard !waiting.isEmpty, let run = waiting[ObjectIdentifier(ctx)] else { return .proceed }
        return try run.onRequestBody(&chunk, endStream: endStream, ctx)
    }

    func onComplete(_ outcome: StreamOutcome, _ ctx: FilterContext) {
        guard !waiting.isEmpty, let run = waiting.removeValue(forKey: ObjectIdentifier(ctx)) else { return }
        run.onComplete(outcome, ctx)
    }
}
