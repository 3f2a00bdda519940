import COpenSSL

/// An RSA or EC public key as an `EVP_PKEY`, built once when keys are loaded and shared by every event
/// loop. `@unchecked Sendable` because the key is never modified after construction, and OpenSSL 3
/// allows concurrent verifications with one `EVP_PKEY` as long as each uses its own `EVP_MD_CTX`.
final class OpenSSLPublicKey: @unchecked Sendable {
    let pkey: OpaquePointer

    private init(pkey: OpaquePointer) { self.pkey = pkey }

    deinit { EVP_PKEY_free(pkey) }

    /// Size of the key in bits (e.g. 2048 for RSA-2048, 256 for P-256).
    var bits: Int { Int(EVP_PKEY_get_bits(pkey)) }

    /// An RSA public key from its big-endian modulus and exponent.
    static func rsa(modulus: [UInt8], exponent: [UInt8]) throws(KeyError) -> OpenSSLPublicKey {
        guard let n = BN_bin2bn(modulus, Int32(modulus.count), nil) else { throw KeyError("cannot read RSA modulus") }
        defer { BN_free(n) }
        guard let e = BN_bin2bn(exponent, Int32(exponent.count), nil) else { throw KeyError("cannot read RSA exponent") }
        defer { BN_free(e) }
        return try fromData(algorithm: "RSA") { builder in
            OSSL_PARAM_BLD_push_BN(builder, cString("n"), n) == 1 && OSSL_PARAM_BLD_push_BN(builder, cString("e"), e) == 1
        }
    }

    /// A P-256 public key from its affine coordinates (32 bytes each); the point must be on the curve.
    static func p256(x: [UInt8], y: [UInt8]) throws(KeyError) -> OpenSSLPublicKey {
        guard x.count == 32, y.count == 32 else { throw KeyError("P-256 coordinates must be 32 bytes each") }
        let point: [UInt8] = [0x04] + x + y   // SEC1 uncompressed form
        let built = point.withUnsafeBytes { point in
            Result { () throws(KeyError) -> OpenSSLPublicKey in
                try fromData(algorithm: "EC") { builder in
                    OSSL_PARAM_BLD_push_utf8_string(builder, cString("group"), cString("prime256v1"), 0) == 1
                        && OSSL_PARAM_BLD_push_octet_string(builder, cString("pub"), point.baseAddress, point.count) == 1
                }
            }
        }
        let key = try built.get()
        // fromdata accepts any bytes of the right shape; a point off the curve must not become a key.
        guard let context = EVP_PKEY_CTX_new_from_pkey(nil, key.pkey, nil) else { throw KeyError("cannot check EC key") }
        defer { EVP_PKEY_CTX_free(context) }
        guard EVP_PKEY_public_check(context) == 1 else {
            ERR_clear_error()
            throw KeyError("EC point is not on P-256")
        }
        return key
    }

    /// The builder keeps the pointers it is given (names and values) until `OSSL_PARAM_BLD_to_param`:
    /// they must outlive the push calls, so names are static strings and values stay borrowed meanwhile.
    private static func cString(_ text: StaticString) -> UnsafePointer<CChar> {
        UnsafeRawPointer(text.utf8Start).assumingMemoryBound(to: CChar.self)
    }

    private static func fromData(algorithm: String, _ push: (OpaquePointer) -> Bool) throws(KeyError) -> OpenSSLPublicKey {
        defer { ERR_clear_error() }
        guard let builder = OSSL_PARAM_BLD_new() else { throw KeyError("out of memory") }
        defer { OSSL_PARAM_BLD_free(builder) }
        guard push(builder), let params = OSSL_PARAM_BLD_to_param(builder) else { throw KeyError("cannot build \(algorithm) key parameters") }
        defer { OSSL_PARAM_free(params) }
        guard let context = EVP_PKEY_CTX_new_from_name(nil, algorithm, nil) else { throw KeyError("\(algorithm) not available") }
        defer { EVP_PKEY_CTX_free(context) }
        var pkey: OpaquePointer?
        guard EVP_PKEY_fromdata_init(context) == 1,
              EVP_PKEY_fromdata(context, &pkey, Int32(OSSL_KEYMGMT_SELECT_PUBLIC_KEY | OSSL_KEYMGMT_SELECT_ALL_PARAMETERS), params) == 1, let pkey else {
            throw KeyError("invalid \(algorithm) public key")
        }
        return OpenSSLPublicKey(pkey: pkey)
    }

    /// Verifies `signature` (PKCS#1 v1.5 for RSA, DER for ECDSA) over `message` with SHA-256.
    func verifySHA256(message: UnsafeRawBufferPointer, signature: UnsafeRawBufferPointer) -> Bool {
        guard let context = EVP_MD_CTX_new() else { return false }
        defer { EVP_MD_CTX_free(context) }
        // The error queue is per thread and shared with every connection on this loop: leave it clean.
        defer { ERR_clear_error() }
        guard EVP_DigestVerifyInit(context, nil, EVP_sha256(), nil, pkey) == 1 else { return false }
        return EVP_DigestVerify(context, signature.baseAddress?.assumingMemoryBound(to: UInt8.self), signature.count,
                                message.baseAddress?.assumingMemoryBound(to: UInt8.self), message.count) == 1
    }
}

/// Why a key could not be built.
struct KeyError: Error, CustomStringConvertible {
    var description: String
    init(_ description: String) { self.description = description }
}

/// HMAC-SHA256 compared in constant time, for HS256.
func verifyHMACSHA256(key: [UInt8], message: UnsafeRawBufferPointer, signature: UnsafeRawBufferPointer) -> Bool {
    guard signature.count == 32 else { return false }
    var mac = [UInt8](repeating: 0, count: 32)
    var length: UInt32 = 0
    let computed = key.withUnsafeBytes { keyBytes in
        HMAC(EVP_sha256(), keyBytes.baseAddress, Int32(keyBytes.count),
             message.baseAddress?.assumingMemoryBound(to: UInt8.self), message.count, &mac, &length)
    }
    guard computed != nil, length == 32 else { return false }
    return mac.withUnsafeBytes { CRYPTO_memcmp($0.baseAddress, signature.baseAddress, 32) == 0 }
}
