import CLua
import CLuaShims
import HTTPTypes

/// Header edits shared by `ctx.req` and `ctx.resp`: arguments start at 2 (1 is the object).
enum LuaHeaders {
    /// The field's value, several joined as HTTP says (`; ` for cookies, else `, `). A plain index loop:
    /// `HTTPFields`' own name subscript goes through lazy generic sequences whose type metadata the
    /// runtime looks up on every call, which cost more than the rest of a Lua header read.
    static func value(of name: HTTPField.Name, in fields: HTTPFields) -> String? {
        var found: String?
        var index = fields.startIndex
        while index < fields.endIndex {
            let field = fields[index]
            index += 1
            guard field.name == name else { continue }
            if let first = found {
                found = first + (name == .cookie ? "; " : ", ") + field.value
            } else {
                found = field.value
            }
        }
        return found
    }

    /// Sets `name` to one value: the first field of that name is overwritten in place, later ones removed;
    /// appended when there is none. Same result as `fields[name] = value`, without its generic sequences.
    static func replace(_ name: HTTPField.Name, with value: String, in fields: inout HTTPFields) {
        var index = fields.startIndex
        var replaced = false
        while index < fields.endIndex {
            guard fields[index].name == name else {
                index += 1
                continue
            }
            if replaced {
                fields.remove(at: index)
            } else {
                fields[index] = HTTPField(name: name, value: value)
                replaced = true
                index += 1
            }
        }
        if !replaced { fields.append(HTTPField(name: name, value: value)) }
    }

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
            // A cookie set as one string is split into fields by HTTPFields' own rules.
            if name == .cookie { fields[name] = value } else { replace(name, with: value, in: &fields) }
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
