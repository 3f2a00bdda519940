/// Recently verified JWTs of one event loop's thread, with their claims, so a client presenting the same
/// token on every request pays the signature check (~80 µs for RS256) once per TTL per loop, as Envoy's
/// `jwt_cache_config` does. An entry never outlives the token's `exp`; a key removed from the JWKS stops
/// honouring a cached token at the latest one TTL later.
///
/// `@unchecked Sendable`: each instance lives in a `ThreadSpecificVariable` and is only ever touched by
/// the thread (event loop) that created it.
final class VerifiedTokenCache: @unchecked Sendable {
    private var entries: [String: (claims: [String: JSONValue], until: Double)] = [:]
    private let capacity: Int

    init(capacity: Int = 1024) { self.capacity = capacity }

    func claims(for token: String, now: Double) -> [String: JSONValue]? {
        guard let entry = entries[token] else { return nil }
        if entry.until > now { return entry.claims }
        entries[token] = nil
        return nil
    }

    func insert(_ token: String, claims: [String: JSONValue], now: Double, ttl: Double) {
        var until = now + ttl
        if let exp = claims["exp"]?.doubleValue { until = min(until, exp) }
        // A token not yet valid (`nbf` ahead, within the skew) is checked again next time.
        if let nbf = claims["nbf"]?.doubleValue, nbf > now { return }
        guard until > now else { return }
        if entries.count >= capacity {
            entries = entries.filter { $0.value.until > now }
            // Still full of live entries: start over rather than track recency on the request path.
            if entries.count >= capacity { entries.removeAll(keepingCapacity: true) }
        }
        entries[token] = (claims, until)
    }
}
