@testable import AuthFilter
import Testing

@Suite("JWKS parsing")
struct JWKSParsingTests {
    // Public keys only (made for these tests).
    static let rsaN = "pxiSbDHdakhVUEwBYBR_O07AH66VVpr_EtgetvWyrGVi0rGVWRhAaVfdtoIa63gbUoO7VAqK8XQD6zrXpwB2YzvZPxjuvK5N4FdRBnHGsIJI8905O8iF-7T7w03igZXaul_2jjXiny6pixXtTUdx18SpSFMAVyrUeAL5wuSx-2RCFfVr8Cn0VQZsnFIXQpGnyL3SDjumGMFPlMI5gH3133sFiH7yH5DbDdp3qzAEd8ayzaD8XUiAv8kNR6-cVk8JENIJmZb7zkvn3NoO4ue7iTyPLtmeJlBWAb6oVKaTe2heDeqgJ0vldc6L7Yua-AkmqilXnnO1H7uEfJ06-Vno4w"
    static let rsa1024N = "wSmGoGlxgXBZ4CTKL0kWaIqn2CYpdsCbO6eMI0BcXIeppaEMLRkEDByV7G8jTbZrDUDAwv_gZ9_PaMBdsgPschMPmeTHYqaGoz3c8DqGP_ETcWmKZHYq3uxRa-Nbt_umxDd9FU1d4b13j_T5OASQ3yvgWPLLkoLDucHVi72LxtM"
    static let ecX = "2irPb5Ituua38I-YsI6Hy8JZuRBZ7WCkeZayBAhHNls"
    static let ecY = "8hULwthynkKHirYK9ixrF-FjWx9RjTqfn0kW0LG0a3o"
    static let secret = Base64URL.encode([UInt8](repeating: 7, count: 32))

    static func parse(_ text: String) throws -> JWKSet { try JWKSet.parse(Array(text.utf8)) }

    @Test("RSA, EC P-256 and oct keys load; unusable keys (enc, other curves, other types) are skipped")
    func loads() throws {
        let set = try Self.parse("""
            {"keys":[
              {"kty":"RSA","kid":"r1","alg":"RS256","use":"sig","n":"\(Self.rsaN)","e":"AQAB"},
              {"kty":"EC","kid":"e1","crv":"P-256","x":"\(Self.ecX)","y":"\(Self.ecY)"},
              {"kty":"oct","kid":"h1","k":"\(Self.secret)"},
              {"kty":"RSA","kid":"enc","use":"enc","n":"x","e":"AQAB"},
              {"kty":"EC","kid":"p384","crv":"P-384","x":"x","y":"y"},
              {"kty":"OKP","kid":"ed","crv":"Ed25519","x":"x"},
              {"kty":"RSA","kid":"ps","alg":"PS256","n":"x","e":"AQAB"}
            ]}
            """)
        #expect(set.keys.map(\.kid) == ["r1", "e1", "h1"])
        #expect(set.keys.map(\.type) == [.rsa, .ecP256, .oct])
        #expect(set.candidates(kid: "r1", algorithm: .rs256).keys.count == 1)
        // Algorithm confusion: the RSA key never serves an HS256 token, though its kid is known.
        let confused = set.candidates(kid: "r1", algorithm: .hs256)
        #expect(confused.kidKnown && confused.keys.isEmpty)
        #expect(set.candidates(kid: "nope", algorithm: .rs256).kidKnown == false)
        #expect(set.candidates(kid: nil, algorithm: .es256).keys.map(\.kid) == ["e1"])
    }

    @Test("malformed documents and keys are errors naming the key")
    func errors() {
        let cases: [(String, String)] = [
            ("not json", "JWKS is not JSON"),
            (#"{"keys":{}}"#, "needs a \"keys\" array"),
            (#"{"keys":[]}"#, "no usable signing key"),
            (#"{"keys":[{"kty":"RSA","n":"\#(Self.rsaN)"}]}"#, "keys[0]: missing 'e'"),
            (#"{"keys":[{"kty":"RSA","n":"\#(Self.rsa1024N)","e":"AQAB"}]}"#, "keys[0]: RSA key of 1024 bits"),
            (#"{"keys":[{"kty":"EC","crv":"P-256","x":"\#(Self.ecX)","y":"\#(Self.ecX)"}]}"#, "keys[0]: invalid EC public key"),
            (#"{"keys":[{"kty":"oct","k":"c2hvcnQ"}]}"#, "keys[0]: oct key of 5 bytes"),
            (#"{"keys":[{"kty":"oct","alg":"RS256","k":"\#(Self.secret)"}]}"#, "keys[0]: 'alg' RS256 does not fit a oct key"),
            (#"{"keys":[{"kty":"RSA","n":"!!","e":"AQAB"}]}"#, "keys[0]: 'n' is not base64url"),
        ]
        for (text, message) in cases {
            do {
                _ = try Self.parse(text)
                Issue.record("accepted: \(text)")
            } catch {
                #expect("\(error)".contains(message), "\(error) should contain \(message)")
            }
        }
    }
}
