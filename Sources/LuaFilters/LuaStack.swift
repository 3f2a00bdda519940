import CLua
import CLuaShims
import NIOCore

/// Small, non-raising helpers for Swift code that works a Lua stack. None of these may raise a Lua error:
/// they use raw access only (no metamethods) and run while the memory cap is lifted.
enum Lua {
    static let registry = pc_lua_registryindex()
    static let raise = Int32(PC_LUA_RAISE)
    static let yield = Int32(PC_LUA_YIELD)
    static let noRef = Int32(LUA_NOREF)

    @inline(__always)
    static func upvalue(_ index: Int32) -> Int32 { registry - index }

    /// The string at `index` (without converting numbers in place), or nil.
    @inline(__always)
    static func string(_ L: OpaquePointer, _ index: Int32) -> String? {
        guard lua_type(L, index) == LUA_TSTRING else { return nil }
        var length = 0
        guard let bytes = lua_tolstring(L, index, &length) else { return nil }
        return String(decoding: UnsafeRawBufferPointer(start: bytes, count: length), as: UTF8.self)
    }

    /// A string or a number at `index` as text (numbers converted on a copy), or nil.
    static func text(_ L: OpaquePointer, _ index: Int32) -> String? {
        switch lua_type(L, index) {
        case LUA_TSTRING:
            return string(L, index)
        case LUA_TNUMBER:
            if lua_isinteger(L, index) != 0 { return String(lua_tointegerx(L, index, nil)) }
            let number = lua_tonumberx(L, index, nil)
            return number == number.rounded() && abs(number) < 1e15 ? String(Int64(number)) : String(number)
        default:
            return nil
        }
    }

    /// The raw bytes of the string at `index`, into a ByteBuffer.
    static func bytes(_ L: OpaquePointer, _ index: Int32) -> ByteBuffer? {
        guard lua_type(L, index) == LUA_TSTRING else { return nil }
        var length = 0
        guard let bytes = lua_tolstring(L, index, &length) else { return nil }
        return ByteBuffer(bytes: UnsafeRawBufferPointer(start: bytes, count: length))
    }

    static func integer(_ L: OpaquePointer, _ index: Int32) -> Int? {
        guard lua_type(L, index) == LUA_TNUMBER else { return nil }
        var isNumber: Int32 = 0
        let value = lua_tointegerx(L, index, &isNumber)
        if isNumber != 0 { return Int(value) }
        let number = lua_tonumberx(L, index, nil)
        guard number.isFinite, number == number.rounded(), abs(number) < 9e15 else { return nil }
        return Int(number)
    }

    static func number(_ L: OpaquePointer, _ index: Int32) -> Double? {
        guard lua_type(L, index) == LUA_TNUMBER else { return nil }
        return lua_tonumberx(L, index, nil)
    }

    @inline(__always)
    static func push(_ L: OpaquePointer, _ text: String) {
        var text = text
        text.withUTF8 { _ = lua_pushlstring(L, $0.baseAddress.map { UnsafeRawPointer($0).assumingMemoryBound(to: CChar.self) }, $0.count) }
    }

    static func push(_ L: OpaquePointer, _ buffer: ByteBuffer) {
        buffer.withUnsafeReadableBytes { _ = lua_pushlstring(L, $0.baseAddress?.assumingMemoryBound(to: CChar.self), $0.count) }
    }

    static func pushOptional(_ L: OpaquePointer, _ text: String?) {
        if let text { push(L, text) } else { lua_pushnil(L) }
    }

    /// Reports an error from a Swift function: the trampoline raises it (in C) with the caller's position.
    static func fail(_ L: OpaquePointer, _ message: String) -> Int32 {
        push(L, message)
        return raise
    }

    /// `t[key]` without metamethods, pushed on the stack; returns its type.
    @discardableResult
    static func rawField(_ L: OpaquePointer, _ table: Int32, _ key: String) -> Int32 {
        let table = lua_absindex(L, table)
        push(L, key)
        return lua_rawget(L, table)
    }

    /// `t[key] = value at top` without metamethods (pops the value).
    static func setRawField(_ L: OpaquePointer, _ table: Int32, _ key: String) {
        let table = lua_absindex(L, table)
        push(L, key)
        lua_rotate(L, -2, 1)
        lua_rawset(L, table)
    }

    static func pushFunction(_ L: OpaquePointer, _ function: pc_swift_function) {
        pc_lua_push_swift(L, function)
    }

    /// Sets Swift functions into the table at `table`.
    static func setFunctions(_ L: OpaquePointer, _ table: Int32, _ functions: [(String, pc_swift_function)]) {
        let table = lua_absindex(L, table)
        for (name, function) in functions {
            pc_lua_push_swift(L, function)
            setRawField(L, table, name)
        }
    }

    /// Whether the argument at `index` is nil or was not passed at all (LUA_TNONE): optional arguments
    /// accept both, as Lua's own libraries do.
    @inline(__always)
    static func isNoneOrNil(_ L: OpaquePointer, _ index: Int32) -> Bool {
        lua_type(L, index) <= LUA_TNIL
    }

    static func typeName(_ L: OpaquePointer, _ index: Int32) -> String {
        String(cString: lua_typename(L, lua_type(L, index)))
    }
}
