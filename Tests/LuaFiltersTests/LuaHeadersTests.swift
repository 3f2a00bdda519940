import GatewayFilterAPI
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

    @Test("a value taken as plain bytes is one HTTPField accepts unchanged; for ASCII the two agree, other bytes take HTTPField's path")
    func plainValues() {
        var samples: [[UInt8]] = [[], Array("a".utf8), Array("a b".utf8), Array("a\tb".utf8), Array(" a".utf8), Array("a ".utf8),
                                  Array("\ta".utf8), Array("a\t".utf8), Array("caf\u{e9}".utf8), [0x7F], [0xFF]]
        for byte in UInt8(0)...UInt8(0x7F) { samples.append([0x61, byte, 0x62]) }
        for sample in samples {
            let plain = sample.withUnsafeBytes { HTTPFieldBytes.isPlainValue($0) }
            let valid = HTTPField.isValidValue(sample)
            if plain { #expect(valid, "\(sample)") }
            if sample.allSatisfy({ $0 < 0x80 }) { #expect(plain == valid, "\(sample)") } else { #expect(!plain, "\(sample)") }
        }
    }
}
