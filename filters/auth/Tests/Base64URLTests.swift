@testable import AuthFilter
import Testing

@Suite("base64url")
struct Base64URLTests {
    @Test("encodes without padding and round-trips every length")
    func roundTrip() {
        #expect(Base64URL.encode(Array("hello".utf8)) == "aGVsbG8")
        #expect(Base64URL.encode([0xFB, 0xFF]) == "-_8")
        for length in 0..<40 {
            let bytes = (0..<length).map { UInt8(($0 * 37 + 11) & 0xFF) }
            #expect(Base64URL.decode(Base64URL.encode(bytes)) == bytes, "length \(length)")
        }
    }

    @Test("decodes padded and standard-alphabet input; refuses junk, bad lengths and non-zero trailing bits")
    func decoding() {
        #expect(Base64URL.decode("aGVsbG8=") == Array("hello".utf8))
        #expect(Base64URL.decode("+/8=") == [0xFB, 0xFF])
        #expect(Base64URL.decode("aGV*bG8") == nil)
        #expect(Base64URL.decode("a") == nil)
        #expect(Base64URL.decode("aGVsbG9") == nil, "trailing bits set")
        #expect(Base64URL.decode("") == [])
    }
}

@Suite("JSON parser")
struct JSONParserTests {
    @Test("parses JWT-shaped objects with escapes, numbers as written and arrays")
    func objects() throws {
        let value = try JSONParser.parse(#"{"sub":"al\"ice\u00e9","exp":1700000000,"aud":["a","b"],"ok":true,"n":null,"f":-1.5e2}"#)
        #expect(value["sub"] == .string("al\"iceé"))
        #expect(value["exp"]?.scalarText == "1700000000")
        #expect(value["exp"]?.doubleValue == 1_700_000_000)
        #expect(value["aud"]?.scalarText == "a,b")
        #expect(value["ok"]?.scalarText == "true")
        #expect(value["n"] == .null)
        #expect(value["f"]?.doubleValue == -150)
        #expect(try JSONParser.parse(#""\ud83d\ude00""#) == .string("😀"))
    }

    @Test("refuses duplicate members, trailing data, deep nesting and bad escapes")
    func refusals() {
        for text in [#"{"a":1,"a":2}"#, #"{"a":1} x"#, String(repeating: "[", count: 40) + String(repeating: "]", count: 40),
                     #""\x""#, #""\ud800""#, "{'a':1}", "01x", ""] {
            #expect(throws: JSONParser.Failure.self, "\(text)") { try JSONParser.parse(text) }
        }
    }
}
