import CLua
import CLuaShims
import GatewayFilterAPI
import HTTPTypes

/// Header edits shared by `ctx.req` and `ctx.resp`: arguments start at 2 (1 is the object).
///
/// These run a few times per request for most scripts, so they avoid `HTTPFields`' slower paths: its name
/// subscript goes through lazy generic sequences, and `HTTPField.Name ==` is an out-of-line call. Values
/// move between Lua and the fields as bytes where they can.
enum LuaHeaders {
    /// Name equality (canonical names), with the length compared first: most names in a request differ in
    /// length, and that test is inline (a small string keeps its count in the string itself).
    @inline(__always)
    static func same(_ a: HTTPField.Name, _ b: HTTPField.Name) -> Bool {
        a.canonicalName.utf8.count == b.canonicalName.utf8.count && a.canonicalName == b.canonicalName
    }

    /// The field's value, several joined as HTTP says (`; ` for cookies, else `, `). A plain index loop.
    static func value(of name: HTTPField.Name, in fields: HTTPFields) -> String? {
        var found: String?
        var index = fields.startIndex
        while index < fields.endIndex {
            let field = fields[index]
            index += 1
            guard same(field.name, name) else { continue }
            if let first = found {
                found = first + (name == .cookie ? "; " : ", ") + field.value
            } else {
                found = field.value
            }
        }
        return found
    }

    /// Pushes `value(of:in:)` (or nil). The common single ASCII field goes onto the stack from its bytes, with
    /// no String made for it.
    static func pushValue(of name: HTTPField.Name, in fields: HTTPFields, _ L: OpaquePointer) {
        var index = fields.startIndex
        while index < fields.endIndex {
            let field = fields[index]
            index += 1
            guard same(field.name, name) else { continue }
            var later = index
            while later < fields.endIndex, !same(fields[later].name, name) { later += 1 }
            if later < fields.endIndex {
                // Repeated: rare; join as Strings.
                Lua.pushOptional(L, value(of: name, in: fields))
            } else {
                let pushed = field.withUnsafeBytesOfValue { bytes in
                    // Non-ASCII goes through `value` (UTF-8, invalid sequences repaired), as every other read does.
                    guard !bytes.contains(where: { $0 >= 0x80 }) else { return false }
                    _ = lua_pushlstring(L, UnsafeRawPointer(bytes.baseAddress)?.assumingMemoryBound(to: CChar.self), bytes.count)
                    return true
                }
                if !pushed { Lua.push(L, field.value) }
            }
            return
        }
        lua_pushnil(L)
    }

    /// `pushValue` for fields still held as received lines (`ReceivedRequestFields`): false, with nothing
    /// pushed, when they cannot answer for this name or a value is not ASCII (the caller takes the fields).
    static func pushValue(of name: HTTPField.Name, in received: ReceivedRequestFields, _ L: OpaquePointer) -> Bool {
        var count = 0
        var ascii = true
        var joined: [UInt8] = []
        let answered = received.forEachValue(of: name) { bytes in
            guard ascii else { return }
            guard !bytes.contains(where: { $0 >= 0x80 }) else {
                ascii = false
                return
            }
            count += 1
            if count == 1 {
                _ = lua_pushlstring(L, bytes.baseAddress?.assumingMemoryBound(to: CChar.self), bytes.count)
                return
            }
            if count == 2 {
                // Repeated (rare): join the values, the first taken back off the stack.
                var length = 0
                let first = lua_tolstring(L, -1, &length)
                joined.append(contentsOf: UnsafeRawBufferPointer(start: first, count: length))
                Lua.pop(L, 1)
            }
            joined.append(contentsOf: ", ".utf8)
            joined.append(contentsOf: bytes)
        }
        guard answered, ascii else {
            if count == 1 { Lua.pop(L, 1) }
            return false
        }
        if count == 0 {
            lua_pushnil(L)
        } else if count > 1 {
            joined.withUnsafeBytes { _ = lua_pushlstring(L, $0.baseAddress?.assumingMemoryBound(to: CChar.self), $0.count) }
        }
        return true
    }

    /// `set` for fields still held as received lines: nil when they cannot take this name (nothing done;
    /// the caller takes the fields and edits those).
    static func set(_ L: OpaquePointer, _ received: ReceivedRequestFields, api: String) -> Int32? {
        guard let name = LuaRequestAPI.fieldName(L, 2) else { return Lua.fail(L, "\(api): bad argument #1 (field name expected)") }
        switch lua_type(L, 3) {
        case LUA_TNIL:
            return received.remove(name) ? 0 : nil
        case LUA_TTABLE:
            var fields: [HTTPField] = []
            var index: lua_Integer = 1
            while lua_rawgeti(L, 3, index) != LUA_TNIL {
                guard let value = Lua.text(L, -1), HTTPField.isValidValue(value) else { return Lua.fail(L, "\(api): invalid field value") }
                fields.append(HTTPField(name: name, value: value))
                Lua.pop(L, 1)
                index += 1
            }
            Lua.pop(L, 1)
            guard received.remove(name) else { return nil }
            for field in fields { _ = received.append(field) }
            return 0
        default:
            if let value = plainValue(L, 3) { return received.replace(name, plainValue: value) ? 0 : nil }
            guard let field = field(L, 3, name: name, nameAt: 2) else { return Lua.fail(L, "\(api): bad argument #2 (a valid field value expected)") }
            return received.replace(with: field) ? 0 : nil
        }
    }

    static func add(_ L: OpaquePointer, _ received: ReceivedRequestFields, api: String) -> Int32? {
        guard let name = LuaRequestAPI.fieldName(L, 2) else { return Lua.fail(L, "\(api): bad argument #1 (field name expected)") }
        if let value = plainValue(L, 3) { return received.append(name, plainValue: value) ? 0 : nil }
        guard let field = field(L, 3, name: name, nameAt: 2) else { return Lua.fail(L, "\(api): bad argument #2 (a valid field value expected)") }
        return received.append(field) ? 0 : nil
    }

    /// The string at `index` as bytes, if they are a field value as they are (`HTTPFieldBytes.isPlainValue`):
    /// received lines take those without an `HTTPField` being made. The bytes stay valid while the string
    /// is on the stack.
    @inline(__always)
    static func plainValue(_ L: OpaquePointer, _ index: Int32) -> UnsafeRawBufferPointer? {
        guard lua_type(L, index) == LUA_TSTRING else { return nil }
        var length = 0
        guard let pointer = lua_tolstring(L, index, &length) else { return nil }
        let bytes = UnsafeRawBufferPointer(start: pointer, count: length)
        return HTTPFieldBytes.isPlainValue(bytes) ? bytes : nil
    }

    static func remove(_ L: OpaquePointer, _ received: ReceivedRequestFields, api: String) -> Int32? {
        guard let name = LuaRequestAPI.fieldName(L, 2) else { return Lua.fail(L, "\(api): bad argument #1 (field name expected)") }
        return received.remove(name) ? 0 : nil
    }

    /// Appends one field. The first append of a phase makes room for a few more at once: a parsed head's
    /// fields have no spare capacity, and each growth copies them all. (`append` reaches a specialized
    /// `replaceSubrange`; calling `replaceSubrange` from here would take its unspecialized generic entry.)
    @inline(__always)
    static func append(_ field: HTTPField, to fields: inout HTTPFields, reserved: inout Bool) {
        if !reserved {
            reserved = true
            fields.reserveCapacity(fields.count + 6)
        }
        fields.append(field)
    }

    /// Sets `name` to one value: the first field of that name is overwritten in place, later ones removed;
    /// appended when there is none. Same result as `fields[name] = value`.
    static func replace(_ name: HTTPField.Name, with value: String, in fields: inout HTTPFields) {
        var reserved = true
        replace(HTTPField(name: name, value: value), in: &fields, reserved: &reserved)
    }

    static func replace(_ field: HTTPField, in fields: inout HTTPFields, reserved: inout Bool) {
        let name = field.name
        var index = fields.startIndex
        var replaced = false
        while index < fields.endIndex {
            guard same(fields[index].name, name) else {
                index += 1
                continue
            }
            if replaced {
                fields.remove(at: index)
            } else {
                fields[index] = field
                replaced = true
                index += 1
            }
        }
        if !replaced { append(field, to: &fields, reserved: &reserved) }
    }

    /// The value at `index` as a field of `name`, or nil if it is not a string or number, or not a valid
    /// field value (checked once, by `HTTPField` itself).
    /// `name` is the string at `nameIndex` (checked by `LuaRequestAPI.fieldName`). A script sets the same
    /// fields to the same values on most requests, so the state remembers the last field made per cached
    /// name, and a value with the same bytes reuses it: no String, no validation.
    static func field(_ L: OpaquePointer, _ index: Int32, name: HTTPField.Name, nameAt nameIndex: Int32) -> HTTPField? {
        guard lua_type(L, index) == LUA_TSTRING else {
            guard let value = Lua.text(L, index), HTTPField.isValidValue(value) else { return nil }
            return HTTPField(name: name, value: value)
        }
        var length = 0
        guard let pointer = lua_tolstring(L, index, &length) else { return nil }
        let bytes = UnsafeBufferPointer(start: UnsafeRawPointer(pointer).assumingMemoryBound(to: UInt8.self), count: length)
        let state = LuaScriptState.of(L)
        let nameKey = lua_tolstring(L, nameIndex, nil).map { UnsafeRawPointer($0) }
        if let nameKey, let field = state.lastField(nameKey: nameKey, value: bytes) { return field }
        // The value is the text as UTF-8 (invalid sequences repaired, as `Lua.text` does). `HTTPField` keeps a
        // valid value as the same string and replaces an invalid one: the check costs no second scan.
        let text = String(decoding: bytes, as: UTF8.self)
        let field = HTTPField(name: name, value: text)
        guard field.value == text else { return nil }
        if let nameKey { state.rememberField(nameKey: nameKey, field) }
        return field
    }

    /// `set_header(name, value)`: replaces every value; a nil value removes the field; a table sets several.
    static func set(_ L: OpaquePointer, _ fields: inout HTTPFields, api: String, reserved: inout Bool) -> Int32 {
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
            guard let field = field(L, 3, name: name, nameAt: 2) else { return Lua.fail(L, "\(api): bad argument #2 (a valid field value expected)") }
            // A cookie set as one string is split into fields by HTTPFields' own rules.
            if name == .cookie { fields[name] = field.value } else { replace(field, in: &fields, reserved: &reserved) }
        }
        return 0
    }

    static func add(_ L: OpaquePointer, _ fields: inout HTTPFields, api: String, reserved: inout Bool) -> Int32 {
        guard let name = LuaRequestAPI.fieldName(L, 2) else { return Lua.fail(L, "\(api): bad argument #1 (field name expected)") }
        guard let field = field(L, 3, name: name, nameAt: 2) else { return Lua.fail(L, "\(api): bad argument #2 (a valid field value expected)") }
        append(field, to: &fields, reserved: &reserved)
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
