import CLua
import CLuaShims
import GatewayFilterAPI
import HTTPTypes
import NIOCore

/// `ctx.req`: the request. Reads work in every phase (later phases see the request as on_request left it);
/// changes only in on_request.
enum LuaRequestAPI {
    static let methods: [(String, pc_swift_function)] = [
        ("method", method), ("path", path), ("query", query), ("query_arg", queryArg), ("query_args", queryArgs),
        ("authority", authority), ("scheme", scheme), ("client_addr", clientAddress), ("client_ip", clientIP),
        ("tls_sni", tlsSNI), ("tls_subject", tlsSubject), ("tls_sans", tlsSANs),
        ("header", header), ("header_values", headerValues), ("headers", headers),
        ("set_header", setHeader), ("add_header", addHeader), ("remove_header", removeHeader),
        ("set_path", setPath), ("set_query", setQuery), ("set_method", setMethod),
        ("body", body), ("set_body", setBody),
    ]

    /// Runs `read` on the request as the current phase may see it, in place (no copy of the request).
    @inline(__always)
    private static func read<T>(_ L: OpaquePointer, _ read: (borrowing HTTPRequest) -> T) -> T? {
        guard let filter = LuaContextAPI.filter(L) else { return nil }
        if let head = filter.requestHead { return read(head.pointee) }
        if let snapshot = filter.requestSnapshot { return read(snapshot) }
        return nil
    }

    /// `read`, for a function that needs the fields as `HTTPFields` (built first if still received lines).
    @inline(__always)
    private static func readFields<T>(_ L: OpaquePointer, _ read: (borrowing HTTPRequest) -> T) -> T? {
        LuaContextAPI.filter(L)?.takeReceivedFields()
        return Self.read(L, read)
    }

    /// The writable request, or an error message for the caller to raise.
    private static func writable(_ L: OpaquePointer, _ name: String) -> Result<UnsafeMutablePointer<HTTPRequest>, LuaAPIMessage> {
        guard let filter = LuaContextAPI.filter(L) else { return .failure(LuaAPIMessage(text: "ctx.req:\(name): only inside a phase function")) }
        guard let head = filter.requestHead else { return .failure(LuaAPIMessage(text: "ctx.req:\(name): the request can only change in on_request")) }
        return .success(head)
    }

    private static func split(_ target: String?) -> (path: Substring, query: Substring?) {
        let target = target ?? "/"
        guard let mark = target.firstIndex(of: "?") else { return (target[...], nil) }
        return (target[..<mark], target[target.index(after: mark)...])
    }

    static let method: pc_swift_function = { L in
        guard let L else { return 0 }
        Lua.pushOptional(L, read(L) { $0.method.rawValue })
        return 1
    }

    static let path: pc_swift_function = { L in
        guard let L else { return 0 }
        Lua.pushOptional(L, read(L) { String(split($0.path).path) })
        return 1
    }

    static let query: pc_swift_function = { L in
        guard let L else { return 0 }
        Lua.pushOptional(L, read(L) { split($0.path).query.map(String.init) } ?? nil)
        return 1
    }

    static let queryArg: pc_swift_function = { L in
        guard let L else { return 0 }
        guard let name = Lua.string(L, 2) else { return Lua.fail(L, "ctx.req:query_arg: bad argument #1 (name expected)") }
        let query = read(L) { split($0.path).query.map(String.init) } ?? nil
        Lua.pushOptional(L, query.flatMap { LuaQuery.parse($0).first { $0.name == name }?.value })
        return 1
    }

    static let queryArgs: pc_swift_function = { L in
        guard let L else { return 0 }
        let query = read(L) { split($0.path).query.map(String.init) } ?? nil
        let pairs = query.map(LuaQuery.parse) ?? []
        lua_createtable(L, 0, Int32(pairs.count))
        for pair in pairs {
            // The first of repeated names wins, as with query_arg.
            if Lua.rawField(L, -1, pair.name) == LUA_TNIL {
                Lua.pop(L, 1)
                Lua.push(L, pair.value)
                Lua.setRawField(L, -2, pair.name)
            } else {
                Lua.pop(L, 1)
            }
        }
        return 1
    }

    static let authority: pc_swift_function = { L in
        guard let L else { return 0 }
        Lua.pushOptional(L, read(L) { $0.authority } ?? nil)
        return 1
    }

    static let scheme: pc_swift_function = { L in
        guard let L else { return 0 }
        let tls = LuaContextAPI.filter(L)?.context?.tls != nil
        let scheme: String? = read(L) { $0.scheme } ?? nil
        Lua.push(L, scheme ?? (tls ? "https" : "http"))
        return 1
    }

    static let clientAddress: pc_swift_function = { L in
        guard let L else { return 0 }
        Lua.pushOptional(L, LuaContextAPI.filter(L)?.context?.downstreamAddress)
        return 1
    }

    static let clientIP: pc_swift_function = { L in
        guard let L else { return 0 }
        guard let address = LuaContextAPI.filter(L)?.context?.downstreamAddress else {
            lua_pushnil(L)
            return 1
        }
        if address.hasPrefix("["), let close = address.firstIndex(of: "]") {
            Lua.push(L, String(address[address.index(after: address.startIndex)..<close]))
        } else if let colon = address.lastIndex(of: ":") {
            Lua.push(L, String(address[..<colon]))
        } else {
            Lua.push(L, address)
        }
        return 1
    }

    static let tlsSNI: pc_swift_function = { L in
        guard let L else { return 0 }
        Lua.pushOptional(L, LuaContextAPI.filter(L)?.context?.tls?.serverName)
        return 1
    }

    static let tlsSubject: pc_swift_function = { L in
        guard let L else { return 0 }
        Lua.pushOptional(L, LuaContextAPI.filter(L)?.context?.tls?.clientSubject)
        return 1
    }

    static let tlsSANs: pc_swift_function = { L in
        guard let L else { return 0 }
        let sans = LuaContextAPI.filter(L)?.context?.tls?.clientSANs ?? []
        lua_createtable(L, Int32(sans.count), 0)
        for (index, san) in sans.enumerated() {
            Lua.push(L, san)
            lua_rawseti(L, -2, lua_Integer(index + 1))
        }
        return 1
    }

    // MARK: - Headers

    /// The field name at `index`. Scripts pass the same few names on every request, so parsed names are
    /// cached per state by the address of Lua's interned string: no String and no validation per call. The
    /// cached strings are anchored in the registry, so an address can never be reused by another string.
    static func fieldName(_ L: OpaquePointer, _ index: Int32) -> HTTPField.Name? {
        guard lua_type(L, index) == LUA_TSTRING else { return nil }
        var length = 0
        guard let bytes = lua_tolstring(L, index, &length) else { return nil }
        let state = LuaScriptState.of(L)
        let key = UnsafeRawPointer(bytes)
        if let cached = state.cachedFieldName(key) { return cached }
        guard let name = HTTPField.Name(String(decoding: UnsafeRawBufferPointer(start: bytes, count: length), as: UTF8.self)) else { return nil }
        // Only short strings are interned (one object per text); at most a few hundred names per state.
        if length <= 40 && state.fieldNameCount < 512 {
            state.anchor(L, index)
            state.cacheFieldName(key, name)
        }
        return name
    }

    /// `header(name)`: every value of the field joined with ", " (case-insensitive name), or nil.
    static let header: pc_swift_function = { L in
        guard let L else { return 0 }
        guard let name = fieldName(L, 2) else { return Lua.fail(L, "ctx.req:header: bad argument #1 (field name expected)") }
        if let filter = LuaContextAPI.filter(L), let received = filter.receivedFields {
            if LuaHeaders.pushValue(of: name, in: received, L) { return 1 }
            filter.takeReceivedFields()
        }
        if read(L, { LuaHeaders.pushValue(of: name, in: $0.headerFields, L) }) == nil { lua_pushnil(L) }
        return 1
    }

    static let headerValues: pc_swift_function = { L in
        guard let L else { return 0 }
        guard let name = fieldName(L, 2) else { return Lua.fail(L, "ctx.req:header_values: bad argument #1 (field name expected)") }
        LuaHeaders.pushValues(readFields(L) { $0.headerFields[values: name] } ?? [], L)
        return 1
    }

    static let headers: pc_swift_function = { L in
        guard let L else { return 0 }
        LuaContextAPI.pushFields(readFields(L) { $0.headerFields } ?? [:], L)
        return 1
    }

    static let setHeader: pc_swift_function = { L in
        guard let L else { return 0 }
        switch writable(L, "set_header") {
        case .failure(let message): return Lua.fail(L, message.text)
        case .success(let head):
            let filter = LuaContextAPI.filter(L)!
            if let received = filter.receivedFields {
                if let result = LuaHeaders.set(L, received, api: "ctx.req:set_header") { return result }
                filter.takeReceivedFields()
            }
            return LuaHeaders.set(L, &head.pointee.headerFields, api: "ctx.req:set_header", reserved: &filter.fieldsReserved)
        }
    }

    static let addHeader: pc_swift_function = { L in
        guard let L else { return 0 }
        switch writable(L, "add_header") {
        case .failure(let message): return Lua.fail(L, message.text)
        case .success(let head):
            let filter = LuaContextAPI.filter(L)!
            if let received = filter.receivedFields {
                if let result = LuaHeaders.add(L, received, api: "ctx.req:add_header") { return result }
                filter.takeReceivedFields()
            }
            return LuaHeaders.add(L, &head.pointee.headerFields, api: "ctx.req:add_header", reserved: &filter.fieldsReserved)
        }
    }

    static let removeHeader: pc_swift_function = { L in
        guard let L else { return 0 }
        switch writable(L, "remove_header") {
        case .failure(let message): return Lua.fail(L, message.text)
        case .success(let head):
            let filter = LuaContextAPI.filter(L)!
            if let received = filter.receivedFields {
                if let result = LuaHeaders.remove(L, received, api: "ctx.req:remove_header") { return result }
                filter.takeReceivedFields()
            }
            return LuaHeaders.remove(L, &head.pointee.headerFields, api: "ctx.req:remove_header")
        }
    }

    // MARK: - Path, query, method

    /// `set_path(path)`: a new path (starting with "/"), keeping the query.
    static let setPath: pc_swift_function = { L in
        guard let L else { return 0 }
        let head: UnsafeMutablePointer<HTTPRequest>
        switch writable(L, "set_path") {
        case .failure(let message): return Lua.fail(L, message.text)
        case .success(let writable): head = writable
        }
        guard let path = Lua.string(L, 2), path.hasPrefix("/"), !path.contains("?"), LuaQuery.isValidTarget(path) else {
            return Lua.fail(L, "ctx.req:set_path: bad argument #1 (a path starting with '/', URL-encoded, without '?')")
        }
        let query = split(head.pointee.path).query
        head.pointee.path = query.map { path + "?" + $0 } ?? path
        return 0
    }

    /// `set_query(q)`: a new query string, or a table of arguments (encoded, in key order); nil or "" removes it.
    static let setQuery: pc_swift_function = { L in
        guard let L else { return 0 }
        let head: UnsafeMutablePointer<HTTPRequest>
        switch writable(L, "set_query") {
        case .failure(let message): return Lua.fail(L, message.text)
        case .success(let writable): head = writable
        }
        var query: String
        switch lua_type(L, 2) {
        case LUA_TNONE, LUA_TNIL: query = ""
        case LUA_TSTRING:
            query = Lua.string(L, 2) ?? ""
            guard LuaQuery.isValidTarget(query) else { return Lua.fail(L, "ctx.req:set_query: the query must be URL-encoded") }
        case LUA_TTABLE:
            var pairs: [(String, String)] = []
            lua_pushnil(L)
            while lua_next(L, 2) != 0 {
                if let key = Lua.string(L, -2), let value = Lua.text(L, -1) { pairs.append((key, value)) }
                Lua.pop(L, 1)
            }
            query = LuaQuery.encode(pairs.sorted { $0.0 < $1.0 })
        default:
            return Lua.fail(L, "ctx.req:set_query: bad argument #1 (string or table expected)")
        }
        let path = split(head.pointee.path).path
        head.pointee.path = query.isEmpty ? String(path) : path + "?" + query
        return 0
    }

    static let setMethod: pc_swift_function = { L in
        guard let L else { return 0 }
        switch writable(L, "set_method") {
        case .failure(let message): return Lua.fail(L, message.text)
        case .success(let head):
            guard let text = Lua.string(L, 2), let method = HTTPRequest.Method(text) else {
                return Lua.fail(L, "ctx.req:set_method: bad argument #1 (method expected)")
            }
            head.pointee.method = method
            return 0
        }
    }

    // MARK: - Body

    /// The default bound of `ctx.req:body()`; the route's `limits.max_body_bytes` applies too.
    static let defaultMaxBodyBytes = 1 << 20

    /// `body{ max_bytes = n }`: the whole request body as a string ("" when there is none). The coroutine waits
    /// while the gateway collects it; a larger body is answered with 413.
    static let body: pc_swift_function = { L in
        guard let L else { return 0 }
        guard let filter = LuaContextAPI.filter(L) else { return Lua.fail(L, "ctx.req:body: only inside a phase function") }
        guard filter.phase == .request else { return Lua.fail(L, "ctx.req:body: only in on_request") }
        if let delivered = filter.deliveredBody {
            Lua.push(L, delivered)
            return 1
        }
        var maxBytes = defaultMaxBodyBytes
        if lua_type(L, 2) == LUA_TTABLE {
            if Lua.rawField(L, 2, "max_bytes") != LUA_TNIL {
                guard let value = Lua.integer(L, -1), value >= 0 else { return Lua.fail(L, "ctx.req:body: max_bytes must be a non-negative integer") }
                maxBytes = value
            }
            Lua.pop(L, 1)
        }
        filter.takeReceivedFields()
        let declared = filter.requestHead?.pointee.headerFields[.contentLength].flatMap { Int($0) }
        if !filter.requestHasBody || declared == 0 {
            Lua.push(L, "")
            return 1
        }
        guard filter.canYield(L) else { return Lua.fail(L, "ctx.req:body: call it from the phase function's own coroutine") }
        if let declared, declared > maxBytes {
            filter.reply = .text(.contentTooLarge, "request body larger than \(maxBytes) bytes")
            filter.pending = .exit
            return Lua.yield
        }
        filter.pending = .body(maxBytes: maxBytes)
        return Lua.yield
    }

    /// `set_body(s)`: replaces the body read with `body()`; goes upstream with its new length.
    static let setBody: pc_swift_function = { L in
        guard let L else { return 0 }
        guard let filter = LuaContextAPI.filter(L), let body = filter.requestBody else {
            return Lua.fail(L, "ctx.req:set_body: call it after ctx.req:body(), before the next wait")
        }
        guard let bytes = Lua.bytes(L, 2) else { return Lua.fail(L, "ctx.req:set_body: bad argument #1 (string expected)") }
        body.pointee = bytes
        filter.deliveredBody = bytes
        return 0
    }
}

/// An API misuse to report to the script.
struct LuaAPIMessage: Error {
    var text: String
}
