import CLua
import CLuaShims
import HTTPTypes

/// Header edits shared by `ctx.req` and `ctx.resp`: arguments start at 2 (1 is the object).
enum LuaHeaders {
    /// `set_header(name, value)`: replaces every value; a nil value removes the field; a table sets several.
    static func set(_ L: OpaquePointer, _ fields: inout HTTPFields, api: String) -> Int32 {
        guard let name = LuaRequestAPI.fieldName(L, 2) else { return Lua.fail(L, "\(api): bad argument #1 (field name expected)") }
        switch lua_type(L, 3) {
        case LUA_TNIL:
            fields[name] = nil
        case LUA_TTABLE:
            var values: [String] = []
            var index: lua_Integer = 1
            while lua_rawgeti(L, 3, index) != LUA_TNIL {
                guard let value = Lua.text(L, -1), HTTPField.isValidValue(value) else { return Lua.fail(L, "\(api): invalid field value") }
                values.append(value)
                Lua.pop(L, 1)
                index += 1
            }
            Lua.pop(L, 1)
            fields[values: name] = values
        default:
            guard let value = Lua.text(L, 3), HTTPField.isValidValue(value) else { return Lua.fail(L, "\(api): bad argument #2 (a valid field value expected)") }
            fields[name] = value
        }
        return 0
    }

    static func add(_ L: OpaquePointer, _ fields: inout HTTPFields, api: String) -> Int32 {
        guard let name = LuaRequestAPI.fieldName(L, 2) else { return Lua.fail(L, "\(api): bad argument #1 (field name expected)") }
        guard let value = Lua.text(L, 3), HTTPField.isValidValue(value) else { return Lua.fail(L, "\(api): bad argument #2 (a valid field value expected)") }
        fields.append(HTTPField(name: name, value: value))
        return 0
    }

    static func remove(_ L: OpaquePointer, _ fields: inout HTTPFields, api: String) -> Int32 {
        guard let name = LuaRequestAPI.fieldName(L, 2) else { return Lua.fail(L, "\(api): bad argument #1 (field name expected)") }
        fields[name] = nil
        return 0
    }

    static func pushValues(_ values: [String], _ L: OpaquePointer) {
        lua_createtable(L, Int32(values.count), 0)
        for (index, value) in values.enumerated() {
            Lua.push(L, value)
            lua_rawseti(L, -2, lua_Integer(index + 1))
        }
    }
}
