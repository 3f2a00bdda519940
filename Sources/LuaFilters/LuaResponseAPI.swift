import CLua
import CLuaShims
import HTTPTypes

/// `ctx.resp`: the response head, in on_response_headers (writable); `status()` also in on_log.
enum LuaResponseAPI {
    static let methods: [(String, pc_swift_function)] = [
        ("status", status), ("set_status", setStatus),
        ("header", header), ("header_values", headerValues), ("headers", headers),
        ("set_header", setHeader), ("add_header", addHeader), ("remove_header", removeHeader),
    ]

    private static func head(_ L: OpaquePointer) -> UnsafeMutablePointer<HTTPResponse>? {
        LuaContextAPI.filter(L)?.responseHead
    }

    static let status: pc_swift_function = { L in
        guard let L else { return 0 }
        if let head = head(L) {
            lua_pushinteger(L, lua_Integer(head.pointee.status.code))
        } else if let status = LuaContextAPI.filter(L)?.finalStatus {
            lua_pushinteger(L, lua_Integer(status))
        } else {
            lua_pushnil(L)
        }
        return 1
    }

    static let setStatus: pc_swift_function = { L in
        guard let L else { return 0 }
        guard let head = head(L) else { return Lua.fail(L, "ctx.resp:set_status: only in on_response_headers") }
        guard let code = Lua.integer(L, 2), (200...599).contains(code) else { return Lua.fail(L, "ctx.resp:set_status: bad argument #1 (200 to 599)") }
        head.pointee.status = HTTPResponse.Status(code: code)
        return 0
    }

    static let header: pc_swift_function = { L in
        guard let L else { return 0 }
        guard let name = LuaRequestAPI.fieldName(L, 2) else { return Lua.fail(L, "ctx.resp:header: bad argument #1 (field name expected)") }
        if let head = head(L) { LuaHeaders.pushValue(of: name, in: head.pointee.headerFields, L) } else { lua_pushnil(L) }
        return 1
    }

    static let headerValues: pc_swift_function = { L in
        guard let L else { return 0 }
        guard let name = LuaRequestAPI.fieldName(L, 2) else { return Lua.fail(L, "ctx.resp:header_values: bad argument #1 (field name expected)") }
        LuaHeaders.pushValues(head(L)?.pointee.headerFields[values: name] ?? [], L)
        return 1
    }

    static let headers: pc_swift_function = { L in
        guard let L else { return 0 }
        LuaContextAPI.pushFields(head(L)?.pointee.headerFields ?? [:], L)
        return 1
    }

    static let setHeader: pc_swift_function = { L in
        guard let L else { return 0 }
        guard let filter = LuaContextAPI.filter(L), let head = filter.responseHead else { return Lua.fail(L, "ctx.resp:set_header: only in on_response_headers") }
        return LuaHeaders.set(L, &head.pointee.headerFields, api: "ctx.resp:set_header", reserved: &filter.fieldsReserved)
    }

    static let addHeader: pc_swift_function = { L in
        guard let L else { return 0 }
        guard let filter = LuaContextAPI.filter(L), let head = filter.responseHead else { return Lua.fail(L, "ctx.resp:add_header: only in on_response_headers") }
        return LuaHeaders.add(L, &head.pointee.headerFields, api: "ctx.resp:add_header", reserved: &filter.fieldsReserved)
    }

    static let removeHeader: pc_swift_function = { L in
        guard let L else { return 0 }
        guard let head = head(L) else { return Lua.fail(L, "ctx.resp:remove_header: only in on_response_headers") }
        return LuaHeaders.remove(L, &head.pointee.headerFields, api: "ctx.resp:remove_header")
    }
}
