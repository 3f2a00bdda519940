@testable import IPFilter
import Testing

@Suite("ip_filter ranges")
struct IPRangeTests {
    @Test("IPv4 CIDR blocks match their own addresses only", arguments: [
        ("10.0.0.0/8", "10.255.1.2:5000", true),
        ("10.0.0.0/8", "11.0.0.1:5000", false),
        ("192.0.2.0/24", "192.0.2.255:1", true),
        ("192.0.2.0/24", "192.0.3.0:1", false),
        ("192.0.2.7", "192.0.2.7:80", true),
        ("192.0.2.7", "192.0.2.8:80", false),
        ("0.0.0.0/0", "203.0.113.9:80", true),
    ])
    func v4(_ cidr: String, _ client: String, _ expected: Bool) throws {
        let range = try #require(IPRange(parsing: cidr))
        #expect(range.contains(client) == expected)
    }

    @Test("IPv6 CIDR blocks match bracketed client addresses", arguments: [
        ("2001:db8::/32", "[2001:db8:1::5]:443", true),
        ("2001:db8::/32", "[2001:db9::1]:443", false),
        ("::1", "[::1]:8080", true),
        ("fe80::/10", "[febf::1]:1", true),
        ("fe80::/10", "[fec0::1]:1", false),
        ("::/0", "[2001:db8::1]:1", true),
    ])
    func v6(_ cidr: String, _ client: String, _ expected: Bool) throws {
        let range = try #require(IPRange(parsing: cidr))
        #expect(range.contains(client) == expected)
    }

    @Test("an IPv4-mapped IPv6 client matches IPv4 blocks, and IPv4 blocks never match other IPv6 clients")
    func mapped() throws {
        let range = try #require(IPRange(parsing: "192.0.2.0/24"))
        #expect(range.contains("[::ffff:192.0.2.10]:80"))
        #expect(!range.contains("[2001:db8::c000:20a]:80"))
        #expect(!range.contains("[::]:80"))
    }

    @Test("bad blocks are rejected", arguments: ["10.0.0.0/33", "2001:db8::/129", "10.0.0/8", "example.com", "10.0.0.0/x", "", "/8"])
    func invalid(_ text: String) {
        #expect(IPRange(parsing: text) == nil)
    }

    @Test("deny wins over allow; without allow everyone not denied passes")
    func decision() throws {
        let config = IPFilterConfig(allow: [try #require(IPRange(parsing: "10.0.0.0/8"))],
                                    deny: [try #require(IPRange(parsing: "10.1.0.0/16"))])
        #expect(config.permits(try #require(IPAddressBits.parse(socketAddress: "10.2.3.4:1"))))
        #expect(!config.permits(try #require(IPAddressBits.parse(socketAddress: "10.1.3.4:1"))))
        #expect(!config.permits(try #require(IPAddressBits.parse(socketAddress: "172.16.0.1:1"))))
        let denyOnly = IPFilterConfig(allow: [], deny: [try #require(IPRange(parsing: "10.0.0.0/8"))])
        #expect(denyOnly.permits(try #require(IPAddressBits.parse(socketAddress: "172.16.0.1:1"))))
    }
}
