import CLua
import CLuaShims
import GatewayFilterAPI
import HTTPTypes
import NIOCore

/// `ctx`, `ctx.req`, `ctx.resp` and `ctx.vars`: one userdata each per state, made once and reused by every
/// request. They carry no data: the functions act on the state's current request (`LuaScriptState.current`),
/// so a `ctx` kept in a global cannot reach a finished request, and no table is built per request.
enum LuaContextAPI {
    static func install(in state: LuaScriptState) {
        let L = state.L
        // ctx: methods and the three sub-objects behind __index; no fields can be added.
        lua_newuserdatauv(L, 0, 0)
        lua_createtable(L, 0, 3)
        lua_createtable(L, 0, 16)
        let index = lua_gettop(L)
        Lua.setFunctions(L, index, [("respond", respond), ("set_cluster", setCluster), ("set_hash_key", setHashKey), ("http_call", httpCall),
                                    ("request_id", requestID), ("cluster", cluster), ("listener", listener),
                                    ("metadata", metadata), ("tarpit", tarpit), ("start_span", LuaSpanAPI.startSpan)])
        makeObject(L, methods: LuaRequestAPI.methods)
        Lua.setRawField(L, index, "req")
        makeObject(L, methods: LuaResponseAPI.methods)
        Lua.setRawField(L, index, "resp")
        makeVars(L)
        Lua.setRawField(L, index, "vars")
        Lua.setRawField(L, -2, "__index")
        lua_pushboolean(L, 0)
        Lua.setRawField(L, -2, "__metatable")
        lua_setmetatable(L, -2)
        state.setCtxRef(luaL_ref(L, Lua.registry))
    }

    /// An empty userdata whose metatable's __index is a table of `methods`.
    private static func makeObject(_ L: OpaquePointer, methods: [(String, pc_swift_function)]) {
        lua_newuserdatauv(L, 0, 0)
        lua_createtable(L, 0, 2)
        lua_createtable(L, 0, Int32(methods.count))
        Lua.setFunctions(L, -1, methods)
        Lua.setRawField(L, -2, "__index")
        lua_pushboolean(L, 0)
        Lua.setRawField(L, -2, "__metatable")
        lua_setmetatable(L, -2)
    }

    private static func makeVars(_ L: OpaquePointer) {
        lua_newuserdatauv(L, 0, 0)
        lua_createtable(L, 0, 3)
        Lua.setFunctions(L, -1, [("__index", varsGet), ("__newindex", varsSet)])
        lua_pushboolean(L, 0)
        Lua.setRawField(L, -2, "__metatable")
        lua_setmetatable(L, -2)
    }

    /// The request being served, for a function called as `ctx:...`, `ctx.req:...` or `ctx.resp:...`.
    @inline(__always)
    static func filter(_ L: OpaquePointer) -> LuaFilter? {
        LuaScriptState.of(L).current
    }

    // MARK: - ctx methods

    /// `ctx:respond(status [, headers [, body]])`: answer now; the phase ends here.
    static let respond: pc_swift_function = { L in
        guard let L else { return 0 }
        guard let filter = filter(L) else { return Lua.fail(L, "ctx:respond: only inside a phase function") }
        guard filter.phase == .request || filter.phase == .responseHeaders else {
            return Lua.fail(L, "ctx:respond: not available in \(filter.phase.rawValue)")
        }
        guard let code = Lua.integer(L, 2), (200...599).contains(code) else {
            return Lua.fail(L, "ctx:respond: bad argument #1 (a status from 200 to 599 expected)")
        }
        var fields = HTTPFields()
        if lua_type(L, 3) == LUA_TTABLE {
            if let problem = readFields(L, 3, into: &fields) { return Lua.fail(L, "ctx:respond: \(problem)") }
        } else if !Lua.isNoneOrNil(L, 3) {
            return Lua.fail(L, "ctx:respond: bad argument #2 (a table of headers expected)")
        }
        var body: ByteBuffer?
        switch lua_type(L, 4) {
        case LUA_TNONE, LUA_TNIL: body = nil
        case LUA_TSTRING: body = Lua.bytes(L, 4)
        default: return Lua.fail(L, "ctx:respond: bad argument #3 (a string body expected)")
        }
        guard filter.canYield(L) else { return Lua.fail(L, "ctx:respond: call it from the phase function's own coroutine") }
        filter.reply = FilterLocalReply(status: HTTPResponse.Status(code: code), headerFields: fields, body: body)
        filter.pending = .exit
        return Lua.yield
    }

    /// Header fields from a Lua table `{ name = "value" | { "v1", "v2" } }`; returns a problem, or nil.
    static func readFields(_ L: OpaquePointer, _ index: Int32, into fields: inout HTTPFields) -> String? {
        let table = lua_absindex(L, index)
        lua_pushnil(L)
        while lua_next(L, table) != 0 {
            defer { Lua.pop(L, 1) }
            guard let nameText = Lua.string(L, -2), let name = HTTPField.Name(nameText) else {
                Lua.pop(L, 1)
                return "header names must be valid field names"
            }
            if lua_type(L, -1) == LUA_TTABLE {
                var position: lua_Integer = 1
                while lua_rawgeti(L, -1, position) != LUA_TNIL {
                    guard let value = Lua.text(L, -1), HTTPField.isValidValue(value) else {
                        Lua.pop(L, 3)
                        return "bad value for header '\(nameText)'"
                    }
                    fields.append(HTTPField(name: name, value: value))
                    Lua.pop(L, 1)
                    position += 1
                }
                Lua.pop(L, 1)
            } else {
                guard let value = Lua.text(L, -1), HTTPField.isValidValue(value) else {
                    Lua.pop(L, 1)
                    return "bad value for header '\(nameText)'"
                }
                fields.append(HTTPField(name: name, value: value))
            }
        }
        return nil
    }

    /// `ctx:set_cluster(name)`: true if the request now goes to that cluster.
    static let setCluster: pc_swift_function = { L in
        guard let L else { return 0 }
        guard let filter = filter(L), let context = filter.context else { return Lua.fail(L, "ctx:set_cluster: only inside a phase function") }
        guard let name = Lua.string(L, 2) else { return Lua.fail(L, "ctx:set_cluster: bad argument #1 (cluster name expected)") }
        lua_pushboolean(L, context.setCluster(name) ? 1 : 0)
        return 1
    }

    /// `ctx:set_hash_key(key)`: the request's hash key for `ring_hash` / `maglev` and header stickiness,
    /// in place of the cluster's `hash_on`; true if it was in time (in `on_request`).
    static let setHashKey: pc_swift_function = { L in
        guard let L else { return 0 }
        guard let filter = filter(L), let context = filter.context else { return Lua.fail(L, "ctx:set_hash_key: only inside a phase function") }
        guard let key = Lua.text(L, 2) else { return Lua.fail(L, "ctx:set_hash_key: bad argument #1 (string expected)") }
        lua_pushboolean(L, context.setHashKey(key) ? 1 : 0)
        return 1
    }

    /// `ctx:tarpit()`: hands the request to a `tarpit` filter later in the chain (it delays and drips the
    /// answer, under its global cap), as if one of its rules had matched.
    static let tarpit: pc_swift_function = { L in
        guard let L else { return 0 }
        guard let filter = filter(L), let context = filter.context else { return Lua.fail(L, "ctx:tarpit: only inside a phase function") }
        context.metadata[tarpitRequest] = true
        return 0
    }

    /// The tarpit filter's request flag, named without importing its module.
    static let tarpitRequest = FilterMetadataKey<Bool>("tarpit.request")

    static let requestID: pc_swift_function = { L in
        guard let L else { return 0 }
        Lua.pushOptional(L, filter(L)?.context?.requestID)
        return 1
    }

    static let cluster: pc_swift_function = { L in
        guard let L else { return 0 }
        Lua.pushOptional(L, filter(L)?.context?.clusterName)
        return 1
    }

    static let listener: pc_swift_function = { L in
        guard let L else { return 0 }
        Lua.pushOptional(L, filter(L)?.context?.listenerName)
        return 1
    }

    /// `ctx:metadata(name)`: another filter's metadata as text (e.g. `auth.subject`), or nil.
    static let metadata: pc_swift_function = { L in
        guard let L else { return 0 }
        guard let name = Lua.string(L, 2) else { return Lua.fail(L, "ctx:metadata: bad argument #1 (name expected)") }
        Lua.pushOptional(L, filter(L)?.context?.metadata.loggableValue(named: name))
        return 1
    }

    // MARK: - ctx:http_call

    /// `ctx:http_call(cluster, { method=, path=, headers=, body=, timeout_ms=, async= })`: the response as
    /// `{ status=, headers=, body= }`, or nil and a message. The coroutine waits; the loop goes on.
    static let httpCall: pc_swift_function = { L in
        guard let L else { return 0 }
        guard let filter = filter(L), let context = filter.context else { return Lua.fail(L, "ctx:http_call: only inside a phase function") }
        guard let cluster = Lua.string(L, 2) else { return Lua.fail(L, "ctx:http_call: bad argument #1 (cluster name expected)") }
        let options: Int32 = 3
        let hasOptions = lua_type(L, options) == LUA_TTABLE
        guard hasOptions || Lua.isNoneOrNil(L, options) else { return Lua.fail(L, "ctx:http_call: bad argument #2 (options table expected)") }
        var methodText = "GET", path = "/", timeoutMs = 5000.0, async = false
        var authority: String?
        var body: ByteBuffer?
        var fields = HTTPFields()
        var parent: FilterSpan?
        if hasOptions {
            switch LuaSpanAPI.parentOption(L, options: options) {
            case .failure(let problem): return Lua.fail(L, "ctx:http_call: \(problem.text)")
            case .success(let span): parent = span
            }
            if Lua.rawField(L, options, "method") != LUA_TNIL { methodText = Lua.string(L, -1) ?? "" }
            Lua.pop(L, 1)
            if Lua.rawField(L, options, "path") != LUA_TNIL { path = Lua.string(L, -1) ?? "" }
            Lua.pop(L, 1)
            if Lua.rawField(L, options, "host") != LUA_TNIL { authority = Lua.string(L, -1) }
            Lua.pop(L, 1)
            if Lua.rawField(L, options, "timeout_ms") != LUA_TNIL { timeoutMs = Lua.number(L, -1) ?? -1 }
            Lua.pop(L, 1)
            Lua.rawField(L, options, "async")
            async = lua_toboolean(L, -1) != 0
            Lua.pop(L, 1)
            if Lua.rawField(L, options, "body") != LUA_TNIL {
                guard let bytes = Lua.bytes(L, -1) else { return Lua.fail(L, "ctx:http_call: body must be a string") }
                body = bytes
            }
            Lua.pop(L, 1)
            let headersType = Lua.rawField(L, options, "headers")
            if headersType == LUA_TTABLE, let problem = readFields(L, -1, into: &fields) { return Lua.fail(L, "ctx:http_call: \(problem)") }
            Lua.pop(L, 1)
        }
        guard let method = HTTPRequest.Method(methodText) else { return Lua.fail(L, "ctx:http_call: bad method '\(methodText)'") }
        guard path.hasPrefix("/"), path.utf8.allSatisfy({ $0 > 0x20 && $0 < 0x7F }) else { return Lua.fail(L, "ctx:http_call: path must start with '/' and be URL-encoded") }
        guard timeoutMs > 0, timeoutMs.isFinite else { return Lua.fail(L, "ctx:http_call: timeout_ms must be a positive number") }
        let request = HTTPRequest(method: method, scheme: "http", authority: authority, path: path, headerFields: fields)
        let future = context.httpCall(cluster: cluster, request: request, body: body, timeout: .nanoseconds(Int64(timeoutMs * 1_000_000)), parent: parent)
        if async {
            let script = filter.state.script.name
            let requestID = context.requestID
            let traceID = context.traceID
            future.whenFailure { error in
                LuaLog.emit(level: "warn", script: script, requestID: requestID, traceID: traceID,
                            message: "async http_call to '\(cluster)' failed: \(error)")
            }
            lua_pushboolean(L, 1)
            return 1
        }
        guard filter.canYield(L) else { return Lua.fail(L, "ctx:http_call: cannot wait in \(filter.phase.rawValue) or outside the phase's coroutine (use async = true)") }
        filter.pending = .wait(future.map { LuaResumeValue.http($0) })
        return Lua.yield
    }

    static func pushHTTPResponse(_ response: FilterHTTPResponse, _ L: OpaquePointer) {
        lua_createtable(L, 0, 3)
        lua_pushinteger(L, lua_Integer(response.status.code))
        Lua.setRawField(L, -2, "status")
        pushFields(response.headerFields, L)
        Lua.setRawField(L, -2, "headers")
        Lua.push(L, response.body)
        Lua.setRawField(L, -2, "body")
    }

    /// Fields as a table of lower-case names to values (repeated fields joined with ", ").
    static func pushFields(_ fields: HTTPFields, _ L: OpaquePointer) {
        lua_createtable(L, 0, Int32(fields.count))
        var seen: Set<HTTPField.Name> = []
        for field in fields where seen.insert(field.name).inserted {
            Lua.push(L, fields[field.name] ?? field.value)
            Lua.setRawField(L, -2, field.name.canonicalName)
        }
    }

    // MARK: - ctx.vars

    /// Stored as filter metadata named `lua.<key>`: shared by every Lua filter of the request (whatever their
    /// state), and printable in the access log with `access_log: { metadata: [lua.<key>] }`.
    static let varsGet: pc_swift_function = { L in
        guard let L else { return 0 }
        guard let key = Lua.string(L, 2), let context = filter(L)?.context else {
            lua_pushnil(L)
            return 1
        }
        switch context.metadata[LuaVar.key(key)] {
        case .string(let text)?: Lua.push(L, text)
        case .int(let number)?: lua_pushinteger(L, lua_Integer(number))
        case .double(let number)?: lua_pushnumber(L, number)
        case .bool(let flag)?: lua_pushboolean(L, flag ? 1 : 0)
        case nil: lua_pushnil(L)
        }
        return 1
    }

    static let varsSet: pc_swift_function = { L in
        guard let L else { return 0 }
        guard let key = Lua.string(L, 2) else { return Lua.fail(L, "ctx.vars: keys must be strings") }
        guard let context = filter(L)?.context else { return Lua.fail(L, "ctx.vars: only inside a phase function") }
        let value: LuaVar?
        switch lua_type(L, 3) {
        case LUA_TNIL: value = nil
        case LUA_TSTRING: value = Lua.string(L, 3).map { .string($0) }
        case LUA_TBOOLEAN: value = .bool(lua_toboolean(L, 3) != 0)
        case LUA_TNUMBER: value = lua_isinteger(L, 3) != 0 ? .int(Int(lua_tointegerx(L, 3, nil))) : .double(lua_tonumberx(L, 3, nil))
        default: return Lua.fail(L, "ctx.vars: values are strings, numbers or booleans (got a \(Lua.typeName(L, 3)))")
        }
        context.metadata[LuaVar.key(key)] = value
        return 0
    }
}

/// A `ctx.vars` value, kept in the request's filter metadata.
enum LuaVar: CustomStringConvertible {
    case string(String)
    case int(Int)
    case double(Double)
    case bool(Bool)

    static func key(_ name: String) -> FilterMetadataKey<LuaVar> { FilterMetadataKey("lua." + name) }

    var description: String {
        switch self {
        case .string(let text): text
        case .int(let number): String(number)
        case .double(let number): String(number)
        case .bool(let flag): String(flag)
        }
    }
}
