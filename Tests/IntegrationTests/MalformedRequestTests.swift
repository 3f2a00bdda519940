import Foundation
import Testing

/// Every malformed or over-limit request gets the right status, the connection is closed, and the
/// backend never sees it.
@Suite("Malformed and over-limit requests")
struct MalformedRequestTests {
    static let longURI = "/" + String(repeating: "a", count: 9000)
    static let bigHeader = String(repeating: "b", count: 40_000)

    static let cases: [(name: String, request: String, status: Int)] = [
        ("Content-Length with Transfer-Encoding", "POST / HTTP/1.1\r\nHost: t\r\nContent-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n", 400),
        ("two differing Content-Length", "POST / HTTP/1.1\r\nHost: t\r\nContent-Length: 5\r\nContent-Length: 6\r\n\r\nhello!", 400),
        ("two equal Content-Length", "POST / HTTP/1.1\r\nHost: t\r\nContent-Length: 5\r\nContent-Length: 5\r\n\r\nhello", 400),
        ("Content-Length list", "POST / HTTP/1.1\r\nHost: t\r\nContent-Length: 5, 5\r\n\r\nhello", 400),
        ("non-numeric Content-Length", "POST / HTTP/1.1\r\nHost: t\r\nContent-Length: +5\r\n\r\nhello", 400),
        ("unknown transfer coding", "POST / HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: gzip\r\n\r\n", 400),
        ("missing Host", "GET / HTTP/1.1\r\n\r\n", 400),
        ("two Host headers", "GET / HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n", 400),
        ("invalid Host", "GET / HTTP/1.1\r\nHost: a b\r\n\r\n", 400),
        ("NUL in a field value", "GET / HTTP/1.1\r\nHost: t\r\nX-A: a\u{0}b\r\n\r\n", 400),
        ("control character in a field value", "GET / HTTP/1.1\r\nHost: t\r\nX-A: a\u{1}b\r\n\r\n", 400),
        ("whitespace before the colon", "GET / HTTP/1.1\r\nHost: t\r\nX-A : b\r\n\r\n", 400),
        ("obsolete line folding", "GET / HTTP/1.1\r\nHost: t\r\nX-A: a\r\n b\r\n\r\n", 400),
        ("bare LF line endings", "GET / HTTP/1.1\nHost: t\n\n", 400),
        ("bare CR", "GET / HTTP/1.1\r\nHost: t\rX-A: b\r\n\r\n", 400),
        ("HTTP/2.0 in an HTTP/1 request line", "GET / HTTP/2.0\r\nHost: t\r\n\r\n", 505),
        ("garbage version", "GET / HTTQ/1.1\r\nHost: t\r\n\r\n", 400),
        ("space in the target", "GET /a b HTTP/1.1\r\nHost: t\r\n\r\n", 400),
        ("URI too long", "GET \(longURI) HTTP/1.1\r\nHost: t\r\n\r\n", 414),
        ("header section too large", "GET / HTTP/1.1\r\nHost: t\r\nX-Big: \(bigHeader)\r\n\r\n", 431),
        ("too many header fields", "GET / HTTP/1.1\r\nHost: t\r\n" + (0..<120).map { "X-H\($0): v\r\n" }.joined() + "\r\n", 431),
        ("CONNECT", "CONNECT example.com:443 HTTP/1.1\r\nHost: example.com:443\r\n\r\n", 405),
        ("dot-segment in the path", "GET /public/../admin HTTP/1.1\r\nHost: t\r\n\r\n", 400),
        ("encoded dot-segment in the path", "GET /public/%2e%2E/admin HTTP/1.1\r\nHost: t\r\n\r\n", 400),
    ]

    @Test("malformed requests get the right status, are closed and never forwarded", arguments: 0..<cases.count)
    func rejected(index: Int) async throws {
        let testCase = Self.cases[index]
        try await withGateway(simpleConfig()) { gw in
            let client = try RawClient(port: gw.port())
            try client.send(testCase.request)
            let (text, closed) = client.readUntilClose()
            #expect(text.hasPrefix("HTTP/1.1 \(testCase.status) "), "\(testCase.name): got \(text.prefix(80))")
            #expect(closed, "\(testCase.name): connection left open")
            #expect(gw.echoes[0].stats.requests == 0, "\(testCase.name) reached the backend")
            let log = try await gw.accessLog(atLeast: 1)
            #expect(log.first?["status"] as? Int == testCase.status)
            #expect(log.first?["error_source"] as? String == "downstream")
        }
    }

    @Test("an invalid chunk size mid-body answers 400, closes, and the upstream never gets a complete request")
    func invalidChunkSize() async throws {
        try await withGateway(simpleConfig()) { gw in
            let client = try RawClient(port: gw.port())
            try client.send("POST / HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\nzz\r\n")
            let (text, closed) = client.readUntilClose()
            #expect(text.hasPrefix("HTTP/1.1 400 "))
            #expect(closed)
            try await Task.sleep(for: .milliseconds(100))
            #expect(gw.echoes[0].stats.requests == 0)
        }
    }

    @Test("a body over the route's limit by Content-Length gets 413 without reaching the backend")
    func bodyTooLargeByLength() async throws {
        try await withGateway(simpleConfig(routeExtra: "limits: { max_body_bytes: 1k }")) { gw in
            let client = try RawClient(port: gw.port())
            try client.send("POST / HTTP/1.1\r\nHost: t\r\nContent-Length: 2000\r\n\r\n")
            let (text, closed) = client.readUntilClose()
            #expect(text.hasPrefix("HTTP/1.1 413 "))
            #expect(closed)
            #expect(gw.echoes[0].stats.requests == 0)
        }
    }

    @Test("a chunked body that grows past the limit gets 413 and the upstream never gets a complete request")
    func bodyTooLargeWhileStreaming() async throws {
        try await withGateway(simpleConfig(routeExtra: "limits: { max_body_bytes: 1k }")) { gw in
            let client = try RawClient(port: gw.port())
            let chunk = String(repeating: "z", count: 600)
            try client.send("POST / HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\n\r\n258\r\n\(chunk)\r\n258\r\n\(chunk)\r\n0\r\n\r\n")
            let (text, closed) = client.readUntilClose()
            #expect(text.hasPrefix("HTTP/1.1 413 "))
            #expect(closed)
            try await Task.sleep(for: .milliseconds(100))
            #expect(gw.echoes[0].stats.requests == 0)
        }
    }

    @Test("limits are configurable per listener")
    func configurableLimits() async throws {
        try await withGateway(simpleConfig(listenerExtra: "limits: { max_header_bytes: 2k, max_headers: 5, max_uri_bytes: 300 }")) { gw in
            let longURI = try RawClient(port: gw.port())
            try longURI.send("GET /\(String(repeating: "u", count: 400)) HTTP/1.1\r\nHost: t\r\n\r\n")
            #expect(longURI.readUntilClose().text.hasPrefix("HTTP/1.1 414 "))
            let manyHeaders = try RawClient(port: gw.port())
            try manyHeaders.send("GET / HTTP/1.1\r\nHost: t\r\n" + (0..<6).map { "X-\($0): v\r\n" }.joined() + "\r\n")
            #expect(manyHeaders.readUntilClose().text.hasPrefix("HTTP/1.1 431 "))
            let bigHead = try RawClient(port: gw.port())
            try bigHead.send("GET / HTTP/1.1\r\nHost: t\r\nX-A: \(String(repeating: "v", count: 2100))\r\n\r\n")
            #expect(bigHead.readUntilClose().text.hasPrefix("HTTP/1.1 431 "))
            let fine = try curl(["\(gw.baseURL)/ok"])
            #expect(fine.status == 200)
            #expect(gw.echoes[0].stats.requests == 1)
        }
    }
}

@Suite("Connection header abuse")
struct ConnectionNominationTests {
    @Test("Connection: Content-Length cannot strip the body's framing on the way upstream")
    func contentLengthIsProtected() async throws {
        try await withGateway(simpleConfig()) { gw in
            let client = try RawClient(port: gw.port())
            try client.send("POST /framed HTTP/1.1\r\nHost: t\r\nConnection: Content-Length\r\nContent-Length: 5\r\n\r\nhelloGET /next HTTP/1.1\r\nHost: t\r\n\r\n")
            let responses = try client.readResponses(2)
            #expect(responses[0].json["body"] as? String == "hello")
            let headers = try #require(responses[0].json["headers"] as? [String: String])
            #expect(headers["content-length"] == "5")
            #expect(responses[1].json["path"] as? String == "/next")
            #expect(gw.echoes[0].stats.requests == 2)
        }
    }
}
