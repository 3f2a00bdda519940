import NIOCore

/// One filter entry's script on one event loop: the current state, replaced when the file changed (and
/// compiles) or when a memory error left it near its cap. Only its own loop touches it.
final class LuaLoopEngine {
    private let shared: LuaFilterShared
    private var state: LuaScriptState?
    private var version = 0
    /// Whether the next request looks for a new version. A timer sets it `checkInterval` after the request
    /// that cleared it, so the requests in between read no clock; an idle loop arms no timer.
    private var checkDue = true
    /// The shared instance for the current state (see `LuaRequestPhaseFilter`); a new state gets a new one.
    private var requestPhase: LuaRequestPhaseFilter?

    init(shared: LuaFilterShared) {
        self.shared = shared
    }

    /// The state a new request runs on; nil only if the script has never compiled on this loop.
    func stateForRequest(on eventLoop: EventLoop) -> LuaScriptState? {
        if checkDue || state?.poisoned == true {
            if checkDue { armCheck(on: eventLoop) }
            let snapshot = shared.source.latest()
            if snapshot.version != version || state == nil || state?.poisoned == true {
                load(snapshot)
            }
        }
        return state
    }

    /// The instance all requests of `state` share when its script has only `on_request`; nil otherwise.
    func requestPhaseFilter(for state: LuaScriptState, on eventLoop: EventLoop) -> LuaRequestPhaseFilter? {
        if let filter = requestPhase, filter.state === state, filter.eventLoop === eventLoop { return filter }
        guard LuaRequestPhaseFilter.serves(state) else { return nil }
        let filter = LuaRequestPhaseFilter(shared: shared, state: state, eventLoop: eventLoop)
        requestPhase = filter
        return filter
    }

    private func armCheck(on eventLoop: EventLoop) {
        // Off its loop (never on the request path) the engine simply checks every time.
        guard eventLoop.inEventLoop else { return }
        checkDue = false
        // A strong capture: a weak one would give the engine a side table, and every retain of it (one per
        // request, from the thread-local) would take the slow path.
        eventLoop.assumeIsolated().scheduleTask(in: LuaScriptSource.checkInterval) { self.checkDue = true }
    }

    private func load(_ snapshot: LuaScriptSnapshot) {
        let isReload = state != nil && snapshot.version != version
        version = snapshot.version
        do {
            let fresh = try LuaScriptState(script: snapshot, settings: shared.settings)
            if isReload {
                if !fresh.phases.isSubset(of: shared.phases) {
                    LuaLog.emit(level: "warn", script: snapshot.name, requestID: nil,
                                message: "the new version needs hooks the filter did not have at startup (new phase functions); they take effect after a restart")
                }
                if shared.source.firstReload(of: snapshot.version) {
                    LuaLog.emit(level: "info", script: snapshot.name, requestID: nil, message: "reloaded (version \(snapshot.version))")
                }
            }
            state = fresh
            shared.source.compiled(snapshot)
        } catch {
            // Keep the previous version running; say why once per version, not once per loop.
            if shared.source.firstFailure(of: snapshot.version) {
                LuaLog.emit(level: "error", script: snapshot.name, requestID: nil,
                            message: "reload failed, the previous version stays in use: \(error)")
            }
            // This loop may not have caught up with the last version that compiled elsewhere: take that one.
            if let good = shared.source.lastGood, good.version > state?.script.version ?? 0,
               let fresh = try? LuaScriptState(script: good, settings: shared.settings) {
                state = fresh
            } else if let state, state.poisoned, state.script.version == snapshot.version {
                state.poisoned = false
            }
        }
    }
}
