/// One verification key from a JWKS: its id, the algorithm it is pinned to (if the JWKS says), and the
/// key itself, ready to verify.
struct JWK: Sendable {
    enum KeyType: String, Sendable {
        case rsa = "RSA"
        case ecP256 = "EC P-256"
        case oct = "oct"
    }

    enum Material: Sendable {
        case publicKey(OpenSSLPublicKey)
        case secret([UInt8])
    }

    var kid: String?
    var type: KeyType
    /// The JWK's own `alg`, when given: the key then verifies that algorithm only.
    var algorithm: JWTAlgorithm?
    var material: Material

    func fits(_ algorithm: JWTAlgorithm) -> Bool {
        type == algorithm.keyType && (self.algorithm == nil || self.algorithm == algorithm)
    }
}

extension JWK {
    /// RSA keys shorter than this are refused at load (NIST deprecated 1024-bit RSA years ago).
    static let minimumRSABits = 2048
    /// HS256 secrets shorter than the hash (RFC 7518 §3.2) are refused at load.
    static let minimumSecretBytes = 32

    /// Parses one JWK. Returns nil (with no error) for keys this filter does not use: encryption keys
    /// (`use: enc`) and key types or algorithms it does not support, which real JWKS documents contain.
    static func parse(_ value: JSONValue) throws(KeyError) -> JWK? {
        guard case .object = value else { throw KeyError("a key must be a JSON object") }
        if let use = value["use"], use != .string("sig") {
            guard use.stringValue != nil else { throw KeyError("'use' must be a string") }
            return nil
        }
        let kid: String?
        switch value["kid"] {
        case nil: kid = nil
        case .string(let text)?: kid = text
        default: throw KeyError("'kid' must be a string")
        }
        var algorithm: JWTAlgorithm?
        if let alg = value["alg"] {
            guard let text = alg.stringValue else { throw KeyError("'alg' must be a string") }
            guard let known = JWTAlgorithm(rawValue: text) else { return nil }
            algorithm = known
        }
        guard let kty = value["kty"]?.stringValue else { throw KeyError("missing 'kty'") }
        let key: JWK
        switch kty {
        case "RSA":
            let n = try bytes(value, "n"), e = try bytes(value, "e")
            let publicKey = try OpenSSLPublicKey.rsa(modulus: n, exponent: e)
            guard publicKey.bits >= minimumRSABits else { throw KeyError("RSA key of \(publicKey.bits) bits (at least \(minimumRSABits) required)") }
            key = JWK(kid: kid, type: .rsa, algorithm: algorithm, material: .publicKey(publicKey))
        case "EC":
            guard let curve = value["crv"]?.stringValue else { throw KeyError("EC key without 'crv'") }
            guard curve == "P-256" else { return nil }
            key = JWK(kid: kid, type: .ecP256, algorithm: algorithm,
                      material: .publicKey(try OpenSSLPublicKey.p256(x: try bytes(value, "x"), y: try bytes(value, "y"))))
        case "oct":
            let secret = try bytes(value, "k")
            guard secret.count >= minimumSecretBytes else { throw KeyError("oct key of \(secret.count) bytes (at least \(minimumSecretBytes) required for HS256)") }
            key = JWK(kid: kid, type: .oct, algorithm: algorithm, material: .secret(secret))
        default:
            return nil
        }
        if let algorithm, !key.fits(algorithm) { throw KeyError("'alg' \(algorithm.rawValue) does not fit a \(key.type.rawValue) key") }
        return key
    }

    private static func bytes(_ value: JSONValue, _ member: String) throws(KeyError) -> [UInt8] {
        guard let text = value[member]?.stringValue else { throw KeyError("missing '\(member)'") }
        guard let bytes = Base64URL.decode(text), !bytes.isEmpty else { throw KeyError("'\(member)' is not base64url") }
        return bytes
    }
}
