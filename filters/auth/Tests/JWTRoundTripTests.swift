@testable import AuthFilter
import COpenSSL
import Testing

/// Round trips with freshly generated keys. Speed is measured by bench/, never asserted here; the loop
/// prints its figure for whoever reads the test output.
@Suite("JWT sign/verify round trip")
struct JWTVerifySpeedTests {
    @Test("RS256 and ES256 tokens signed with fresh keys verify, every time")
    func speed() throws {
        for (name, algorithm, jwkType) in [("RSA", JWTAlgorithm.rs256, JWK.KeyType.rsa), ("EC", .es256, .ecP256)] {
            let context = try #require(EVP_PKEY_CTX_new_from_name(nil, name, nil))
            defer { EVP_PKEY_CTX_free(context) }
            #expect(EVP_PKEY_keygen_init(context) == 1)
            if name == "EC" { #expect(EVP_PKEY_CTX_set_group_name(context, "P-256") == 1) }
            var generated: OpaquePointer?
            #expect(EVP_PKEY_generate(context, &generated) == 1)
            let key = try #require(generated)
            defer { EVP_PKEY_free(key) }
            func param(_ name: String, _ width: Int32) -> [UInt8] {
                var bn: OpaquePointer?
                _ = EVP_PKEY_get_bn_param(key, name, &bn)
                defer { BN_free(bn) }
                let count = width > 0 ? width : (BN_num_bits(bn) + 7) / 8
                var bytes = [UInt8](repeating: 0, count: Int(count))
                _ = BN_bn2binpad(bn, &bytes, count)
                return bytes
            }
            let publicKey = name == "RSA" ? try OpenSSLPublicKey.rsa(modulus: param("n", 0), exponent: param("e", 0))
                                          : try OpenSSLPublicKey.p256(x: param("qx", 32), y: param("qy", 32))
            let keys = JWKSet(keys: [JWK(kid: "k", type: jwkType, algorithm: nil, material: .publicKey(publicKey))])
            let input = Base64URL.encode(Array(#"{"alg":"\#(algorithm.rawValue)","kid":"k"}"#.utf8)) + "."
                + Base64URL.encode(Array(#"{"sub":"alice","exp":4000000000,"aud":"api","iss":"https://i"}"#.utf8))
            let md = EVP_MD_CTX_new()
            defer { EVP_MD_CTX_free(md) }
            #expect(EVP_DigestSignInit(md, nil, EVP_sha256(), nil, key) == 1)
            var length = 0
            let message = Array(input.utf8)
            _ = EVP_DigestSign(md, nil, &length, message, message.count)
            var signature = [UInt8](repeating: 0, count: length)
            #expect(EVP_DigestSign(md, &signature, &length, message, message.count) == 1)
            signature = Array(signature.prefix(length))
            if name == "EC" { signature = try #require(ECDSASignature.raw(fromDER: signature)) }
            let token = input + "." + Base64URL.encode(signature)
            let verifier = JWTVerifier(rules: .init(algorithms: [algorithm], issuers: ["https://i"], audiences: ["api"], clockSkew: 60, requireExpiry: true))
            let rounds = 500
            let clock = ContinuousClock()
            var accepted = 0
            let elapsed = clock.measure {
                for _ in 0..<rounds {
                    if case .verified = verifier.verify(Substring(token), keys: keys, now: 1_700_000_000) { accepted += 1 }
                }
            }
            #expect(accepted == rounds)
            let micros = Double(elapsed.components.attoseconds) / 1e12 / Double(rounds) + Double(elapsed.components.seconds) * 1e6 / Double(rounds)
            print("\(algorithm.rawValue): \(Int(micros)) µs per token verification (parse + signature + claims)")
        }
    }
}
