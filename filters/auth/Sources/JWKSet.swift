import Atomics

/// An immutable set of verification keys, swapped as a whole when a JWKS URL is refreshed. Readers
/// load the current set through an atomic reference: no lock on the request path.
final class JWKSet: Sendable, AtomicReference {
    let keys: [JWK]

    init(keys: [JWK]) { self.keys = keys }

    static let empty = JWKSet(keys: [])

    /// The keys that may verify a token with this `kid` and algorithm. A token without `kid` is tried
    /// against every key of the algorithm's type (single-key setups often omit it).
    func candidates(kid: String?, algorithm: JWTAlgorithm) -> (keys: [JWK], kidKnown: Bool) {
        guard let kid else { return (keys.filter { $0.fits(algorithm) }, true) }
        var known = false
        var found: [JWK] = []
        for key in keys where key.kid == kid {
            known = true
            if key.fits(algorithm) { found.append(key) }
        }
        return (found, known)
    }

    func merged(with other: JWKSet) -> JWKSet { JWKSet(keys: keys + other.keys) }

    /// Parses a JWKS document (`{"keys": [...]}`). Unusable keys are skipped (see `JWK.parse`), malformed
    /// ones are errors naming the key's index; a document with no usable key is an error.
    static func parse(_ bytes: [UInt8]) throws(KeyError) -> JWKSet {
        let document: JSONValue
        do {
            document = try JSONParser.parse(bytes)
        } catch {
            throw KeyError("JWKS is not JSON: \(error)")
        }
        guard case .array(let items)? = document["keys"] else { throw KeyError("JWKS needs a \"keys\" array") }
        var keys: [JWK] = []
        for (index, item) in items.enumerated() {
            do {
                if let key = try JWK.parse(item) { keys.append(key) }
            } catch {
                throw KeyError("keys[\(index)]: \(error)")
            }
        }
        guard !keys.isEmpty else { throw KeyError("JWKS has no usable signing key (RSA, EC P-256 or oct)") }
        return JWKSet(keys: keys)
    }
}
