import Foundation
import Testing

@Suite("Proxying HTTP/1.1")
struct ProxyingTests {
    @Test("a GET reaches the backend with forwarding headers and a generated request id")
    func getIsForwarded() async throws {
        try await withGateway(simpleConfig()) { gw in
            let result = try curl(["\(gw.baseURL)/hello?x=1"])
            #expect(result.status == 200)
            #expect(result.header("x-echo-name") == "echo-0")
            let echoed = result.json
            #expect(echoed["method"] as? String == "GET")
            #expect(echoed["path"] as? String == "/hello?x=1")
            let headers = try #require(echoed["headers"] as? [String: String])
            #expect(headers["host"] == "127.0.0.1:\(gw.port())")
            #expect(headers["x-forwarded-for"] == "127.0.0.1")
            #expect(headers["x-forwarded-proto"] == "http")
            let requestID = try #require(headers["x-request-id"])
            #expect(requestID.count == 36 && requestID.split(separator: "-").count == 5)
        }
    }

    @Test("an incoming X-Request-Id is kept and X-Forwarded-For is appended to")
    func requestIDKept() async throws {
        try await withGateway(simpleConfig()) { gw in
            let result = try curl(["-H", "X-Request-Id: abc-123", "-H", "X-Forwarded-For: 203.0.113.7", "\(gw.baseURL)/"])
            let headers = try #require(result.json["headers"] as? [String: String])
            #expect(headers["x-request-id"] == "abc-123")
            #expect(headers["x-forwarded-for"] == "203.0.113.7, 127.0.0.1")
        }
    }

    @Test("a POST body with Content-Length arrives intact")
    func postBody() async throws {
        try await withGateway(simpleConfig()) { gw in
            let result = try curl(["--data-binary", "hello, portcullis", "\(gw.baseURL)/post"])
            #expect(result.status == 200)
            #expect(result.json["body"] as? String == "hello, portcullis")
            #expect(result.json["body_bytes"] as? Int == 17)
        }
    }

    @Test("a chunked request body with trailers is forwarded de-chunked and re-framed")
    func chunkedUpload() async throws {
        try await withGateway(simpleConfig()) { gw in
            let client = try RawClient(port: gw.port())
            try client.send("POST /chunked HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n7;ext=1\r\n, world\r\n0\r\nX-Sum: 12\r\n\r\n")
            let response = try #require(try client.readResponses(1).first)
            #expect(response.status == 200)
            #expect(response.json["body"] as? String == "hello, world")
            #expect(response.json["body_bytes"] as? Int == 12)
        }
    }

    @Test("hop-by-hop headers and the ones Connection nominates are not forwarded")
    func hopByHopStripped() async throws {
        try await withGateway(simpleConfig()) { gw in
            let client = try RawClient(port: gw.port())
            try client.send("GET / HTTP/1.1\r\nHost: t\r\nConnection: keep-alive, X-Secret\r\nX-Secret: 1\r\nKeep-Alive: timeout=5\r\nTE: gzip\r\nProxy-Connection: x\r\nUpgrade: foo\r\nX-Kept: yes\r\n\r\n")
            let response = try #require(try client.readResponses(1).first)
            let headers = try #require(response.json["headers"] as? [String: String])
            for name in ["x-secret", "keep-alive", "te", "proxy-connection", "upgrade"] {
                #expect(headers[name] == nil, "\(name) was forwarded")
            }
            #expect(headers["x-kept"] == "yes")
        }
    }

    @Test("a request forwarded as received bytes: hop-by-hop lines dropped, X-Forwarded-For lines joined, TE: trailers and the trace kept")
    func rawHeadForwarded() async throws {
        try await withGateway(simpleConfig()) { gw in
            let client = try RawClient(port: gw.port())
            // No nominated fields: the head takes the byte path, never built into fields.
            try client.send("GET /raw HTTP/1.1\r\nhost: t\r\nconnection: keep-alive\r\nx-forwarded-for: 198.51.100.1\r\nKEEP-ALIVE: 5\r\n"
                + "X-Forwarded-For: 10.0.0.1\r\nTE: trailers\r\nUpgrade: foo\r\nX-Request-Id: keep-me\r\nX-Mixed-Case: Value\r\n"
                + "traceparent: 00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01\r\n\r\n")
            let response = try #require(try client.readResponses(1).first)
            let headers = try #require(response.json["headers"] as? [String: String])
            for name in ["connection", "keep-alive", "upgrade"] {
                #expect(headers[name] == nil, "\(name) was forwarded")
            }
            #expect(headers["host"] == "t")
            #expect(headers["x-forwarded-for"] == "198.51.100.1, 10.0.0.1, 127.0.0.1")
            #expect(headers["x-request-id"] == "keep-me")
            #expect(headers["te"] == "trailers")
            #expect(headers["x-mixed-case"] == "Value")
            let traceparent = try #require(headers["traceparent"])
            #expect(traceparent.hasPrefix("00-0af7651916cd43dd8448eb211c80319c-"))
            #expect(!traceparent.contains("b7ad6b7169203331"), "the next hop's parent is the gateway's span")
        }
    }

    @Test("keep-alive: requests on different client connections reuse one upstream connection")
    func upstreamConnectionReuse() async throws {
        try await withGateway(workers: 1, simpleConfig(workers: 1)) { gw in
            var connections: Set<Int> = []
            for _ in 0..<5 {
                let result = try curl(["\(gw.baseURL)/"])
                connections.insert(try #require(result.json["connection"] as? Int))
            }
            #expect(connections.count == 1)
            #expect(gw.echoes[0].stats.connections == 1)
            #expect(gw.echoes[0].stats.requests == 5)
        }
    }

    @Test("pipelined requests are answered in order on one connection")
    func pipelining() async throws {
        try await withGateway(simpleConfig()) { gw in
            let client = try RawClient(port: gw.port())
            try client.send("GET /one?delay_ms=50 HTTP/1.1\r\nHost: t\r\n\r\nPOST /two HTTP/1.1\r\nHost: t\r\nContent-Length: 3\r\n\r\nabcGET /three HTTP/1.1\r\nHost: t\r\n\r\n")
            let responses = try client.readResponses(3)
            #expect(responses.map { $0.json["path"] as? String } == ["/one?delay_ms=50", "/two", "/three"])
            #expect(responses[1].json["body"] as? String == "abc")
        }
    }

    @Test("Connection: close gets Connection: close back and the connection is closed")
    func connectionClose() async throws {
        try await withGateway(simpleConfig()) { gw in
            let client = try RawClient(port: gw.port())
            try client.send("GET / HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n")
            let response = try #require(try client.readResponses(1).first)
            #expect(response.status == 200)
            #expect(response.header("connection") == "close")
            #expect(client.isClosedByPeer())
        }
    }

    @Test("HTTP/1.0 closes after the response unless keep-alive is asked for")
    func http10() async throws {
        try await withGateway(simpleConfig()) { gw in
            let plain = try RawClient(port: gw.port())
            try plain.send("GET /a HTTP/1.0\r\n\r\n")
            let (text, closed) = plain.readUntilClose()
            #expect(text.hasPrefix("HTTP/1.1 200"))
            #expect(closed)

            let keepAlive = try RawClient(port: gw.port())
            try keepAlive.send("GET /b HTTP/1.0\r\nConnection: keep-alive\r\n\r\nGET /c HTTP/1.0\r\nConnection: keep-alive\r\n\r\n")
            let responses = try keepAlive.readResponses(2)
            #expect(responses.map(\.status) == [200, 200])
            #expect(responses[0].header("connection")?.lowercased() == "keep-alive")
        }
    }

    @Test("a response of unknown length to an HTTP/1.1 client is chunked by this hop, with Connection: close when the client asked for it")
    func chunkedFramingLines() async throws {
        try await withGateway(simpleConfig()) { gw in
            let client = try RawClient(port: gw.port())
            try client.send("GET /?bytes=3000&chunked=1 HTTP/1.1\r\nHost: t\r\n\r\n")
            let kept = try #require(try client.readResponses(1).first)
            #expect(kept.header("transfer-encoding")?.lowercased() == "chunked")
            #expect(kept.header("connection") == nil)
            #expect(kept.body.count == 3000)
            try client.send("GET /?bytes=3000&chunked=1 HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n")
            let (text, closed) = client.readUntilClose()
            #expect(closed)
            let lines = (text.components(separatedBy: "\r\n\r\n").first ?? "").lowercased().components(separatedBy: "\r\n")
            #expect(lines.contains("transfer-encoding: chunked"), "\(lines)")
            #expect(lines.contains("connection: close"), "\(lines)")
        }
    }

    @Test("a streamed response of unknown length reaches an HTTP/1.0 client, delimited by close")
    func http10UnknownLength() async throws {
        try await withGateway(simpleConfig()) { gw in
            let client = try RawClient(port: gw.port())
            try client.send("GET /?bytes=100000&chunked=1 HTTP/1.0\r\nConnection: keep-alive\r\n\r\n")
            let (text, closed) = client.readUntilClose()
            #expect(closed)
            let body = text.components(separatedBy: "\r\n\r\n").dropFirst().joined(separator: "\r\n\r\n")
            #expect(body.count == 100_000)
            #expect(!text.lowercased().contains("transfer-encoding"))
        }
    }

    @Test("HEAD gets the headers without a body and the connection stays usable")
    func head() async throws {
        try await withGateway(simpleConfig()) { gw in
            let client = try RawClient(port: gw.port())
            try client.send("HEAD / HTTP/1.1\r\nHost: t\r\n\r\nGET /after HTTP/1.1\r\nHost: t\r\n\r\n")
            var data = ""
            let responses = try client.readResponsesAllowingHEAD(first: true)
            data = responses.map { "\($0.status)" }.joined(separator: ",")
            #expect(data == "200,200")
            #expect(responses[1].json["path"] as? String == "/after")
        }
    }

    @Test("round robin spreads requests evenly over two backends")
    func roundRobin() async throws {
        try await withGateway(backends: 2, workers: 1, simpleConfig(endpoints: ["{{echo0}}", "{{echo1}}"], workers: 1)) { gw in
            var counts: [String: Int] = [:]
            for _ in 0..<10 {
                let name = try curl(["\(gw.baseURL)/"]).header("x-echo-name") ?? "?"
                counts[name, default: 0] += 1
            }
            #expect(counts == ["echo-0": 5, "echo-1": 5])
        }
    }

    @Test("routes match by host and path, first match wins, and unmatched requests get 404")
    func routing() async throws {
        let yaml = """
        workers: 1
        listeners:
          - name: test
            address: 127.0.0.1:0
            routes:
              - match: { host: api.example.com, path_prefix: /v1/ }
                cluster: one
              - match: { path: /exact }
                cluster: two
              - match: { host: "*.example.com" }
                cluster: two
        clusters:
          - name: one
            endpoints: [ { address: "{{echo0}}" } ]
          - name: two
            endpoints: [ { address: "{{echo1}}" } ]
        """
        try await withGateway(backends: 2, workers: 1, yaml) { gw in
            #expect(try curl(["-H", "Host: api.example.com:8080", "\(gw.baseURL)/v1/users"]).header("x-echo-name") == "echo-0")
            #expect(try curl(["-H", "Host: API.example.com", "\(gw.baseURL)/v2/users"]).header("x-echo-name") == "echo-1")
            #expect(try curl(["\(gw.baseURL)/exact?q=1"]).header("x-echo-name") == "echo-1")
            let miss = try curl(["-H", "Host: other.test", "\(gw.baseURL)/v1/users"])
            #expect(miss.status == 404)
            #expect(miss.body.contains("no route"))
            #expect(gw.echoes.map(\.stats.requests).reduce(0, +) == 3)
        }
    }
}

extension RawClient {
    /// Reads a HEAD response (no body despite Content-Length) followed by a normal one.
    func readResponsesAllowingHEAD(first: Bool) throws -> [RawResponse] {
        var all = ""
        var responses: [RawResponse] = []
        let deadline = Date().addingTimeInterval(5)
        while Date() < deadline {
            let (chunk, _) = readSome()
            all += chunk
            let parts = all.components(separatedBy: "\r\n\r\n")
            if parts.count >= 3, let second = RawResponse.parse(Array(all.utf8.dropFirst(parts[0].utf8.count + 4))) {
                let headStatus = Int(parts[0].split(separator: " ")[1]) ?? 0
                responses = [RawResponse(status: headStatus, headers: [], body: ""), second.0]
                return responses
            }
        }
        throw TestFailure("did not get two responses: \(all)")
    }

    func readSome() -> (String, Bool) {
        var buffer = [UInt8](repeating: 0, count: 65536)
        let count = recv(fdForTests, &buffer, buffer.count, 0)
        if count <= 0 { return ("", true) }
        return (String(decoding: buffer[0..<count], as: UTF8.self), false)
    }
}

@Suite("Early responses")
struct EarlyResponseTests {
    @Test("a response that ends before the request body drains the body and keeps the client connection")
    func earlyResponseKeepsConnection() async throws {
        try await withGateway(simpleConfig()) { gw in
            let client = try RawClient(port: gw.port())
            let body = String(repeating: "b", count: 200_000)
            try client.send("POST /early?early=1 HTTP/1.1\r\nHost: t\r\nContent-Length: \(body.utf8.count)\r\n\r\n\(body)")
            let first = try #require(try client.readResponses(1).first)
            #expect(first.status == 200)
            #expect(first.header("connection") == nil)
            try client.send("GET /after HTTP/1.1\r\nHost: t\r\n\r\n")
            let second = try #require(try client.readResponses(1).first)
            #expect(second.json["path"] as? String == "/after")
        }
    }

    @Test("an early response to a body larger than the drain limit closes the client connection")
    func earlyResponseWithHugeBodyCloses() async throws {
        try await withGateway(simpleConfig()) { gw in
            let client = try RawClient(port: gw.port())
            try client.send("POST /early?early=1 HTTP/1.1\r\nHost: t\r\nContent-Length: 50000000\r\n\r\n")
            let first = try #require(try client.readResponses(1).first)
            #expect(first.status == 200)
            // Keep sending: past the 1 MiB drain limit the gateway gives up on the connection.
            var closed = false
            let chunk = [UInt8](repeating: 0x61, count: 65536)
            for _ in 0..<200 {
                do { try client.send(chunk) } catch { closed = true; break }
            }
            #expect(closed || client.isClosedByPeer())
        }
    }
}

@Suite("Pipelining backpressure")
struct PipeliningBackpressureTests {
    @Test("a pipelining client that does not read gets no further requests started until it reads")
    func pipelinedRequestsWaitForTheReader() async throws {
        try await withGateway(workers: 1, simpleConfig(workers: 1)) { gw in
            let client = try RawClient(port: gw.port(), timeoutSeconds: 10)
            let count = 200
            let request = "GET /?bytes=100000 HTTP/1.1\r\nHost: t\r\n\r\n"
            try client.send(String(repeating: request, count: count))
            try await Task.sleep(for: .milliseconds(800))
            // 20 MB of responses cannot all fit in socket buffers: the gateway must have stopped.
            let servedWhileBlocked = gw.echoes[0].stats.requests
            #expect(servedWhileBlocked < count, "all \(count) requests were proxied into memory")
            // Once the client reads, every response arrives, in order and complete.
            let statusLine = Array("HTTP/1.1 200".utf8)
            var seen = 0
            var tail: [UInt8] = []
            var buffer = [UInt8](repeating: 0, count: 1 << 16)
            while seen < count {
                let n = recv(client.fdForTests, &buffer, buffer.count, 0)
                guard n > 0 else { break }
                let window = tail + buffer[0..<n]
                var i = 0
                while i + statusLine.count <= window.count {
                    if window[i] == statusLine[0] && Array(window[i..<(i + statusLine.count)]) == statusLine { seen += 1; i += statusLine.count } else { i += 1 }
                }
                tail = Array(window.suffix(statusLine.count - 1))
            }
            #expect(seen == count)
        }
    }
}

@Suite("Response heads")
struct ResponseHeadTests {
    @Test("hop-by-hop fields of an upstream response are not forwarded; the others are, byte for byte")
    func responseHopByHopStripped() async throws {
        try await withGateway(simpleConfig()) { gw in
            let client = try RawClient(port: gw.port())
            try client.send("GET /?header=Keep-Alive:timeout%3D5&header2=X-Custom-Case:KeepMe HTTP/1.1\r\nHost: t\r\n\r\n")
            let response = try #require(try client.readResponses(1).first)
            #expect(response.header("keep-alive") == nil)
            #expect(response.headers.contains { $0.0 == "X-Custom-Case" && $0.1 == "KeepMe" })
            #expect(response.header("x-echo-name") == "echo-0")
        }
    }

    @Test("fields named by the upstream's Connection header are removed too")
    func responseNominatedFieldsStripped() async throws {
        try await withGateway(simpleConfig()) { gw in
            let client = try RawClient(port: gw.port())
            try client.send("GET /?header=Connection:x-internal&header2=X-Internal:secret HTTP/1.1\r\nHost: t\r\n\r\n")
            let response = try #require(try client.readResponses(1).first)
            #expect(response.status == 200)
            #expect(response.header("x-internal") == nil)
            #expect(response.header("connection") == nil)
            #expect(response.header("x-echo-name") == "echo-0")
        }
    }
}

@Suite("Forwarding edits")
struct ForwardingEditsTests {
    @Test("hop-by-hop fields go, TE: trailers stays, and forwarding headers replace received ones")
    func editsAppliedWhileWriting() async throws {
        try await withGateway(simpleConfig()) { gw in
            let client = try RawClient(port: gw.port())
            try client.send("GET /edits HTTP/1.1\r\nHost: t\r\nConnection: keep-alive\r\nKeep-Alive: timeout=5\r\nUpgrade: h2c\r\nTE: trailers\r\nX-Forwarded-Proto: https\r\nX-Forwarded-For: 198.51.100.1\r\nX-Request-Id: edit-1\r\nX-Other: kept\r\n\r\n")
            let response = try #require(try client.readResponses(1).first)
            let headers = try #require(response.json["headers"] as? [String: String])
            #expect(headers["connection"] == nil)
            #expect(headers["keep-alive"] == nil)
            #expect(headers["upgrade"] == nil)
            #expect(headers["te"] == "trailers")
            #expect(headers["x-forwarded-proto"] == "http")
            #expect(headers["x-forwarded-for"] == "198.51.100.1, 127.0.0.1")
            #expect(headers["x-request-id"] == "edit-1")
            #expect(headers["x-other"] == "kept")
            #expect(headers["host"] == "t")
        }
    }
}
