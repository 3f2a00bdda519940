@testable import AuthFilter
import Testing

@Suite("Verified-token cache")
struct VerifiedTokenCacheTests {
    @Test("a cached token is honoured until the earlier of its exp and the TTL, never before its nbf")
    func bounds() {
        let cache = VerifiedTokenCache(capacity: 8)
        cache.insert("short", claims: ["sub": .string("a"), "exp": .number("1002", 1002)], now: 1000, ttl: 60)
        #expect(cache.claims(for: "short", now: 1001)?["sub"] == .string("a"))
        #expect(cache.claims(for: "short", now: 1002.5) == nil, "expired tokens are never served from the cache")
        cache.insert("long", claims: ["exp": .number("9999", 9999)], now: 1000, ttl: 60)
        #expect(cache.claims(for: "long", now: 1059) != nil)
        #expect(cache.claims(for: "long", now: 1061) == nil, "the TTL bounds a key rotation's reach")
        cache.insert("later", claims: ["nbf": .number("1005", 1005)], now: 1000, ttl: 60)
        #expect(cache.claims(for: "later", now: 1001) == nil, "not yet valid: checked again next time")
    }

    @Test("a full cache sheds expired entries, then starts over")
    func capacity() {
        let cache = VerifiedTokenCache(capacity: 2)
        cache.insert("a", claims: [:], now: 0, ttl: 10)
        cache.insert("b", claims: [:], now: 0, ttl: 10)
        cache.insert("c", claims: [:], now: 1, ttl: 10)
        #expect(cache.claims(for: "c", now: 2) != nil)
        #expect(cache.claims(for: "a", now: 2) == nil)
    }
}
