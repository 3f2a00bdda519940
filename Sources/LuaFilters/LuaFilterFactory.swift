import GatewayFilterAPI
import HTTPTypes
import NIOCore
import NIOPosix

/// The typed `lua:` entry.
public struct LuaFilterConfig: Sendable {
    public var script: String
    public var conf: FilterConfigData
    var settings: LuaSettings
    /// `shared: { name: size }`: capacities of `gw.shared` dictionaries.
    public var sharedCapacities: [(name: String, bytes: Int)]
}

/// `lua: { script: lua/ab_route.lua, config: {...}, fail_open: false, budget: {...}, shared: {...} }`:
/// runs a Lua 5.4 script's phase functions for each request. See docs/lua.md.
public struct LuaFilterFactory: HTTPFilterFactory {
    public static let name = "lua"
    let shared: LuaFilterShared

    public static func parseConfig(_ value: any FilterConfigValue, environment: FilterEnvironment) -> LuaFilterConfig? {
        guard let map = value.mapping(allowed: ["script", "config", "fail_open", "budget", "shared"]) else { return nil }
        guard let script = map.required("script")?.nonEmptyString() else { return nil }
        var settings = LuaSettings.defaults
        var valid = true
        if let failOpen = map["fail_open"] {
            if let flag = failOpen.bool() { settings.failOpen = flag } else { valid = false }
        }
        if let budget = map["budget"] {
            guard let limits = budget.mapping(allowed: ["instructions", "wall_time", "memory"]) else { return nil }
            if let node = limits["instructions"] {
                if let count = node.int(min: 1_000, max: 1_000_000_000) { settings.instructions = count } else { valid = false }
            }
            if let node = limits["wall_time"] {
                if let time = node.duration(), time > .zero { settings.wallClock = time } else {
                    node.fail("must be a positive duration")
                    valid = false
                }
            }
            if let node = limits["memory"] {
                if let bytes = node.byteSize(), bytes >= 1 << 20, bytes <= 1 << 32 { settings.memoryBytes = Int(bytes) } else {
                    node.fail("must be between 1m and 4g")
                    valid = false
                }
            }
        }
        var capacities: [(name: String, bytes: Int)] = []
        if let node = map["shared"] {
            guard let pairs = node.pairs() else { return nil }
            for (name, size) in pairs {
                if let bytes = size.byteSize(), bytes >= 1024 { capacities.append((name, Int(bytes))) } else {
                    size.fail("must be a size of at least 1k")
                    valid = false
                }
            }
        }
        guard valid else { return nil }
        return LuaFilterConfig(script: script, conf: map["config"]?.data ?? .null, settings: settings, sharedCapacities: capacities)
    }

    /// Reads and compiles the script once here, so a syntax error, a load-time error or a config that does not
    /// match the script's schema is a config error at startup (and in `portcullis check`).
    public init(config: LuaFilterConfig, environment: FilterEnvironment) throws {
        for (name, bytes) in config.sharedCapacities { _ = LuaSharedDict.named(name, capacity: bytes) }
        let source = try LuaScriptSource(path: config.script, conf: config.conf)
        let probe: LuaScriptState
        do {
            probe = try LuaScriptState(script: source.latest(), settings: config.settings)
        } catch {
            throw FilterConfigError("\(error)")
        }
        source.compiled(probe.script)
        shared = LuaFilterShared(source: source, settings: config.settings, phases: probe.phases)
        LuaFilterCounters.all.withLockedValue { $0[config.script] = shared.counters }
    }

    public var phases: FilterPhases { shared.phases }

    public func makeFilter(on eventLoop: EventLoop) -> any HTTPFilter {
        let engine: LuaLoopEngine
        if let existing = shared.engines.currentValue {
            engine = existing
        } else {
            engine = LuaLoopEngine(shared: shared)
            shared.engines.currentValue = engine
        }
        guard let state = engine.stateForRequest(on: eventLoop) else { return LuaUnavailableFilter(script: shared.source.name) }
        if let filter = engine.requestPhaseFilter(for: state, on: eventLoop) { return filter }
        return LuaFilter(shared: shared, state: state, eventLoop: eventLoop)
    }

    /// This entry's failure counters.
    public var counters: LuaFilterCounters { shared.counters }

    public var exportedCounters: [FilterCounter] {
        let counts = shared.counters.snapshot
        let help = "Lua script invocations stopped, by cause (script error, instruction budget, wall clock, memory)."
        return [("error", counts.scriptErrors), ("instruction_budget", counts.instructionBudget), ("wall_clock", counts.wallClock), ("memory", counts.memory)].map {
            FilterCounter(name: "lua_failures_total", help: help, labels: [("cause", $0.0)], value: $0.1)
        }
    }
}

/// What one `lua:` entry shares across event loops: immutable settings, the script source (locked), and
/// the per-loop engines, found through a thread-local (each event loop is one thread): no lock per request.
final class LuaFilterShared: @unchecked Sendable {
    // @unchecked: `engines` hands each thread its own engine, which only that thread touches.
    let source: LuaScriptSource
    let settings: LuaSettings
    let phases: FilterPhases
    let counters = LuaFilterCounters()
    let engines = ThreadSpecificVariable<LuaLoopEngine>()

    init(source: LuaScriptSource, settings: LuaSettings, phases: FilterPhases) {
        self.source = source
        self.settings = settings
        var phases = phases
        // Later phases read the request as the request phase left it. Every instance hears the stream's end:
        // a phase still waiting then lets go of its coroutine (a shared instance, of that stream's run).
        if !phases.isEmpty { phases.formUnion([.requestHead, .complete]) }
        self.phases = phases
    }
}

/// Stands in when the script never compiled on this loop (it did at startup, so only after a failed
/// rebuild): every request fails with 500, or goes on when failing open.
final class LuaUnavailableFilter: HTTPFilter {
    let script: String
    init(script: String) { self.script = script }

    func onRequestHead(_ head: inout HTTPRequest, endStream: Bool, _ ctx: FilterContext) throws -> FilterVerdict {
        throw LuaScriptError(description: "\(script): no compiled version available")
    }
}
