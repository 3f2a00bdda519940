import NIOCore
import Testing
import Upstream

@Suite("Sticky sessions: cookie codec, endpoint ids, zone-aware and sticky picks")
struct StickyTests {
    private let key = Array("0123456789abcdef0123456789abcdef".utf8)

    @Test("the prepared-state HMAC-SHA256 matches RFC 4231 (short key, and a key longer than a block)")
    func hmacVectors() {
        func hex(_ bytes: [UInt8]) -> String { bytes.map { String($0, radix: 16).count == 1 ? "0" + String($0, radix: 16) : String($0, radix: 16) }.joined() }
        #expect(hex(StickyCookieCodec.hmacSHA256(key: Array("Jefe".utf8), message: Array("what do ya want for nothing?".utf8)))
                == "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843")
        #expect(hex(StickyCookieCodec.hmacSHA256(key: Array(repeating: 0xaa, count: 131), message: Array("Test Using Larger Than Block-Size Key - Hash Key First".utf8)))
                == "60e431591ee0b67f0d8a26aacbf5b77f8e0bc6213728c5140546040f0ee37f54")
    }

    @Test("a cookie value round-trips to its endpoint id until it expires")
    func roundTrip() {
        let codec = StickyCookieCodec(key: key)
        let value = codec.encode(id: 0x0102_0304_0506_0708, expiry: 2_000)
        #expect(value.utf8.count == StickyCookieCodec.encodedLength)
        #expect(codec.decode(value.utf8, now: 1_999) == 0x0102_0304_0506_0708)
        #expect(codec.decode(value.utf8, now: 2_000) == nil, "expired at its expiry")
        let forever = codec.encode(id: 42, expiry: 0)
        #expect(codec.decode(forever.utf8, now: .max) == 42, "expiry 0: a session cookie never expires")
    }

    @Test("every altered character, a wrong key and garbage are rejected")
    func tampering() {
        let codec = StickyCookieCodec(key: key)
        let value = Array(codec.encode(id: 7, expiry: 5_000).utf8)
        let alphabet = Array("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_".utf8)
        for position in value.indices {
            var altered = value
            altered[position] = alphabet.first { $0 != value[position] }!
            #expect(codec.decode(altered, now: 1) == nil, "altered at \(position)")
        }
        let other = StickyCookieCodec(key: Array("another key of 32 bytes, really!".utf8))
        #expect(other.decode(value, now: 1) == nil, "signed with another key")
        #expect(codec.decode(Array(value.dropLast()), now: 1) == nil)
        #expect(codec.decode(Array("not a cookie at all!!!!!!!!!!!!!!!!!!!!".utf8), now: 1) == nil)
        // The expiry is signed: extending it by hand breaks the MAC.
        let short = codec.encode(id: 7, expiry: 10)
        let long = codec.encode(id: 7, expiry: 0xFFFF_FFFF)
        let spliced = Array(long.utf8.prefix(17)) + Array(short.utf8.dropFirst(17))
        #expect(codec.decode(spliced, now: 1) == nil)
    }

    @Test("endpoint ids depend on key, cluster and address, not on list position")
    func endpointIDs() throws {
        let codec = StickyCookieCodec(key: key)
        let a = codec.endpointID(cluster: "api", address: "10.0.0.1:80")
        #expect(a == StickyCookieCodec(key: key).endpointID(cluster: "api", address: "10.0.0.1:80"), "stable across instances")
        #expect(a != codec.endpointID(cluster: "api", address: "10.0.0.2:80"))
        #expect(a != codec.endpointID(cluster: "web", address: "10.0.0.1:80"))
        #expect(a != StickyCookieCodec(key: Array("another key of 32 bytes, really!".utf8)).endpointID(cluster: "api", address: "10.0.0.1:80"))

        let forward = try policy(["10.0.0.1:80", "10.0.0.2:80", "10.0.0.3:80"])
        let reversed = try policy(["10.0.0.3:80", "10.0.0.2:80", "10.0.0.1:80"])
        let cookie = forward.setCookieValue(endpoint: 0, now: 100)
        let value = cookie.split(separator: ";")[0].split(separator: "=", maxSplits: 1)[1]
        #expect(forward.pinnedEndpoint(cookieValue: value.utf8, now: 101) == 0)
        #expect(reversed.pinnedEndpoint(cookieValue: value.utf8, now: 101) == 2, "the same address after a reordering")
        #expect(cookie.hasSuffix("; Max-Age=3600; Path=/; HttpOnly; SameSite=Lax"), "\(cookie)")
    }

    @Test("app-cookie prefixes name an endpoint and are told apart from plain values")
    func appPrefix() throws {
        var settings = StickySettings(mode: .appCookie(name: "JSESSIONID", path: "/"))
        settings.key = key
        let endpoints = try ["10.0.0.1:80", "10.0.0.2:80"].enumerated().map { try endpoint($1, $0) }
        let policy = StickyPolicy(settings: settings, clusterName: "api", endpoints: endpoints, key: key, table: nil)
        let prefix = policy.appPrefix(endpoint: 1)
        #expect(prefix.utf8.count == StickyCookieCodec.encodedIDLength + 1)
        #expect(policy.appPinnedEndpoint(value: (prefix + "abc123").utf8) == 1)
        #expect(policy.appPinnedEndpoint(value: "abc123".utf8) == nil)
        #expect(policy.appPinnedEndpoint(value: "AAAAAAAAAAA~abc".utf8) == nil, "a prefix of no endpoint")
    }

    @Test("zone-aware: local zone only while enough of it is up, then every zone")
    func zonePreference() {
        // Endpoints 0, 1, 2 are local; 3 is remote.
        var balancer = LoadBalancer(policy: .roundRobin, weights: [1, 1, 1, 1], table: nil, loopIndex: 0, rng: FastRandom(seed: 1),
                                    local: [true, true, true, false], minLocalPercent: 60)
        #expect(balancer.localZoneActive)
        for _ in 0..<30 { #expect(balancer.pick() != 3) }
        balancer.setUsable([true, true, false, true])  // 2 of 3 local: 66% >= 60%
        #expect(balancer.localZoneActive)
        for _ in 0..<30 { #expect(balancer.pick() != 3 && balancer.pick() != 2) }
        balancer.setUsable([true, false, false, true])  // 1 of 3 local: 33% < 60%
        #expect(!balancer.localZoneActive)
        var seen = Set<Int>()
        for _ in 0..<30 { if let index = balancer.pick() { seen.insert(index) } }
        #expect(seen == [0, 3])
    }

    @Test("weight 0 is never picked by the balancer, yet counts as available for a sticky session")
    func drainingEndpoint() {
        var balancer = LoadBalancer(policy: .random, weights: [1, 0, 1], table: nil, loopIndex: 0, rng: FastRandom(seed: 9))
        for _ in 0..<1000 { #expect(balancer.pick() != 1) }
        #expect(balancer.isAvailable(1))
        balancer.setUsable([true, false, true])
        #expect(!balancer.isAvailable(1))
    }

    @Test("header stickiness walks the ring over available weighted endpoints, the same on every loop")
    func headerSticky() {
        let members = (0..<4).map { (label: "10.0.0.\($0):80", weight: $0 == 3 ? 0 : 1, index: $0) }
        let table = ConsistentHashTable.ring(RingHashTable(endpoints: members))
        let a = LoadBalancer(policy: .roundRobin, weights: members.map(\.weight), table: nil, loopIndex: 0)
        var b = LoadBalancer(policy: .roundRobin, weights: members.map(\.weight), table: nil, loopIndex: 1)
        for key in 0..<200 {
            let hash = StableHash.hash("user-\(key)")
            let pick = a.pickSticky(hash: hash, table: table, excluding: -1)
            #expect(pick == b.pickSticky(hash: hash, table: table, excluding: -1))
            #expect(pick == table.owner(of: hash))
            #expect(pick != 3, "weight 0 takes no new keys")
        }
        b.setUsable([false, true, true, true])
        for key in 0..<200 {
            let hash = StableHash.hash("user-\(key)")
            let owner = table.owner(of: hash)
            let pick = b.pickSticky(hash: hash, table: table, excluding: -1)
            if owner != 0 { #expect(pick == owner, "only the down endpoint's keys move") } else { #expect(pick != 0) }
        }
    }

    private func endpoint(_ address: String, _ index: Int) throws -> Endpoint {
        let parts = address.split(separator: ":")
        return Endpoint(address: try SocketAddress(ipAddress: String(parts[0]), port: Int(parts[1])!), label: address, weight: 1, index: index)
    }

    private func policy(_ addresses: [String]) throws -> StickyPolicy {
        var cookie = StickyCookieSettings(name: "pc_aff")
        cookie.ttlSeconds = 3600
        var settings = StickySettings(mode: .cookie(cookie))
        settings.key = key
        let endpoints = try addresses.enumerated().map { try endpoint($1, $0) }
        return StickyPolicy(settings: settings, clusterName: "api", endpoints: endpoints, key: key, table: nil)
    }
}
