import CLua
import CLuaShims
import GatewayFilterAPI

/// `ctx:start_span(name [, { kind=, attributes= }])` and the span object it returns: a script's own span, a
/// child of the request's server span, written as one JSON line when it finishes (the same `FilterSpan` a
/// Swift filter gets from `ctx.startSpan`). Inert, and nearly free, when the request is not sampled.
///
/// The userdata carries only an id: the spans live in the state (`LuaScriptState.spans`), owned by the run
/// that started them. A span the script did not finish is finished (status OK) when that run's work for
/// the request is over, so a forgotten `finish` still yields a span and nothing piles up; a span kept in a
/// global past its request does nothing.
enum LuaSpanAPI {
    static let metatable = "portcullis.span"
    /// Spans one run may have started; beyond, `start_span` raises (every list has a limit).
    static let maxSpansPerRun = 64

    static func install(in state: LuaScriptState) {
        let L = state.L
        luaL_newmetatable(L, metatable)
        lua_createtable(L, 0, 4)
        Lua.setFunctions(L, -1, [("set_attribute", setAttribute), ("finish", finish), ("traceparent", traceparent),
                                 ("is_recording", isRecording)])
        Lua.setRawField(L, -2, "__index")
        lua_pushboolean(L, 0)
        Lua.setRawField(L, -2, "__metatable")
        Lua.pop(L, 1)
    }

    static let startSpan: pc_swift_function = { L in
        guard let L else { return 0 }
        let state = LuaScriptState.of(L)
        guard let filter = state.current, let context = filter.context else { return Lua.fail(L, "ctx:start_span: only inside a phase function") }
        guard let name = Lua.string(L, 2), !name.isEmpty, name.utf8.count <= 256 else {
            return Lua.fail(L, "ctx:start_span: bad argument #1 (a name of 1 to 256 bytes expected)")
        }
        let options: Int32 = 3
        let hasOptions = lua_type(L, options) == LUA_TTABLE
        guard hasOptions || Lua.isNoneOrNil(L, options) else { return Lua.fail(L, "ctx:start_span: bad argument #2 (options table expected)") }
        var kind = FilterSpan.Kind.internal
        var parent: FilterSpan?
        if hasOptions {
            switch parentOption(L, options: options) {
            case .failure(let problem): return Lua.fail(L, "ctx:start_span: \(problem.text)")
            case .success(let span): parent = span
            }
            if Lua.rawField(L, options, "kind") != LUA_TNIL {
                switch Lua.string(L, -1) {
                case "internal": kind = .internal
                case "client": kind = .client
                default: return Lua.fail(L, "ctx:start_span: kind must be \"internal\" or \"client\"")
                }
            }
            Lua.pop(L, 1)
        }
        guard filter.spanIDs.count < maxSpansPerRun else {
            return Lua.fail(L, "ctx:start_span: more than \(maxSpansPerRun) spans in one request")
        }
        let span = context.startSpan(name: name, kind: kind, parent: parent)
        let id = state.addSpan(span)
        filter.spanIDs.append(id)
        if hasOptions {
            let attributes = Lua.rawField(L, options, "attributes")
            if attributes == LUA_TTABLE, let problem = setAttributes(L, lua_gettop(L), on: span) { return Lua.fail(L, "ctx:start_span: \(problem)") }
            guard attributes == LUA_TTABLE || attributes == LUA_TNIL else { return Lua.fail(L, "ctx:start_span: attributes must be a table") }
            Lua.pop(L, 1)
        }
        lua_newuserdatauv(L, MemoryLayout<Int>.size, 0)!.storeBytes(of: id, as: Int.self)
        luaL_setmetatable(L, metatable)
        return 1
    }

    /// `span:set_attribute(key, value)`: a string, an integer or a boolean.
    static let setAttribute: pc_swift_function = { L in
        guard let L else { return 0 }
        guard let (_, span) = span(L) else { return Lua.fail(L, "span:set_attribute: not a span (call it as span:set_attribute)") }
        guard let key = Lua.string(L, 2), !key.isEmpty else { return Lua.fail(L, "span:set_attribute: bad argument #1 (key expected)") }
        guard let span else { return 0 }
        if let problem = set(L, key, valueAt: 3, on: span) { return Lua.fail(L, "span:set_attribute: \(problem)") }
        return 0
    }

    /// `span:finish([error])`: ends the span, status OK or, with a message, ERROR. Later calls do nothing.
    static let finish: pc_swift_function = { L in
        guard let L else { return 0 }
        guard let (id, span) = span(L) else { return Lua.fail(L, "span:finish: not a span (call it as span:finish)") }
        guard Lua.isNoneOrNil(L, 2) || lua_type(L, 2) == LUA_TSTRING else {
            return Lua.fail(L, "span:finish: bad argument #1 (error message or nil expected)")
        }
        let error = lua_type(L, 2) == LUA_TSTRING ? Lua.text(L, 2) : nil
        span?.end(error: error)
        LuaScriptState.of(L).removeSpan(id)
        return 0
    }

    /// `span:traceparent()`: the W3C value naming this span as the parent (for work the gateway does not trace
    /// itself; `ctx:http_call` sets its own), or nil.
    static let traceparent: pc_swift_function = { L in
        guard let L else { return 0 }
        guard let (_, span) = span(L) else { return Lua.fail(L, "span:traceparent: not a span (call it as span:traceparent)") }
        Lua.pushOptional(L, span?.traceparent)
        return 1
    }

    /// `span:is_recording()`: whether the span will be written (skip costly attributes when not).
    static let isRecording: pc_swift_function = { L in
        guard let L else { return 0 }
        guard let (_, span) = span(L) else { return Lua.fail(L, "span:is_recording: not a span (call it as span:is_recording)") }
        lua_pushboolean(L, span?.isRecording == true ? 1 : 0)
        return 1
    }

    /// The span userdata at index 1: its id, and the span while it is open (nil once finished or gone).
    private static func span(_ L: OpaquePointer) -> (Int, FilterSpan?)? {
        guard let userdata = luaL_testudata(L, 1, metatable) else { return nil }
        let id = userdata.load(as: Int.self)
        return (id, LuaScriptState.of(L).spans[id])
    }

    /// The `parent` option of `ctx:start_span` and `ctx:http_call` (the options table at `options`): the open
    /// span it names; nil without the option or once that span has ended (the server span is the parent
    /// then); a problem to raise when the value is not a span.
    static func parentOption(_ L: OpaquePointer, options: Int32) -> Result<FilterSpan?, LuaAPIMessage> {
        defer { Lua.pop(L, 1) }
        guard Lua.rawField(L, options, "parent") != LUA_TNIL else { return .success(nil) }
        guard let userdata = luaL_testudata(L, -1, metatable) else { return .failure(LuaAPIMessage(text: "parent must be a span from ctx:start_span")) }
        return .success(LuaScriptState.of(L).spans[userdata.load(as: Int.self)])
    }

    private static func setAttributes(_ L: OpaquePointer, _ table: Int32, on span: FilterSpan) -> String? {
        lua_pushnil(L)
        while lua_next(L, table) != 0 {
            guard lua_type(L, -2) == LUA_TSTRING, let key = Lua.string(L, -2), !key.isEmpty else {
                Lua.pop(L, 2)
                return "attribute keys must be strings"
            }
            if let problem = set(L, key, valueAt: lua_gettop(L), on: span) {
                Lua.pop(L, 2)
                return problem
            }
            Lua.pop(L, 1)
        }
        return nil
    }

    private static func set(_ L: OpaquePointer, _ key: String, valueAt index: Int32, on span: FilterSpan) -> String? {
        switch lua_type(L, index) {
        case LUA_TSTRING:
            span.setAttribute(key, Lua.text(L, index) ?? "")
        case LUA_TBOOLEAN:
            span.setAttribute(key, lua_toboolean(L, index) != 0)
        case LUA_TNUMBER where lua_isinteger(L, index) != 0:
            span.setAttribute(key, Int(lua_tointegerx(L, index, nil)))
        default:
            return "attribute '\(key)' must be a string, an integer or a boolean (got \(Lua.typeName(L, index)))"
        }
        return nil
    }
}
