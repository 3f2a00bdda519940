import HTTPTypes
@testable import LuaFilters
import Testing

@Suite("Lua header helpers match HTTPFields' own name semantics")
struct LuaHeadersTests {
    private let user = HTTPField.Name("x-user")!

    @Test("a value is found by name case-insensitively; repeated fields join with a comma, cookies with a semicolon")
    func lookup() {
        var fields = HTTPFields()
        fields.append(HTTPField(name: HTTPField.Name("X-User")!, value: "alice"))
        fields.append(HTTPField(name: .accept, value: "a/b"))
        fields.append(HTTPField(name: user, value: "bob"))
        fields.append(HTTPField(name: .cookie, value: "a=1"))
        fields.append(HTTPField(name: .cookie, value: "b=2"))
        #expect(LuaHeaders.value(of: user, in: fields) == "alice, bob")
        #expect(LuaHeaders.value(of: user, in: fields) == fields[user])
        #expect(LuaHeaders.value(of: .cookie, in: fields) == "a=1; b=2")
        #expect(LuaHeaders.value(of: .contentType, in: fields) == nil)
    }

    @Test("replace overwrites the first field in place, drops later ones, appends when absent — as the subscript setter does")
    func replacement() {
        var fields = HTTPFields()
        fields.append(HTTPField(name: user, value: "alice"))
        fields.append(HTTPField(name: .accept, value: "a/b"))
        fields.append(HTTPField(name: user, value: "bob"))
        var expected = fields
        LuaHeaders.replace(user, with: "carol", in: &fields)
        expected[user] = "carol"
        #expect(fields == expected)
        #expect(fields.map(\.value) == ["carol", "a/b"])
        LuaHeaders.replace(.contentType, with: "text/plain", in: &fields)
        expected[.contentType] = "text/plain"
        #expect(fields == expected)
        #expect(fields.last?.name == .contentType)
    }
}
