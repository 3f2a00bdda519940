import CLua
import CLuaShims
import NIOCore

/// The `gw` table's Swift functions: sleep, shared, log; plus `require`'s loader and `print`. The pure
/// functions (base64, hex, sha256, hmac, now, json) are C (CLuaShims/codecs.c, json.c).
///
/// Every function here runs behind the C trampoline: it reports errors by returning `Lua.fail(...)`
/// and never calls a raising Lua API.
enum LuaGatewayAPI {
    static let sharedMetatable = "portcullis.shared"

    static func install(in state: LuaScriptState) {
        let L = state.L
        let gw = lua_gettop(L)
        Lua.setFunctions(L, gw, [("sleep", sleep), ("shared", shared)])
        lua_createtable(L, 0, 3)
        Lua.setFunctions(L, -1, [("info", logInfo), ("warn", logWarn), ("err", logError)])
        Lua.setRawField(L, gw, "log")

        // The dictionaries' methods, and a per-state cache of their userdata by name.
        luaL_newmetatable(L, sharedMetatable)
        lua_createtable(L, 0, 6)
        Lua.setFunctions(L, -1, [("get", dictGet), ("set", dictSet), ("add", dictAdd), ("incr", dictIncr),
                                 ("delete", dictDelete), ("count", dictCount)])
        Lua.setRawField(L, -2, "__index")
        lua_pushboolean(L, 0)
        Lua.setRawField(L, -2, "__metatable")
        Lua.pop(L, 1)
        lua_createtable(L, 0, 4)
        state.sharedDictRef = luaL_ref(L, Lua.registry)
    }

    // MARK: - gw.sleep

    static let sleep: pc_swift_function = { L in
        guard let L else { return 0 }
        guard let filter = LuaScriptState.of(L).current else { return Lua.fail(L, "gw.sleep: only inside a phase function") }
        guard let ms = Lua.number(L, 1), ms >= 0, ms.isFinite else { return Lua.fail(L, "gw.sleep: bad argument #1 (milliseconds expected)") }
        guard filter.canYield(L) else { return Lua.fail(L, "gw.sleep: cannot wait in \(filter.phase.rawValue) or outside the phase's coroutine") }
        let delay = TimeAmount.nanoseconds(Int64(min(ms, 86_400_000) * 1_000_000))
        filter.pending = .wait(filter.eventLoop.scheduleTask(in: delay) { LuaResumeValue.nothing }.futureResult)
        return Lua.yield
    }

    // MARK: - gw.log

    static let logInfo: pc_swift_function = { L in L.map { log($0, "info") } ?? 0 }
    static let logWarn: pc_swift_function = { L in L.map { log($0, "warn") } ?? 0 }
    static let logError: pc_swift_function = { L in L.map { log($0, "error") } ?? 0 }
    static let print: pc_swift_function = { L in L.map { log($0, "info") } ?? 0 }

    private static func log(_ L: OpaquePointer, _ level: String) -> Int32 {
        let state = LuaScriptState.of(L)
        var parts: [String] = []
        for index in 1...max(1, lua_gettop(L)) where index <= lua_gettop(L) {
            switch lua_type(L, index) {
            case LUA_TSTRING, LUA_TNUMBER: parts.append(Lua.text(L, index) ?? "")
            case LUA_TBOOLEAN: parts.append(lua_toboolean(L, index) != 0 ? "true" : "false")
            case LUA_TNIL: parts.append("nil")
            default: parts.append(Lua.typeName(L, index))
            }
        }
        let context = state.current?.context
        LuaLog.emit(level: level, script: state.script.name, requestID: context?.requestID, traceID: context?.traceID,
                    message: parts.joined(separator: " "))
        return 0
    }

    // MARK: - require's loader

    /// `__loadlib(name)`: the chunk of `lib/<name>.lua` next to the script (dots are folders), or nil and a
    /// message. Names are letters, digits and `_` between dots: no `..`, no absolute paths.
    static let loadLibrary: pc_swift_function = { L in
        guard let L else { return 0 }
        let state = LuaScriptState.of(L)
        guard let name = Lua.string(L, 1), isModuleName(name) else {
            lua_pushnil(L)
            Lua.push(L, "require: module names are letters, digits and '_' separated by dots, found in lib/")
            return 2
        }
        let relative = name.split(separator: ".").joined(separator: "/") + ".lua"
        let path = state.script.libraryDirectory + "/" + relative
        guard let (text, _) = LuaScriptSource.read(path) else {
            lua_pushnil(L)
            Lua.push(L, "module '\(name)' not found in \(state.script.libraryDirectory)/")
            return 2
        }
        guard state.load(text, chunkName: "@" + path, onto: L) else {
            let message = LuaScriptState.errorText(L, -1)
            Lua.pop(L, 1)
            lua_pushnil(L)
            Lua.push(L, message)
            return 2
        }
        return 1
    }

    static func isModuleName(_ name: String) -> Bool {
        guard !name.isEmpty, name.utf8.count <= 128 else { return false }
        return name.split(separator: ".", omittingEmptySubsequences: false).allSatisfy { part in
            !part.isEmpty && part.utf8.allSatisfy { ($0 >= 0x30 && $0 <= 0x39) || ($0 >= 0x41 && $0 <= 0x5A) || ($0 >= 0x61 && $0 <= 0x7A) || $0 == 0x5F }
        }
    }

    // MARK: - gw.shared

    static let shared: pc_swift_function = { L in
        guard let L else { return 0 }
        let state = LuaScriptState.of(L)
        guard let name = Lua.string(L, 1), !name.isEmpty else { return Lua.fail(L, "gw.shared: bad argument #1 (name expected)") }
        lua_rawgeti(L, Lua.registry, lua_Integer(state.sharedDictRef))
        if Lua.rawField(L, -1, name) == LUA_TUSERDATA { return 1 }
        Lua.pop(L, 1)
        state.sharedDicts.append(LuaSharedDict.named(name))
        let userdata = lua_newuserdatauv(L, MemoryLayout<Int>.size, 0)!
        userdata.storeBytes(of: state.sharedDicts.count - 1, as: Int.self)
        luaL_setmetatable(L, sharedMetatable)
        lua_pushvalue(L, -1)
        Lua.setRawField(L, -3, name)
        return 1
    }

    private static func dict(_ L: OpaquePointer) -> LuaSharedDict? {
        guard let userdata = luaL_testudata(L, 1, sharedMetatable) else { return nil }
        let index = userdata.load(as: Int.self)
        let dicts = LuaScriptState.of(L).sharedDicts
        return index < dicts.count ? dicts[index] : nil
    }

    private static func key(_ L: OpaquePointer, _ index: Int32) -> String? { Lua.text(L, index) }

    private static func value(_ L: OpaquePointer, _ index: Int32) -> LuaSharedValue? {
        switch lua_type(L, index) {
        case LUA_TSTRING: return Lua.string(L, index).map { .string($0) }
        case LUA_TBOOLEAN: return .bool(lua_toboolean(L, index) != 0)
        case LUA_TNUMBER:
            if lua_isinteger(L, index) != 0 { return .int(Int(lua_tointegerx(L, index, nil))) }
            return .double(lua_tonumberx(L, index, nil))
        default: return nil
        }
    }

    static func push(_ value: LuaSharedValue, _ L: OpaquePointer) {
        switch value {
        case .string(let text): Lua.push(L, text)
        case .int(let number): lua_pushinteger(L, lua_Integer(number))
        case .double(let number): lua_pushnumber(L, number)
        case .bool(let flag): lua_pushboolean(L, flag ? 1 : 0)
        }
    }

    /// A TTL in seconds (fractions allowed); nil or 0 means none.
    private static func ttl(_ L: OpaquePointer, _ index: Int32) -> TimeAmount?? {
        if lua_type(L, index) <= LUA_TNIL { return .some(nil) }
        guard let seconds = Lua.number(L, index), seconds >= 0, seconds.isFinite else { return nil }
        return .some(seconds == 0 ? nil : .nanoseconds(Int64(seconds * 1e9)))
    }

    private static func pushFailure(_ L: OpaquePointer, _ first: Bool?, _ message: String) -> Int32 {
        if let first { lua_pushboolean(L, first ? 1 : 0) } else { lua_pushnil(L) }
        Lua.push(L, message)
        return 2
    }

    static let dictGet: pc_swift_function = { L in
        guard let L else { return 0 }
        guard let dict = dict(L), let key = key(L, 2) else { return Lua.fail(L, "usage: dict:get(key)") }
        if let value = dict.get(key) { push(value, L) } else { lua_pushnil(L) }
        return 1
    }

    static let dictSet: pc_swift_function = { L in L.map { store($0, onlyIfMissing: false) } ?? 0 }
    static let dictAdd: pc_swift_function = { L in L.map { store($0, onlyIfMissing: true) } ?? 0 }

    private static func store(_ L: OpaquePointer, onlyIfMissing: Bool) -> Int32 {
        let usage = onlyIfMissing ? "usage: dict:add(key, value [, ttl_seconds])" : "usage: dict:set(key, value [, ttl_seconds])"
        guard let dict = dict(L), let key = key(L, 2), let ttl = ttl(L, 4) else { return Lua.fail(L, usage) }
        if lua_type(L, 3) == LUA_TNIL && !onlyIfMissing {
            dict.delete(key)
            lua_pushboolean(L, 1)
            return 1
        }
        guard let value = value(L, 3) else { return Lua.fail(L, usage + " (values are strings, numbers or booleans)") }
        switch dict.store(key, value, ttl: ttl, onlyIfMissing: onlyIfMissing) {
        case .stored:
            lua_pushboolean(L, 1)
            return 1
        case .exists: return pushFailure(L, false, "exists")
        case .noMemory: return pushFailure(L, false, "no memory")
        }
    }

    static let dictIncr: pc_swift_function = { L in
        guard let L else { return 0 }
        let usage = "usage: dict:incr(key, delta [, init [, init_ttl_seconds]])"
        guard let dict = dict(L), let key = key(L, 2), lua_type(L, 3) == LUA_TNUMBER, let delta = value(L, 3),
              let ttl = ttl(L, 5) else { return Lua.fail(L, usage) }
        var initial: LuaSharedValue?
        if lua_type(L, 4) != LUA_TNIL {
            guard lua_type(L, 4) == LUA_TNUMBER else { return Lua.fail(L, usage) }
            initial = value(L, 4)
        }
        switch dict.increment(key, by: delta, initial: initial, initialTTL: ttl) {
        case .value(let sum):
            push(sum, L)
            return 1
        case .notFound: return pushFailure(L, nil, "not found")
        case .notANumber: return pushFailure(L, nil, "not a number")
        case .noMemory: return pushFailure(L, nil, "no memory")
        }
    }

    static let dictDelete: pc_swift_function = { L in
        guard let L else { return 0 }
        guard let dict = dict(L), let key = key(L, 2) else { return Lua.fail(L, "usage: dict:delete(key)") }
        dict.delete(key)
        return 0
    }

    static let dictCount: pc_swift_function = { L in
        guard let L else { return 0 }
        guard let dict = dict(L) else { return Lua.fail(L, "usage: dict:count()") }
        lua_pushinteger(L, lua_Integer(dict.count()))
        return 1
    }
}
