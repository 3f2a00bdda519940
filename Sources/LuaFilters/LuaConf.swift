import CLua
import CLuaShims
import GatewayFilterAPI

/// The filter entry's `config:` as the `conf` table, and its check against the script's optional `schema`:
///
/// ```lua
/// schema = {
///   header  = { type = "string", required = true },
///   percent = { type = "integer", default = 50 },
///   mode    = { type = "string", one_of = { "strict", "lenient" }, default = "strict" },
/// }
/// ```
/// Types: string, number, integer, boolean, table. Keys the schema does not list are errors (typos).
enum LuaConf {
    static func push(_ data: FilterConfigData, in L: OpaquePointer) {
        switch data {
        case .null: lua_createtable(L, 0, 0)
        default: pushValue(data, in: L)
        }
    }

    private static func pushValue(_ data: FilterConfigData, in L: OpaquePointer) {
        switch data {
        case .null: lua_pushnil(L)
        case .bool(let value): lua_pushboolean(L, value ? 1 : 0)
        case .int(let value): lua_pushinteger(L, lua_Integer(value))
        case .double(let value): lua_pushnumber(L, value)
        case .string(let value): Lua.push(L, value)
        case .list(let items):
            lua_createtable(L, Int32(items.count), 0)
            for (index, item) in items.enumerated() {
                pushValue(item, in: L)
                lua_rawseti(L, -2, lua_Integer(index + 1))
            }
        case .mapping(let pairs):
            lua_createtable(L, 0, Int32(pairs.count))
            for (key, value) in pairs {
                pushValue(value, in: L)
                Lua.setRawField(L, -2, key)
            }
        }
    }

    /// Checks the table at `conf` against `schema` in the table at `module` (if any), filling in defaults.
    static func validate(conf: Int32, schemaOf module: Int32, in L: OpaquePointer) -> [String] {
        let top = lua_gettop(L)
        defer { lua_settop(L, top) }
        let schemaType = Lua.rawField(L, module, "schema")
        if schemaType == LUA_TNIL { return [] }
        guard schemaType == LUA_TTABLE else { return ["schema must be a table"] }
        let schema = lua_gettop(L)
        var errors: [String] = []
        var known: Set<String> = []
        lua_pushnil(L)
        while lua_next(L, schema) != 0 {
            defer { Lua.pop(L, 1) }
            guard let key = Lua.string(L, -2), lua_type(L, -1) == LUA_TTABLE else {
                errors.append("schema entries must be name = { type = ... }")
                continue
            }
            known.insert(key)
            let field = lua_gettop(L)
            Lua.rawField(L, field, "type")
            let type = Lua.string(L, -1) ?? "any"
            Lua.pop(L, 1)
            Lua.rawField(L, field, "required")
            let required = lua_toboolean(L, -1) != 0
            Lua.pop(L, 1)
            let valueType = Lua.rawField(L, conf, key)
            if valueType == LUA_TNIL {
                Lua.pop(L, 1)
                if Lua.rawField(L, field, "default") != LUA_TNIL {
                    Lua.setRawField(L, conf, key)
                } else {
                    Lua.pop(L, 1)
                    if required { errors.append("'\(key)' is required") }
                }
                continue
            }
            let value = lua_gettop(L)
            if let problem = check(L, value, type: type) { errors.append("'\(key)' \(problem)") }
            if Lua.rawField(L, field, "one_of") == LUA_TTABLE {
                let choices = lua_gettop(L)
                var allowed: [String] = []
                var found = false
                var index: lua_Integer = 1
                while lua_rawgeti(L, choices, index) != LUA_TNIL {
                    if lua_rawequal(L, -1, value) != 0 { found = true }
                    allowed.append(Lua.text(L, -1) ?? "?")
                    Lua.pop(L, 1)
                    index += 1
                }
                if !found { errors.append("'\(key)' must be one of \(allowed.joined(separator: ", "))") }
            }
            Lua.pop(L, 2)  // one_of and the value
        }
        lua_pushnil(L)
        while lua_next(L, conf) != 0 {
            if let key = Lua.string(L, -2), !known.contains(key) { errors.append("unknown key '\(key)'") }
            Lua.pop(L, 1)
        }
        return errors
    }

    private static func check(_ L: OpaquePointer, _ index: Int32, type: String) -> String? {
        let actual = lua_type(L, index)
        switch type {
        case "string": return actual == LUA_TSTRING ? nil : "must be a string"
        case "number": return actual == LUA_TNUMBER ? nil : "must be a number"
        case "integer": return Lua.integer(L, index) != nil ? nil : "must be an integer"
        case "boolean": return actual == LUA_TBOOLEAN ? nil : "must be a boolean"
        case "table": return actual == LUA_TTABLE ? nil : "must be a table (a list or a mapping)"
        case "any": return nil
        default: return "has an unknown schema type '\(type)'"
        }
    }
}
