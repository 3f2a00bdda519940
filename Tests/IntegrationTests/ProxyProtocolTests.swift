@testable import Edge
import Foundation
import NIOCore
import Testing

@Suite("PROXY protocol decoder")
struct ProxyProtocolDecoderTests {
    func decode(_ bytes: [UInt8], accepts: ProxyProtocolDecoder.Accepts = .any) throws(ProxyProtocolError) -> ProxyProtocolDecoder.Result {
        try ProxyProtocolDecoder(accepts: accepts).decode(ByteBuffer(bytes: bytes))
    }

    static func v2(command: UInt8 = 0x21, family: UInt8 = 0x11, address: [UInt8], tlvs: [UInt8] = []) -> [UInt8] {
        let length = address.count + tlvs.count
        return ProxyProtocolDecoder.v2Signature + [command, family, UInt8(length >> 8), UInt8(length & 0xFF)] + address + tlvs
    }

    @Test("v1 TCP4 and TCP6 headers give the client address and the header length")
    func v1() throws {
        let line = Array("PROXY TCP4 203.0.113.9 10.0.0.1 51000 443\r\n".utf8)
        #expect(try decode(line + Array("GET".utf8)) == .header(ProxyProtocolHeader(version: .v1, source: "203.0.113.9:51000", destination: "10.0.0.1:443", length: line.count)))
        let six = Array("PROXY TCP6 2001:db8::1 2001:db8::2 1 2\r\n".utf8)
        #expect(try decode(six) == .header(ProxyProtocolHeader(version: .v1, source: "[2001:db8::1]:1", destination: "[2001:db8::2]:2", length: six.count)))
        #expect(try decode(Array("PROXY UNKNOWN\r\n".utf8)) == .header(ProxyProtocolHeader(version: .v1, source: nil, destination: nil, length: 15)))
    }

    @Test("a v1 header cut short asks for more bytes, one past the length limit is refused")
    func v1Incomplete() throws {
        #expect(try decode(Array("PROXY TCP4 203.0.".utf8)) == .needMoreData)
        #expect(throws: ProxyProtocolError.self) { try decode(Array(("PROXY TCP4 " + String(repeating: "1", count: 120)).utf8)) }
    }

    @Test("malformed v1 headers are refused", arguments: [
        "PROXY TCP4 203.0.113.9 10.0.0.1 51000\r\n", "PROXY TCP4 300.0.0.1 10.0.0.1 1 2\r\n", "PROXY TCP4 1.2.3.4 5.6.7.8 65536 1\r\n",
        "PROXY TCP4 1.2.3.4 5.6.7.8 01 1\r\n", "PROXY TCP5 1.2.3.4 5.6.7.8 1 2\r\n", "PROXY TCP4 1.2.3.4 5.6.7.8 1 2\n",
        "PROXY TCP6 1.2.3.4 5.6.7.8 1 2\r\n", "GET / HTTP/1.1\r\n",
    ])
    func v1Malformed(_ text: String) {
        #expect(throws: ProxyProtocolError.self) { try decode(Array(text.utf8)) }
    }

    @Test("v2 IPv4 and IPv6 headers decode; TLVs are skipped by length")
    func v2() throws {
        let ipv4 = Self.v2(address: [203, 0, 113, 9, 10, 0, 0, 1, 0xC7, 0x38, 0x01, 0xBB], tlvs: [0x01, 0x00, 0x02, 0x68, 0x32])
        #expect(try decode(ipv4 + [0x47]) == .header(ProxyProtocolHeader(version: .v2, source: "203.0.113.9:51000", destination: "10.0.0.1:443", length: ipv4.count)))
        var v6Address = [UInt8](repeating: 0, count: 36)
        v6Address[0] = 0x20; v6Address[1] = 0x01; v6Address[2] = 0x0d; v6Address[3] = 0xb8; v6Address[15] = 1
        v6Address[16] = 0x20; v6Address[17] = 0x01; v6Address[18] = 0x0d; v6Address[19] = 0xb8; v6Address[31] = 2
        v6Address[33] = 80; v6Address[35] = 81
        let ipv6 = Self.v2(family: 0x21, address: v6Address)
        #expect(try decode(ipv6) == .header(ProxyProtocolHeader(version: .v2, source: "[2001:db8::1]:80", destination: "[2001:db8::2]:81", length: ipv6.count)))
        let local = Self.v2(command: 0x20, family: 0x00, address: [])
        #expect(try decode(local) == .header(ProxyProtocolHeader(version: .v2, source: nil, destination: nil, length: 16)))
    }

    @Test("v2 headers cut short ask for more; bad signature, version or lengths are refused")
    func v2Errors() throws {
        let full = Self.v2(address: [1, 2, 3, 4, 5, 6, 7, 8, 0, 1, 0, 2])
        for cut in [1, 11, 15, full.count - 1] { #expect(try decode(Array(full.prefix(cut))) == .needMoreData) }
        var badSignature = full; badSignature[5] = 0x0C
        #expect(throws: ProxyProtocolError.self) { try decode(badSignature) }
        var badVersion = full; badVersion[12] = 0x11
        #expect(throws: ProxyProtocolError.self) { try decode(badVersion) }
        #expect(throws: ProxyProtocolError.self) { try decode(Self.v2(address: [1, 2, 3, 4])) }
        #expect(throws: ProxyProtocolError.self) { try decode(ProxyProtocolDecoder.v2Signature + [0x21, 0x11, 0xFF, 0xFF]) }
    }

    @Test("a listener configured for one version refuses the other")
    func versionPinning() {
        #expect(throws: ProxyProtocolError.self) { try decode(Array("PROXY UNKNOWN\r\n".utf8), accepts: .v2) }
        #expect(throws: ProxyProtocolError.self) { try decode(Self.v2(command: 0x20, family: 0, address: []), accepts: .v1) }
    }
}

@Suite("PROXY protocol listeners")
struct ProxyProtocolListenerTests {
    @Test("the client named in a v1 header is the one forwarded and logged; the L4 peer is logged too")
    func v1ClientAddress() async throws {
        try await withGateway(simpleConfig(listenerExtra: "proxy_protocol: v1")) { gw in
            let client = try RawClient(port: gw.port())
            try client.send("PROXY TCP4 203.0.113.9 10.0.0.1 51000 443\r\nGET /pp HTTP/1.1\r\nHost: t\r\n\r\n")
            let response = try #require(try client.readResponses(1).first)
            let headers = try #require(response.json["headers"] as? [String: String])
            #expect(headers["x-forwarded-for"] == "203.0.113.9")
            let line = try await gw.accessLogLine(path: "/pp")
            #expect(line["downstream_addr"] as? String == "203.0.113.9:51000")
            #expect((line["downstream_l4_addr"] as? String)?.hasPrefix("127.0.0.1:") == true)
        }
    }

    @Test("a v2 header works with `any`, and bytes after it in the same packet are the request")
    func v2Any() async throws {
        try await withGateway(simpleConfig(listenerExtra: "proxy_protocol: any")) { gw in
            let client = try RawClient(port: gw.port())
            let header = ProxyProtocolDecoderTests.v2(address: [198, 51, 100, 7, 10, 0, 0, 1, 0x30, 0x39, 0x01, 0xBB])
            try client.send(header + Array("GET /v2 HTTP/1.1\r\nHost: t\r\n\r\n".utf8))
            let response = try #require(try client.readResponses(1).first)
            let headers = try #require(response.json["headers"] as? [String: String])
            #expect(headers["x-forwarded-for"] == "198.51.100.7")
        }
    }

    @Test("a connection without the required header is closed and nothing is forwarded")
    func missingHeader() async throws {
        try await withGateway(simpleConfig(listenerExtra: "proxy_protocol: v1")) { gw in
            let client = try RawClient(port: gw.port())
            try client.send("GET / HTTP/1.1\r\nHost: t\r\n\r\n")
            let (text, closed) = client.readUntilClose()
            #expect(text.isEmpty)
            #expect(closed)
            #expect(gw.echoes[0].stats.requests == 0)
        }
    }

    @Test("a peer outside trusted_sources is closed before anything is read")
    func untrustedPeer() async throws {
        try await withGateway(simpleConfig(listenerExtra: "proxy_protocol: v1\ntrusted_sources: [10.0.0.0/8]")) { gw in
            let client = try RawClient(port: gw.port())
            try? client.send("PROXY TCP4 203.0.113.9 10.0.0.1 51000 443\r\nGET / HTTP/1.1\r\nHost: t\r\n\r\n")
            #expect(client.isClosedByPeer())
            #expect(gw.echoes[0].stats.requests == 0)
        }
    }

    @Test("a trusted peer is served")
    func trustedPeer() async throws {
        try await withGateway(simpleConfig(listenerExtra: "proxy_protocol: v1\ntrusted_sources: [127.0.0.0/8, \"::1/128\"]")) { gw in
            let client = try RawClient(port: gw.port())
            try client.send("PROXY TCP4 203.0.113.9 10.0.0.1 51000 443\r\nGET / HTTP/1.1\r\nHost: t\r\n\r\n")
            #expect(try client.readResponses(1).first?.status == 200)
        }
    }
}
