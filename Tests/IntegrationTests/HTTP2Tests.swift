import Foundation
import Testing

/// h2c listener config: HTTP/2 with prior knowledge next to HTTP/1.1.
private func h2cConfig(backends: [String] = ["{{echo0}}"], http2: String = "cleartext: true", extra: String = "") -> String {
    simpleConfig(endpoints: backends, listenerExtra: "http2: { \(http2) }" + (extra.isEmpty ? "" : "\n" + extra))
}

private typealias H2 = H2RawClient

@Suite("HTTP/2 over TLS (ALPN)")
struct HTTP2TLSTests {
    static func config(_ certs: TestCertificates, alpn: String? = nil) -> String {
        simpleConfig(endpoints: ["{{echo0}}", "{{echo1}}"],
                     listenerExtra: "tls:\n  certificates: [\(certs.yaml("a.test"))]" + (alpn.map { "\n  alpn: \($0)" } ?? ""))
    }

    @Test("curl negotiates h2 by ALPN; the request is proxied and logged as HTTP/2, bodies pass both ways")
    func h2OverTLS() async throws {
        let certs = try TestCertificates(names: ["a.test"])
        defer { certs.remove() }
        try await withGateway(backends: 2, Self.config(certs)) { gw in
            let base = "https://127.0.0.1:\(gw.port())"
            let version = try shell("curl -sk --http2 -o /dev/null -w '%{http_version} %{http_code}' '\(base)/h2-hello'")
            #expect(version.stdout == "2 200")
            let result = try curl(["-k", "--http2", "\(base)/h2-json"])
            let headers = try #require(result.json["headers"] as? [String: String])
            #expect(headers["x-forwarded-proto"] == "https")
            #expect(headers["host"] == "127.0.0.1:\(gw.port())")
            let line = try await gw.accessLogLine(path: "/h2-json")
            #expect(line["protocol"] as? String == "HTTP/2")
            #expect(line["status"] as? Int == 200)
            let big = try shell("curl -sk --http2 -o /dev/null -w '%{http_version} %{size_download}' '\(base)/?bytes=5000000'")
            #expect(big.stdout == "2 5000000")
            let upload = try shell("head -c 3000000 /dev/zero | curl -sk --http2 --data-binary @- '\(base)/up'")
            #expect(upload.stdout.contains("\"body_bytes\":3000000"), "\(upload.stdout.prefix(300))")
        }
    }

    @Test("openssl s_client sees the ALPN choice: h2, http/1.1, or none")
    func alpnSelection() async throws {
        let certs = try TestCertificates(names: ["a.test"])
        defer { certs.remove() }
        try await withGateway(backends: 2, Self.config(certs)) { gw in
            for (offer, expected) in [("h2", "ALPN protocol: h2"), ("http/1.1", "ALPN protocol: http/1.1"), ("h2,http/1.1", "ALPN protocol: h2"),
                                      ("spdy/3", "No ALPN negotiated")] {
                // s_client under a loaded machine occasionally exits before its summary: an empty answer is retried.
                var output = ""
                for _ in 0..<3 where output.isEmpty {
                    output = try shell("echo | timeout 10 openssl s_client -connect 127.0.0.1:\(gw.port()) -alpn \(offer) 2>&1 | grep -i 'ALPN'").stdout
                }
                #expect(output.contains(expected), "offer \(offer): \(output)")
            }
        }
    }

    @Test("a listener with alpn [http/1.1] never speaks h2")
    func http11Only() async throws {
        let certs = try TestCertificates(names: ["a.test"])
        defer { certs.remove() }
        try await withGateway(backends: 2, Self.config(certs, alpn: "[http/1.1]")) { gw in
            let version = try shell("curl -sk --http2 -o /dev/null -w '%{http_version} %{http_code}' 'https://127.0.0.1:\(gw.port())/'")
            #expect(version.stdout == "1.1 200")
        }
    }
}

@Suite("HTTP/2 cleartext (h2c) and streams")
struct HTTP2StreamTests {
    @Test("h2c with prior knowledge and HTTP/1.1 share a port; without cleartext the preface is refused")
    func h2cAndHTTP11() async throws {
        try await withGateway(h2cConfig()) { gw in
            let h2 = try shell("curl -s --http2-prior-knowledge -o /dev/null -w '%{http_version} %{http_code}' '\(gw.baseURL)/a'")
            #expect(h2.stdout == "2 200")
            let h1 = try shell("curl -s -o /dev/null -w '%{http_version} %{http_code}' '\(gw.baseURL)/b'")
            #expect(h1.stdout == "1.1 200")
        }
        try await withGateway(simpleConfig()) { gw in
            let h2 = try shell("curl -s --http2-prior-knowledge -o /dev/null -w '%{http_code}' '\(gw.baseURL)/a'")
            #expect(h2.stdout != "200")
        }
    }

    @Test("many concurrent streams on one connection are spread over both backends")
    func streamsUseBothBackends() async throws {
        try await withGateway(backends: 2, h2cConfig(backends: ["{{echo0}}", "{{echo1}}"])) { gw in
            let load = try shell("h2load -n 200 -c 1 -m 50 '\(gw.baseURL)/multi' 2>&1")
            #expect(load.stdout.contains("200 succeeded"), "\(load.stdout)")
            #expect(load.stdout.contains("status codes: 200 2xx"), "\(load.stdout)")
            let lines = try await gw.accessLog(atLeast: 200).filter { $0["path"] as? String == "/multi" }
            #expect(lines.count == 200)
            #expect(Set(lines.compactMap { $0["downstream_addr"] as? String }).count == 1, "one client connection")
            #expect(Set(lines.compactMap { $0["upstream_addr"] as? String }).count == 2, "both backends used")
            #expect(lines.allSatisfy { $0["protocol"] as? String == "HTTP/2" })
        }
    }

    @Test("request bodies: with content-length forwarded as is, without it chunked upstream")
    func requestBodies() async throws {
        try await withGateway(h2cConfig()) { gw in
            let sized = try shell("head -c 100000 /dev/zero | curl -s --http2-prior-knowledge --data-binary @- '\(gw.baseURL)/sized'")
            #expect(sized.stdout.contains("\"content-length\":\"100000\""), "\(sized.stdout.prefix(400))")
            #expect(sized.stdout.contains("\"body_bytes\":100000"))
            let streamed = try shell("head -c 700000 /dev/zero | curl -s --http2-prior-knowledge -T - '\(gw.baseURL)/streamed'")
            #expect(streamed.stdout.contains("\"transfer-encoding\":\"chunked\""), "\(streamed.stdout.prefix(400))")
            #expect(streamed.stdout.contains("\"body_bytes\":700000"))
        }
    }

    @Test("request and response trailers pass through")
    func trailers() async throws {
        try await withGateway(h2cConfig()) { gw in
            let client = try H2(port: gw.port())
            try client.send(H2.frame(H2.FrameType.headers, flags: H2.Flag.endHeaders, stream: 1,
                                     H2.requestBlock(method: "POST", path: "/with-trailers", extra: [("te", "trailers")])))
            try client.send(H2.frame(H2.FrameType.data, stream: 1, Array("hello".utf8)))
            try client.send(H2.frame(H2.FrameType.headers, flags: H2.Flag.endHeaders | H2.Flag.endStream, stream: 1,
                                     H2.literal("x-checksum", "abc123")))
            let response = client.readResponse(stream: 1)
            #expect(response.status == 200)
            let body = String(decoding: response.body, as: UTF8.self)
            #expect(body.contains("\"trailers\":{\"x-checksum\":\"abc123\"}"), "\(body)")
            #expect(body.contains("\"body_bytes\":5"))

            try client.sendRequest(stream: 3, path: "/?trailer=grpc-status:0")
            let second = client.readResponse(stream: 3)
            #expect(second.status == 200)
            let blocks = client.headerBlocks[3] ?? []
            #expect(blocks.count == 2, "response head and trailers")
            #expect(blocks.last?.contains(where: { $0.0 == "grpc-status" && $0.1 == "0" }) == true, "\(blocks)")
        }
    }

    @Test("bad requests get the HTTP/1.1 answers: dot-segment 400, CONNECT 405, oversized header list 431")
    func badRequests() async throws {
        try await withGateway(h2cConfig()) { gw in
            let client = try H2(port: gw.port())
            try client.sendRequest(stream: 1, path: "/a/../etc/passwd")
            #expect(client.readResponse(stream: 1).status == 400)
            let connect = H2.literal(":method", "CONNECT") + H2.literal(":authority", "example.com:443")
            try client.send(H2.frame(H2.FrameType.headers, flags: H2.Flag.endHeaders | H2.Flag.endStream, stream: 3, connect))
            #expect(client.readResponse(stream: 3).status == 405)
            // 40 KB of header in HEADERS + CONTINUATION frames of 16 KB: over the 32 KB default list size.
            let block = H2.requestBlock(path: "/big", extra: [("x-big", String(repeating: "a", count: 40_000))])
            let parts = stride(from: 0, to: block.count, by: 16_000).map { Array(block[$0..<min($0 + 16_000, block.count)]) }
            for (index, part) in parts.enumerated() {
                let type = index == 0 ? H2.FrameType.headers : H2.FrameType.continuation
                let flags = (index == 0 ? H2.Flag.endStream : 0) | (index == parts.count - 1 ? H2.Flag.endHeaders : 0)
                try client.send(H2.frame(type, flags: flags, stream: 5, part))
            }
            #expect(client.readResponse(stream: 5).status == 431)
            // The connection is still good.
            try client.sendRequest(stream: 7, path: "/after")
            #expect(client.readResponse(stream: 7).status == 200)
            let lines = try await gw.accessLog(atLeast: 4)
            #expect(lines.contains { $0["status"] as? Int == 431 && $0["protocol"] as? String == "HTTP/2" })
            #expect(!lines.contains { $0["path"] as? String == "/a/../etc/passwd" && $0["upstream_addr"] as? String != nil })
        }
    }

    @Test("protocol violations reset the stream, are never forwarded, and the connection keeps working")
    func protocolViolations() async throws {
        try await withGateway(h2cConfig()) { gw in
            let client = try H2(port: gw.port())
            // Upper-case field names are malformed in HTTP/2 (RFC 9113 §8.2.1).
            try client.sendRequest(stream: 1, path: "/upper", extra: [("X-Upper", "1")])
            #expect(client.readResponse(stream: 1).reset == 1, "PROTOCOL_ERROR")
            // Connection-specific fields are malformed too.
            try client.sendRequest(stream: 3, path: "/conn", extra: [("connection", "keep-alive")])
            #expect(client.readResponse(stream: 3).reset == 1)
            // DATA that does not add up to content-length.
            try client.sendRequest(stream: 5, method: "POST", path: "/short", extra: [("content-length", "10")], endStream: false)
            try client.send(H2.frame(H2.FrameType.data, flags: H2.Flag.endStream, stream: 5, Array("abc".utf8)))
            let short = client.readResponse(stream: 5)
            #expect(short.reset == 1 || short.status == nil || short.status! >= 400, "\(short)")
            try client.sendRequest(stream: 7, path: "/fine")
            #expect(client.readResponse(stream: 7).status == 200)
            // The lines of one connection are written in order: once /fine's is there, so are the others'.
            _ = try await gw.accessLogLine(path: "/fine")
            let upstream = try await gw.accessLog(atLeast: 1).filter { $0["status"] as? Int == 200 }
            #expect(upstream.map { $0["path"] as? String } == ["/fine"])
        }
    }

    @Test("a client that resets its stream mid-response is logged as 499")
    func clientReset() async throws {
        try await withGateway(h2cConfig()) { gw in
            let client = try H2(port: gw.port())
            try client.sendRequest(stream: 1, path: "/slow?fail=hang")
            try await Task.sleep(for: .milliseconds(100))
            try client.send(H2.frame(H2.FrameType.rstStream, stream: 1, [0, 0, 0, 8]))  // CANCEL
            let line = try await gw.accessLogLine(path: "/slow?fail=hang")
            #expect(line["status"] as? Int == 499)
        }
    }

    @Test("a client that does not read gets a bounded response buffer: the upstream is paused")
    func slowReaderBackpressure() async throws {
        try await withGateway(h2cConfig()) { gw in
            let before = StreamingTests.residentMegabytes()
            let client = try H2(port: gw.port(), settings: [(0x4, 65_535)])
            try client.sendRequest(stream: 1, path: "/huge?bytes=400000000")
            // Read nothing beyond the first window; give the upstream time to push as much as it can.
            try await Task.sleep(for: .seconds(1))
            let grown = StreamingTests.residentMegabytes() - before
            #expect(grown < 64, "resident memory grew by \(grown) MB while the client did not read")
            let logged = try await gw.accessLog(atLeast: 0, within: 0)
            #expect(logged.isEmpty, "the response cannot have completed")
        }
    }

    @Test("an idle connection gets GOAWAY(NO_ERROR) after the idle timeout")
    func idleGoAway() async throws {
        try await withGateway(h2cConfig(extra: "timeouts: { idle: 300ms }")) { gw in
            let client = try H2(port: gw.port())
            try client.sendRequest(stream: 1, path: "/one")
            #expect(client.readResponse(stream: 1).status == 200)
            #expect(client.readGoAway() == 0)
        }
    }
}

@Suite("HTTP/2 abuse defences")
struct HTTP2AbuseTests {
    /// Runs `attack` on one connection; expects GOAWAY ENHANCE_YOUR_CALM there while another
    /// connection is still served.
    private func expectCalmDown(http2: String = "cleartext: true", codes: Set<UInt32> = [0xb], _ attack: (H2RawClient) throws -> Void) async throws {
        try await withGateway(h2cConfig(http2: http2)) { gw in
            let bystander = try H2(port: gw.port())
            let attacker = try H2(port: gw.port())
            try? attack(attacker)
            let code = attacker.readGoAway()
            #expect(code.map(codes.contains) == true, "GOAWAY with \(codes), got \(String(describing: code))")
            #expect(attacker.raw.isClosedByPeer())
            try bystander.sendRequest(stream: 1, path: "/bystander")
            #expect(bystander.readResponse(stream: 1).status == 200)
        }
    }

    @Test("rapid reset (CVE-2023-44487): HEADERS + RST_STREAM in a loop")
    func rapidReset() async throws {
        try await expectCalmDown(http2: "cleartext: true, max_resets_per_second: 50") { client in
            var batch: [UInt8] = []
            for index in 0..<200 {
                let stream = UInt32(2 * index + 1)
                batch += H2.frame(H2.FrameType.headers, flags: H2.Flag.endHeaders | H2.Flag.endStream, stream: stream, H2.requestBlock(path: "/reset"))
                batch += H2.frame(H2.FrameType.rstStream, stream: stream, [0, 0, 0, 8])
            }
            try client.send(batch)
        }
    }

    @Test("CONTINUATION flood (CVE-2024-27316): an endless header block")
    func continuationFlood() async throws {
        // Debian's libnghttp2 carries the upstream fix too, which answers PROTOCOL_ERROR at the same count.
        try await expectCalmDown(codes: [0x1, 0xb]) { client in
            var batch = H2.frame(H2.FrameType.headers, stream: 1, H2.requestBlock(path: "/c"))
            for _ in 0..<50 { batch += H2.frame(H2.FrameType.continuation, stream: 1, H2.literal("x-a", "b")) }
            try client.send(batch)
        }
    }

    @Test("HPACK bomb: a small block that decodes to megabytes")
    func hpackBomb() async throws {
        try await expectCalmDown { client in
            // One 4000-byte value into the dynamic table, then thousands of one-byte references to it.
            var block = H2.requestBlock(path: "/bomb") + H2.literal("x-bomb", String(repeating: "z", count: 4000), indexed: true)
            block += [UInt8](repeating: 0x80 | 62, count: 8000)
            try client.send(H2.frame(H2.FrameType.headers, flags: H2.Flag.endHeaders | H2.Flag.endStream, stream: 1, block))
        }
    }

    @Test("SETTINGS flood")
    func settingsFlood() async throws {
        try await expectCalmDown { client in
            try client.send((0..<2000).flatMap { _ in H2.settingsFrame([]) })
        }
    }

    @Test("PING flood")
    func pingFlood() async throws {
        try await expectCalmDown { client in
            try client.send((0..<2000).flatMap { _ in H2.frame(H2.FrameType.ping, [UInt8](repeating: 1, count: 8)) })
        }
    }

    @Test("empty DATA flood")
    func emptyDataFlood() async throws {
        try await expectCalmDown { client in
            var batch = H2.frame(H2.FrameType.headers, flags: H2.Flag.endHeaders, stream: 1, H2.requestBlock(method: "POST", path: "/empty?delay_ms=2000"))
            for _ in 0..<500 { batch += H2.frame(H2.FrameType.data, stream: 1) }
            try client.send(batch)
        }
    }
}
