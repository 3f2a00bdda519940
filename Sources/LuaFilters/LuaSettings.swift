import CLuaShims
import GatewayFilterAPI
import NIOCore

/// The limits one `lua` filter entry runs its script under.
struct LuaSettings: Sendable {
    /// Instructions per phase invocation, across its yields.
    var instructions: Int
    /// Wall-clock time per phase invocation, across its yields (sleeps, calls).
    var wallClock: TimeAmount
    /// Bytes per `lua_State` (one per event loop).
    var memoryBytes: Int
    /// On a script error or budget stop: let the request go on instead of answering 500.
    var failOpen: Bool

    static let defaults = LuaSettings(instructions: 1_000_000, wallClock: .seconds(5), memoryBytes: 32 << 20, failOpen: false)

    /// The count hook runs every `PC_LUA_TICK` instructions.
    var instructionTicks: Int { max(1, instructions / Int(PC_LUA_TICK)) }
}

/// A script's text at one version, with what a state needs to load it.
struct LuaScriptSnapshot: Sendable {
    /// As configured (`lua/ab_route.lua`): used in chunk names, so errors read `lua/ab_route.lua:12: ...`.
    var name: String
    var text: String
    var version: Int
    /// Where `require` looks: the `lib/` folder next to the script.
    var libraryDirectory: String
    var conf: FilterConfigData
}
