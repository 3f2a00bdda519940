import Foundation
import Testing

/// Clusters with `protocol: http2`: the gateway speaks h2c (prior knowledge) to its endpoints, many
/// requests multiplexed on few connections. The HTTP/2 backend is a second gateway (an h2c listener in
/// front of an echo server, so its access log and /metrics show what arrived) or a small Python h2
/// server that resets streams and sends GOAWAY on request.
@Suite("HTTP/2 to upstreams", .serialized)
struct HTTP2UpstreamTests {
    /// The backend gateway: h2c listener in front of echo-0, with /metrics.
    static let backendConfig = "admin: { address: 127.0.0.1:0 }\n" + simpleConfig(listenerExtra: "http2: { cleartext: true }")

    static func frontConfig(_ upstream: String, clusterExtra: String = "", workers: Int = 2) -> String {
        simpleConfig(endpoints: [upstream], listenerExtra: "http2: { cleartext: true }",
                     clusterExtra: "protocol: http2" + (clusterExtra.isEmpty ? "" : "\n" + clusterExtra), workers: workers)
    }

    /// A front gateway whose cluster speaks h2c to a backend gateway.
    static func withChain(clusterExtra: String = "", _ body: (_ front: TestGateway, _ back: TestGateway) async throws -> Void) async throws {
        try await withGateway(backendConfig) { back in
            let front = try await TestGateway.start(backends: 0, frontConfig("127.0.0.1:\(back.port())", clusterExtra: clusterExtra))
            do {
                try await body(front, back)
            } catch {
                await front.stop()
                throw error
            }
            await front.stop()
        }
    }

    /// Connections the backend gateway has accepted on its listeners.
    static func acceptedConnections(_ gateway: TestGateway) throws -> Int {
        let metrics = try curl(["http://127.0.0.1:\(gateway.adminPort)/metrics"]).body
        return metrics.split(separator: "\n").filter { $0.hasPrefix("portcullis_connections_total") }
            .compactMap { $0.split(separator: " ").last.flatMap { Double($0) } }.reduce(0) { $0 + Int($1) }
    }

    @Test("a request goes upstream over h2c from HTTP/1.1 and HTTP/2 clients; bodies and trailers pass")
    func throughHTTP2Cluster() async throws {
        try await Self.withChain { front, back in
            let h1 = try curl(["\(front.baseURL)/h1?x=1"])
            #expect(h1.status == 200)
            let headers = try #require(h1.json["headers"] as? [String: String])
            #expect(headers["x-forwarded-for"] != nil)
            #expect(headers["host"] == "127.0.0.1:\(front.port())")
            let line = try await back.accessLogLine(path: "/h1?x=1")
            #expect(line["protocol"] as? String == "HTTP/2", "the backend saw \(line["protocol"] ?? "nothing")")

            let h2 = try shell("curl -s --http2-prior-knowledge -o /dev/null -w '%{http_version} %{http_code}' '\(front.baseURL)/h2'")
            #expect(h2.stdout == "2 200")
            #expect(try await back.accessLogLine(path: "/h2")["protocol"] as? String == "HTTP/2")

            // A Content-Length body and a chunked one (unknown length: DATA frames without content-length).
            let posted = try shell("head -c 100000 /dev/zero | curl -sS --data-binary @- '\(front.baseURL)/post'")
            #expect(posted.stdout.contains("\"body_bytes\":100000"), "\(posted.stdout.prefix(300))")
            let chunked = try shell("head -c 70000 /dev/zero | curl -sS -T - -H 'Expect:' '\(front.baseURL)/chunked'")
            #expect(chunked.stdout.contains("\"body_bytes\":70000"), "\(chunked.stdout.prefix(300))")

            // Response trailers come back over the h2 hop to an HTTP/2 client and to an HTTP/1.1 one.
            let trailerH2 = try shell("curl -sS --http2-prior-knowledge -D - -o /dev/null '\(front.baseURL)/t?trailer=x-checksum:abc'")
            #expect(trailerH2.stdout.lowercased().contains("x-checksum: abc"), "\(trailerH2.stdout)")
            let trailerH1 = try shell("curl -sS --raw '\(front.baseURL)/t1?trailer=x-checksum:def'")
            #expect(trailerH1.stdout.lowercased().contains("x-checksum: def"), "\(trailerH1.stdout)")

            // A HEAD and an upstream status pass as they are.
            let status = try shell("curl -s -o /dev/null -w '%{http_code}' '\(front.baseURL)/s?status=418'")
            #expect(status.stdout == "418")
            // HTTP/2 has no reason phrase; an HTTP/1.1 client still gets one (h2load, for one, needs it).
            let statusLine = try shell("curl -s -i '\(front.baseURL)/ok' | head -1")
            #expect(statusLine.stdout.hasPrefix("HTTP/1.1 200 OK"), "\(statusLine.stdout)")
            let head = try shell("curl -s -I -o /dev/null -w '%{http_code}' '\(front.baseURL)/head'")
            #expect(head.stdout == "200")
        }
    }

    @Test("50 concurrent requests share at most one upstream connection per event loop")
    func multiplexing() async throws {
        try await Self.withChain { front, back in
            let urls = (0..<50).map { "-o /dev/null '\(front.baseURL)/c\($0)?delay_ms=300'" }.joined(separator: " ")
            let result = try await offPool {
                try shell("curl -s --parallel --parallel-immediate --parallel-max 50 -w '%{http_code}\\n' \(urls)")
            }
            let codes = result.stdout.split(separator: "\n")
            #expect(codes.count == 50 && codes.allSatisfy { $0 == "200" }, "\(result.stdout)")
            // The front has two event loops, each with its own pool.
            let accepted = try Self.acceptedConnections(back)
            #expect(accepted >= 1 && accepted <= 2, "the backend accepted \(accepted) connections")
        }
    }

    @Test("multi-MB bodies stream both ways; a client that stops reading holds only a window in memory")
    func largeBodies() async throws {
        try await Self.withChain { front, _ in
            let bytes = 24 << 20
            let down = try await offPool {
                try shell("curl -sS --max-time 60 -o /dev/null -w '%{http_code} %{size_download}' '\(front.baseURL)/big?bytes=\(bytes)'")
            }
            #expect(down.stdout == "200 \(bytes)")
            let up = try await offPool {
                try shell("head -c \(bytes) /dev/zero | curl -sS --max-time 60 -T - -H 'Expect:' '\(front.baseURL)/upload'")
            }
            #expect(up.stdout.contains("\"body_bytes\":\(bytes)"), "\(up.stdout.prefix(300))")
            // The same with a known length (DATA frames checked against content-length upstream).
            let sized = try await offPool {
                try shell("head -c \(bytes) /dev/zero | curl -sS --max-time 60 --data-binary @- -H 'Expect:' '\(front.baseURL)/upload2'")
            }
            #expect(sized.stdout.contains("\"body_bytes\":\(bytes)"), "\(sized.stdout.prefix(300))")

            // 400 MB asked for by a client that reads nothing: only windows and socket buffers fill up.
            let before = StreamingTests.residentMegabytes()
            let client = try RawClient(port: front.port())
            try client.send("GET /slow?bytes=400000000 HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
            var peak = before
            for _ in 0..<15 {
                try await Task.sleep(for: .milliseconds(100))  // a sampling interval, not a wait for an event
                peak = max(peak, StreamingTests.residentMegabytes())
            }
            #expect(peak - before < 100, "resident memory grew by \(peak - before) MB")
            _ = client
            // The connection's streams are not stuck: the next request is served.
            #expect(try curl(["\(front.baseURL)/after"]).status == 200)
        }
    }

    @Test("a backend that resets one stream fails that request with 502; the connection serves the others")
    func streamReset() async throws {
        let backend = try PythonServer(script: "h2_backend.py")
        defer { backend.stop() }
        try await withGateway(backends: 0, workers: 1, Self.frontConfig(backend.address, workers: 1)) { front in
            let first = try curl(["\(front.baseURL)/ok"])
            #expect(first.status == 200)
            let reset = try curl(["\(front.baseURL)/rst"])
            #expect(reset.status == 502)
            let line = try await front.accessLogLine(path: "/rst")
            #expect(line["error_source"] as? String == "upstream")
            let second = try curl(["\(front.baseURL)/ok2"])
            #expect(second.status == 200)
            // Both answers came over the same upstream connection (one event loop: one pool).
            #expect(first.header("x-conn") != nil && first.header("x-conn") == second.header("x-conn"))
        }
    }

    @Test("a backend that sends GOAWAY: new requests go over a new connection and none fails")
    func goaway() async throws {
        let backend = try PythonServer(script: "h2_backend.py", arguments: ["--goaway-after", "5"])
        defer { backend.stop() }
        try await withGateway(backends: 0, Self.frontConfig(backend.address)) { front in
            var connections = Set<String>()
            for index in 0..<12 {
                let result = try curl(["\(front.baseURL)/seq\(index)"])
                #expect(result.status == 200, "request \(index): \(result.status) \(result.body)")
                if let connection = result.header("x-conn") { connections.insert(connection) }
            }
            #expect(connections.count >= 3, "GOAWAY after 5 streams: 12 requests need 3 connections, saw \(connections)")
            // Concurrent requests racing the GOAWAYs: refused streams are retried on a new connection.
            let urls = (0..<40).map { "-o /dev/null '\(front.baseURL)/par\($0)'" }.joined(separator: " ")
            let result = try await offPool {
                try shell("curl -s --parallel --parallel-immediate --parallel-max 40 -w '%{http_code}\\n' \(urls)")
            }
            let codes = result.stdout.split(separator: "\n")
            let failures = try await front.accessLog(atLeast: 52).filter { $0["status"] as? Int != 200 }.map { "\($0["status"] ?? "-") \($0["error"] ?? "-")" }
            #expect(codes.count == 40 && codes.allSatisfy { $0 == "200" }, "\(result.stdout) \(failures)")
        }
    }

    @Test("h2 over TLS: ALPN h2 to a TLS backend; a backend that only offers http/1.1 is a 502 saying so")
    func overTLS() async throws {
        let pki = try UpstreamPKI()
        defer { pki.remove() }
        for (alpn, works) in [("[h2, http/1.1]", true), ("[http/1.1]", false)] {
            let backendConfig = """
                listeners:
                  - name: backend
                    address: 127.0.0.1:0
                    tls: { certificates: [ { cert: "\(pki.path("server.pem"))", key: "\(pki.path("server.key"))" } ], alpn: \(alpn) }
                    routes: [ { match: { path_prefix: / }, cluster: echo } ]
                clusters:
                  - name: echo
                    endpoints: [ { address: "{{echo0}}" } ]
                """
            try await withGateway(backendConfig) { back in
                let front = try await TestGateway.start(backends: 0, Self.frontConfig(
                    "127.0.0.1:\(back.port())", clusterExtra: "tls: { ca: \"\(pki.path("ca.pem"))\", sni: api.internal }"))
                do {
                    let result = try curl(["\(front.baseURL)/tls-h2"])
                    if works {
                        #expect(result.status == 200)
                        #expect(try await back.accessLogLine(path: "/tls-h2")["protocol"] as? String == "HTTP/2")
                    } else {
                        #expect(result.status == 502)
                        let line = try await front.accessLogLine(path: "/tls-h2")
                        #expect((line["error"] as? String ?? "").contains("did not choose h2"), "\(line)")
                    }
                } catch {
                    await front.stop()
                    throw error
                }
                await front.stop()
            }
        }
    }
}
