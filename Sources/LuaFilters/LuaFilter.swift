import CLua
import CLuaShims
import GatewayFilterAPI
import HTTPTypes
import NIOCore

/// A script failed or was stopped; the chain turns it into a 500 (unless the filter fails open).
struct LuaScriptError: Error, CustomStringConvertible {
    var description: String
}

enum LuaPhase: String {
    case request = "on_request"
    case responseHeaders = "on_response_headers"
    case responseBody = "on_response_body"
    case log = "on_log"
}

/// What a yielding API function asked for before it yielded.
enum LuaPending {
    /// Resume with the future's value (gw.sleep, ctx:http_call).
    case wait(EventLoopFuture<LuaResumeValue>)
    /// Resume with the whole request body (ctx.req:body).
    case body(maxBytes: Int)
    /// ctx:respond: the phase is over; the coroutine is dropped.
    case exit
}

/// The values a waiting coroutine is resumed with.
enum LuaResumeValue: Sendable {
    case nothing
    case http(FilterHTTPResponse)
    case failure(String)
}

/// One request's run of a Lua filter: its phases, each in a coroutine of the state the request started on
/// (a reload does not move it). A yield in a phase becomes `.suspend`, and the coroutine is resumed on the
/// same loop when the awaited thing completes.
final class LuaFilter: HTTPFilter {
    let shared: LuaFilterShared
    let state: LuaScriptState
    let eventLoop: EventLoop
    /// The stream, while the filter works for it: a hook, a wait, a background on_log. Cleared otherwise, so
    /// the stream and its filters never keep each other alive.
    var context: FilterContext?
    /// The heads, writable, while a coroutine runs inside a hook or a `modify…Head` edit.
    var requestHead: UnsafeMutablePointer<HTTPRequest>?
    var responseHead: UnsafeMutablePointer<HTTPResponse>?
    var requestBody: UnsafeMutablePointer<ByteBuffer>?
    /// While the request-head hook runs on a request whose fields are still the received lines: header reads
    /// and edits go through it, and `requestHead`'s fields stay empty until `takeReceivedFields()`.
    var receivedFields: ReceivedRequestFields?
    /// The request as the request phase left it, for later phases (read-only there).
    var requestSnapshot: HTTPRequest?
    var finalStatus: Int?
    private(set) var phase = LuaPhase.request
    /// The running (or waiting) coroutine of the current phase.
    private(set) var thread: (thread: OpaquePointer, ref: Int32)?
    private var ticksLeft = 0
    private var phaseStarted: NIODeadline?
    private var deadline: NIODeadline { (phaseStarted ?? .now()) + state.settings.wallClock }
    var pending: LuaPending?
    var reply: FilterLocalReply?
    var requestHasBody = false
    /// Whether this phase's header edits have made room for added fields (see `LuaHeaders.append`).
    var fieldsReserved = false
    var deliveredBody: ByteBuffer?
    var replacementResponseChunk: ByteBuffer?
    private var promise: EventLoopPromise<FilterVerdict>?
    private var waitTimer: Scheduled<Void>?
    private var waitID = 0
    private var streamEnded = false

    init(shared: LuaFilterShared, state: LuaScriptState, eventLoop: EventLoop) {
        self.shared = shared
        self.state = state
        self.eventLoop = eventLoop
    }

    /// Whether a yielding function may yield now: only the phase's own coroutine, in a phase that can wait.
    func canYield(_ L: OpaquePointer) -> Bool {
        guard let thread, thread.thread == L, pc_lua_isyieldable(L) != 0 else { return false }
        return phase != .responseBody
    }

    /// Whether nothing of a request is left in this run: no coroutine, no wait (see `LuaRequestPhaseFilter`).
    var isIdle: Bool { thread == nil && promise == nil && waitTimer == nil }

    /// Spans this run's scripts started and may not have finished (`ctx:start_span`).
    var spanIDs: [Int] = []

    /// Finishes what the script left open: its request's work is over.
    private func finishOpenSpans() {
        guard !spanIDs.isEmpty else { return }
        for id in spanIDs {
            state.spans[id]?.end()
            state.removeSpan(id)
        }
        spanIDs.removeAll(keepingCapacity: true)
    }

    deinit { finishOpenSpans() }

    /// Makes a finished run ready for another request.
    func recycle() {
        finishOpenSpans()
        context = nil
        requestHead = nil
        responseHead = nil
        requestBody = nil
        receivedFields = nil
        requestSnapshot = nil
        finalStatus = nil
        phase = .request
        phaseStarted = nil
        pending = nil
        reply = nil
        requestHasBody = false
        fieldsReserved = false
        deliveredBody = nil
        replacementResponseChunk = nil
        streamEnded = false
    }

    var needsSnapshot: Bool {
        state.onResponseHeaders != Lua.noRef || state.onResponseBody != Lua.noRef || state.onLog != Lua.noRef
    }

    // MARK: - Hooks

    func onRequestHead(_ head: inout HTTPRequest, endStream: Bool, _ ctx: FilterContext) throws -> FilterVerdict {
        guard state.onRequest != Lua.noRef else {
            if needsSnapshot { requestSnapshot = head }
            return .proceed
        }
        context = ctx
        requestHasBody = !endStream
        let step = withUnsafeMutablePointer(to: &head) { pointer in
            requestHead = pointer
            defer { requestHead = nil }
            return start(.request, function: state.onRequest) { _ in 0 }
        }
        if needsSnapshot, case .finished = step { requestSnapshot = head }
        return try verdict(for: step)
    }

    func onRequestHead(_ head: inout HTTPRequest, receivedFields: ReceivedRequestFields, endStream: Bool, _ ctx: FilterContext) throws -> FilterVerdict {
        // Later phases read a snapshot of the request, with its fields: build them now then.
        guard !needsSnapshot else {
            head.headerFields = receivedFields.takeFields()
            return try onRequestHead(&head, endStream: endStream, ctx)
        }
        self.receivedFields = receivedFields
        defer { self.receivedFields = nil }
        return try onRequestHead(&head, endStream: endStream, ctx)
    }

    /// Moves the fields into the request head, for an API call that needs `HTTPFields`.
    func takeReceivedFields() {
        guard let received = receivedFields else { return }
        receivedFields = nil
        requestHead?.pointee.headerFields = received.takeFields()
    }

    func onRequestBody(_ chunk: inout ByteBuffer, endStream: Bool, _ ctx: FilterContext) throws -> FilterVerdict {
        guard case .body(let maxBytes)? = pending, phase == .request, thread != nil else { return .proceed }
        pending = nil
        guard chunk.readableBytes <= maxBytes else {
            abandonThread()
            context = nil
            return .respond(.text(.contentTooLarge, "request body larger than \(maxBytes) bytes"))
        }
        context = ctx
        deliveredBody = chunk
        let body = chunk
        let step = withUnsafeMutablePointer(to: &chunk) { pointer in
            requestBody = pointer
            defer { requestBody = nil }
            return resumeInPhase { L in
                Lua.push(L, body)
                return 1
            }
        }
        guard let step else {
            abandonThread()
            return .proceed
        }
        return try verdict(for: step)
    }

    func onResponseHead(_ head: inout HTTPResponse, endStream: Bool, _ ctx: FilterContext) throws -> FilterVerdict {
        // on_response_body may change the body's size; the response then goes without a length.
        if state.onResponseBody != Lua.noRef { head.headerFields[.contentLength] = nil }
        guard state.onResponseHeaders != Lua.noRef else { return .proceed }
        context = ctx
        let step = withUnsafeMutablePointer(to: &head) { pointer in
            responseHead = pointer
            defer { responseHead = nil }
            return start(.responseHeaders, function: state.onResponseHeaders) { _ in 0 }
        }
        return try verdict(for: step)
    }

    func onResponseBody(_ chunk: inout ByteBuffer, endStream: Bool, _ ctx: FilterContext) throws -> FilterVerdict {
        guard state.onResponseBody != Lua.noRef else { return .proceed }
        context = ctx
        let bytes = chunk
        let step = start(.responseBody, function: state.onResponseBody) { L in
            Lua.push(L, bytes)
            lua_pushboolean(L, endStream ? 1 : 0)
            return 2
        }
        if let replacement = replacementResponseChunk {
            chunk = replacement
            replacementResponseChunk = nil
        }
        return try verdict(for: step)
    }

    func onComplete(_ outcome: StreamOutcome, _ ctx: FilterContext) {
        streamEnded = true
        finalStatus = outcome.status
        if thread != nil { abandonThread() }
        if let promise {
            // The stream no longer listens; the promise still must be completed.
            self.promise = nil
            promise.fail(LuaScriptError(description: "stream ended"))
        }
        guard state.onLog != Lua.noRef else {
            context = nil
            return
        }
        context = ctx
        let step = start(.log, function: state.onLog) { _ in 0 }
        continueInBackground(step)
    }

    // MARK: - Running coroutines

    enum Step {
        case finished
        case waiting
        case failed(LuaErrorKind, String)
    }

    private func start(_ phase: LuaPhase, function: Int32, arguments: (OpaquePointer) -> Int32) -> Step {
        if thread != nil { abandonThread() }
        self.phase = phase
        fieldsReserved = false
        let coroutine = state.acquireThread()
        thread = coroutine
        ticksLeft = state.settings.instructionTicks
        // The clock is read only if the phase waits: until then the instruction budget bounds it.
        phaseStarted = nil
        lua_rawgeti(coroutine.thread, Lua.registry, lua_Integer(function))
        lua_rawgeti(coroutine.thread, Lua.registry, lua_Integer(state.ctxRef))
        let extra = arguments(coroutine.thread)
        lua_rawgeti(coroutine.thread, Lua.registry, lua_Integer(state.confRef))
        return run(nargs: 2 + extra)
    }

    private func run(nargs: Int32) -> Step {
        guard let coroutine = thread else { return .failed(.script, "no coroutine") }
        pending = nil
        let result = state.resume(coroutine.thread, nargs: nargs, ticks: ticksLeft, for: self)
        ticksLeft = result.ticks
        switch result.status {
        case LUA_OK:
            if phase == .responseBody, result.results >= 1 {
                replacementResponseChunk = Lua.bytes(coroutine.thread, -result.results)
            }
            thread = nil
            state.releaseThread(coroutine, reusable: true)
            return .finished
        case LUA_YIELD:
            Lua.pop(coroutine.thread, result.results)
            switch pending {
            case nil:
                abandonThread()
                return .failed(.script, "\(state.script.name): \(phase.rawValue) yielded outside a gw call (coroutine.yield is not available to phase functions)")
            case .exit:
                pending = nil
                abandonThread()
                return .finished
            case .wait, .body:
                return .waiting
            }
        default:
            let message = LuaScriptState.errorText(coroutine.thread, -1)
            thread = nil
            state.releaseThread(coroutine, reusable: false)
            if result.kind == .memory {
                return .failed(.memory, "\(state.script.name): \(phase.rawValue) exceeded the memory limit (\(message))")
            }
            return .failed(result.kind, message)
        }
    }

    /// Resumes the waiting coroutine with the heads writable again (through the context), as the phase allows.
    private func resumeInPhase(_ push: (OpaquePointer) -> Int32) -> Step? {
        guard let ctx = context, let coroutine = thread else { return nil }
        if .now() > deadline { return .failed(.wallClock, wallClockMessage) }
        var step: Step?
        switch phase {
        case .request:
            let needsSnapshot = self.needsSnapshot
            _ = ctx.modifyRequestHead { head in
                withUnsafeMutablePointer(to: &head) { pointer in
                    requestHead = pointer
                    defer { requestHead = nil }
                    step = run(nargs: push(coroutine.thread))
                }
                if needsSnapshot, case .finished? = step { requestSnapshot = head }
            }
        case .responseHeaders:
            _ = ctx.modifyResponseHead { head in
                withUnsafeMutablePointer(to: &head) { pointer in
                    responseHead = pointer
                    defer { responseHead = nil }
                    step = run(nargs: push(coroutine.thread))
                }
            }
        case .responseBody, .log:
            step = run(nargs: push(coroutine.thread))
        }
        return step
    }

    private var wallClockMessage: String {
        "\(state.script.name): \(phase.rawValue) exceeded its wall-clock budget of \(state.settings.wallClock.nanoseconds / 1_000_000) ms"
    }

    /// The hook's answer for a step of the running phase.
    private func verdict(for step: Step) throws -> FilterVerdict {
        switch step {
        case .finished:
            context = nil
            if let reply {
                self.reply = nil
                return .respond(reply)
            }
            return .proceed
        case .waiting:
            switch pending {
            case .body?:
                if phaseStarted == nil { phaseStarted = .now() }
                return .bufferBody
            case .wait(let future)?:
                let promise = eventLoop.makePromise(of: FilterVerdict.self)
                self.promise = promise
                wait(on: future)
                return .suspend(promise.futureResult)
            case .exit?, nil:
                return .proceed
            }
        case .failed(let kind, let message):
            report(kind, message)
            context = nil
            if shared.settings.failOpen { return .proceed }
            throw LuaScriptError(description: message)
        }
    }

    private func wait(on future: EventLoopFuture<LuaResumeValue>) {
        pending = nil
        if phaseStarted == nil { phaseStarted = .now() }
        waitID += 1
        let id = waitID
        let bound = NIOLoopBound(self, eventLoop: eventLoop)
        waitTimer?.cancel()
        waitTimer = eventLoop.scheduleTask(deadline: deadline) { bound.value.wallClockExpired(id) }
        let loop = eventLoop
        future.hop(to: eventLoop).whenComplete { result in
            // Always on a later tick: a future that is already complete (an http_call that failed at once)
            // would otherwise resume the coroutine inside the hook that is still returning `.suspend`,
            // while the stream holds the head it would edit.
            loop.execute {
                switch result {
                case .success(let value): bound.value.waitCompleted(id, value)
                case .failure(let error): bound.value.waitCompleted(id, .failure("\(error)"))
                }
            }
        }
    }

    private func waitCompleted(_ id: Int, _ value: LuaResumeValue) {
        guard id == waitID, thread != nil else { return }
        waitTimer?.cancel()
        waitTimer = nil
        if streamEnded && phase != .log {
            abandonThread()
            return
        }
        let step = resumeInPhase { L in Self.push(value, L) }
        guard let step else {
            // Too late to act on the stream (it ended, or its head is gone): drop the coroutine.
            abandonThread()
            context = nil
            return
        }
        if phase == .log {
            continueInBackground(step)
        } else {
            continueSuspended(step)
        }
    }

    private func wallClockExpired(_ id: Int) {
        guard id == waitID, thread != nil else { return }
        waitID += 1
        abandonThread()
        if phase == .log {
            report(.wallClock, wallClockMessage)
            context = nil
        } else {
            continueSuspended(.failed(.wallClock, wallClockMessage))
        }
    }

    /// The next step of a phase whose hook returned `.suspend`: wait again, or complete the hook's promise.
    private func continueSuspended(_ step: Step) {
        switch step {
        case .waiting:
            switch pending {
            case .wait(let future)?:
                wait(on: future)
                return
            case .body?:
                complete(.bufferBody)
                return
            case .exit?, nil:
                complete(.proceed)
            }
        case .finished:
            let reply = self.reply
            self.reply = nil
            context = nil
            complete(reply.map { .respond($0) } ?? .proceed)
        case .failed(let kind, let message):
            report(kind, message)
            context = nil
            if shared.settings.failOpen {
                complete(.proceed)
            } else {
                let promise = self.promise
                self.promise = nil
                promise?.fail(LuaScriptError(description: message))
            }
        }
    }

    private func complete(_ verdict: FilterVerdict) {
        let promise = self.promise
        self.promise = nil
        promise?.succeed(verdict)
    }

    /// on_log runs after the response: nobody waits for it, so it just goes on until done.
    private func continueInBackground(_ step: Step) {
        switch step {
        case .waiting:
            if case .wait(let future)? = pending {
                wait(on: future)
            } else {
                abandonThread()
                context = nil
            }
        case .finished:
            context = nil
        case .failed(let kind, let message):
            report(kind, message)
            context = nil
        }
    }

    private func abandonThread() {
        waitTimer?.cancel()
        waitTimer = nil
        pending = nil
        guard let coroutine = thread else { return }
        thread = nil
        state.releaseThread(coroutine, reusable: false)
    }

    private func report(_ kind: LuaErrorKind, _ message: String) {
        shared.counters.count(kind)
        LuaLog.emit(level: "error", script: state.script.name, requestID: context?.requestID, traceID: context?.traceID,
                    message: message, extra: [("phase", phase.rawValue), ("kind", kind.rawValue)])
    }

    private static func push(_ value: LuaResumeValue, _ L: OpaquePointer) -> Int32 {
        switch value {
        case .nothing:
            return 0
        case .http(let response):
            LuaContextAPI.pushHTTPResponse(response, L)
            return 1
        case .failure(let message):
            lua_pushnil(L)
            Lua.push(L, message)
            return 2
        }
    }
}
