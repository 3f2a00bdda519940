import Foundation
import Testing

/// How the HTTP/1.1 edge writes upstream responses: a small body leaves with its head in one buffer, a
/// head whose body comes later is not held back, trailers and framing survive, hop-by-hop lines go.
/// The upstream is a scripted Python server whose responses are exact bytes.
@Suite("Response forwarding")
struct ResponseForwardingTests {
    @Test("chunked with trailers, empty chunked, a body after its head, a large body and many hop-by-hop lines, on one connection")
    func framingsOnOneConnection() async throws {
        let backend = try PythonServer(script: "h1_scripted.py")
        defer { backend.stop() }
        try await withGateway(backends: 0, workers: 1, simpleConfig(endpoints: [backend.address], workers: 1)) { gw in
            let client = try RawClient(port: gw.port())
            func get(_ path: String) throws -> RawResponse {
                try client.send("GET \(path) HTTP/1.1\r\nHost: t\r\n\r\n")
                return try #require(try client.readResponses(1).first)
            }
            let chunked = try get("/chunked-trailers")
            #expect(chunked.status == 200 && chunked.body == "hello")
            #expect(chunked.header("x-a") == "1")
            #expect(chunked.header("trailer") == nil, "Trailer is hop-by-hop")
            #expect(chunked.header("transfer-encoding") == "chunked")

            let empty = try get("/empty-chunked")
            #expect(empty.status == 200 && empty.body == "")

            // The head arrives 50 ms before the body: it must reach the client then, not wait for it.
            let early = try RawClient(port: gw.port())
            try early.send("GET /split HTTP/1.1\r\nHost: t\r\n\r\n")
            var seen: [UInt8] = []
            let deadline = Date().addingTimeInterval(2)
            while !String(decoding: seen, as: UTF8.self).contains("\r\n\r\n") && Date() < deadline {
                var buffer = [UInt8](repeating: 0, count: 4096)
                let count = recv(early.fdForTests, &buffer, buffer.count, 0)
                if count <= 0 { break }
                seen += buffer[0..<count]
            }
            let firstBytes = String(decoding: seen, as: UTF8.self)
            #expect(firstBytes.hasPrefix("HTTP/1.1 200") && firstBytes.hasSuffix("\r\n\r\n"),
                    "the head came with (or after) its body: \(firstBytes.debugDescription)")

            try client.send("GET /split HTTP/1.1\r\nHost: t\r\n\r\n")
            let split = try #require(try client.readResponses(1).first)
            #expect(split.body == "abcdefghij")
            #expect(split.header("connection") == nil)

            let big = try get("/big")
            #expect(big.body.utf8.count == 100_000 && big.body.utf8.allSatisfy { $0 == UInt8(ascii: "x") })

            let hop = try get("/many-hop")
            #expect(hop.body == "ok")
            #expect(hop.header("x-before") == "b" && hop.header("x-after") == "a")
            for name in ["keep-alive", "upgrade", "trailer", "proxy-connection", "te", "connection"] {
                #expect(hop.header(name) == nil, "\(name) was forwarded")
            }
        }
    }

    @Test("trailers reach an HTTP/1.1 client; an HTTP/1.0 client gets the body delimited by the close")
    func trailersAndCloseDelimited() async throws {
        let backend = try PythonServer(script: "h1_scripted.py")
        defer { backend.stop() }
        try await withGateway(backends: 0, workers: 1, simpleConfig(endpoints: [backend.address], workers: 1)) { gw in
            let modern = try RawClient(port: gw.port())
            try modern.send("GET /chunked-trailers HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n")
            let text = modern.readUntilClose().text
            #expect(text.hasSuffix("5\r\nhello\r\n0\r\nX-T: done\r\n\r\n"), "\(text)")

            let old = try RawClient(port: gw.port())
            try old.send("GET /chunked-trailers HTTP/1.0\r\n\r\n")
            let (reply, closed) = old.readUntilClose()
            #expect(closed)
            #expect(reply.hasPrefix("HTTP/1.1 200"))
            #expect(!reply.lowercased().contains("transfer-encoding"), "\(reply)")
            #expect(reply.hasSuffix("\r\n\r\nhello"), "\(reply)")
        }
    }
}
