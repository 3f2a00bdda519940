import Foundation
import Testing

/// The compress filter end to end: the echo backend's `bytes=N&type=T` bodies through the gateway, curl
/// as the client (`--compressed` decodes gzip and brotli and fails on a broken stream).
@Suite("compress filter through the gateway", .serialized)
struct CompressFilterIntegrationTests {
    static let config = simpleConfig(listenerExtra: "http2: { cleartext: true }", routeExtra: "filters:\n  - compress: { min_length: 1k, encodings: [br, gzip] }")

    /// Headers (lower case) and the body size as received on the wire, plus the decoded body's size.
    static func fetch(_ gw: TestGateway, _ query: String, acceptEncoding: String? = "gzip, br", extra: String = "") async throws
        -> (headers: String, wireBytes: Int, decodedBytes: Int) {
        let url = "\(gw.baseURL)/c?\(query)"
        let accept = acceptEncoding.map { "-H 'accept-encoding: \($0)'" } ?? ""
        let wire = try await offPool { try shell("curl -sS \(extra) -D - -o /dev/null -w '%{size_download}' \(accept) '\(url)'") }
        // Decoded by curl, which fails (exit code not 0) on a broken gzip stream; the body is all "x".
        let decoded = try await offPool {
            try shell("set -o pipefail; curl -sS \(extra) --compressed \(accept) '\(url)' | python3 -c " +
                      "'import sys; d = sys.stdin.buffer.read(); print(len(d) if d.count(b\"x\") == len(d) else -2)'")
        }
        let headEnd = wire.stdout.range(of: "\r\n\r\n")?.upperBound ?? wire.stdout.endIndex
        let headers = String(wire.stdout[..<headEnd]).lowercased()
        let wireBytes = Int(wire.stdout[headEnd...].trimmingCharacters(in: .whitespacesAndNewlines)) ?? -1
        let decodedBytes = decoded.exitCode == 0 ? Int(decoded.stdout.trimmingCharacters(in: .whitespacesAndNewlines)) ?? -1 : -1
        return (headers, wireBytes, decodedBytes)
    }

    @Test("a compressible response is compressed (gzip, brotli): Content-Encoding, Vary, no Content-Length, chunked on HTTP/1.1; it decodes to the original",
          arguments: ["gzip", "br"])
    func compresses(coding: String) async throws {
        try await withGateway(Self.config) { gw in
            let result = try await Self.fetch(gw, "bytes=200000&type=text/plain", acceptEncoding: coding)
            #expect(result.headers.contains("content-encoding: \(coding)"), "\(result.headers)")
            #expect(result.headers.contains("vary: accept-encoding"))
            #expect(!result.headers.contains("content-length"))
            #expect(result.headers.contains("transfer-encoding: chunked"))
            #expect(result.wireBytes > 0 && result.wireBytes < 5000, "\(result.wireBytes) bytes on the wire")
            #expect(result.decodedBytes == 200_000)
            // Streamed by the backend (chunked, written as the socket takes it): the same.
            let streamed = try await Self.fetch(gw, "bytes=1000000&chunked=1&type=application/json", acceptEncoding: coding)
            #expect(streamed.headers.contains("content-encoding: \(coding)"))
            #expect(streamed.decodedBytes == 1_000_000)
            // And over HTTP/2.
            let h2 = try await Self.fetch(gw, "bytes=50000&type=text/html", acceptEncoding: coding, extra: "--http2-prior-knowledge")
            #expect(h2.headers.hasPrefix("http/2 200"), "\(h2.headers)")
            #expect(h2.headers.contains("content-encoding: \(coding)"))
            #expect(h2.decodedBytes == 50_000)
        }
    }

    @Test("gzip only by default (a brotli-only client gets the body as it is); encodings: [br, gzip] prefers brotli, gzip for the others; [gzip, br] prefers gzip")
    func preference() async throws {
        try await withGateway(simpleConfig(routeExtra: "filters:\n  - compress:")) { gw in
            let both = try await Self.fetch(gw, "bytes=20000&type=text/plain", acceptEncoding: "gzip, deflate, br")
            #expect(both.headers.contains("content-encoding: gzip"), "\(both.headers)")
            let brOnly = try await Self.fetch(gw, "bytes=20000&type=text/plain", acceptEncoding: "br")
            #expect(!brOnly.headers.contains("content-encoding"), "\(brOnly.headers)")
            #expect(brOnly.wireBytes == 20_000)
        }
        try await withGateway(Self.config) { gw in
            let both = try await Self.fetch(gw, "bytes=20000&type=text/plain", acceptEncoding: "gzip, deflate, br")
            #expect(both.headers.contains("content-encoding: br"), "\(both.headers)")
            #expect(both.decodedBytes == 20_000)
            let gzipOnly = try await Self.fetch(gw, "bytes=20000&type=text/plain", acceptEncoding: "gzip")
            #expect(gzipOnly.headers.contains("content-encoding: gzip"), "\(gzipOnly.headers)")
        }
        try await withGateway(simpleConfig(routeExtra: "filters:\n  - compress: { encodings: [gzip, br] }")) { gw in
            let both = try await Self.fetch(gw, "bytes=20000&type=text/plain", acceptEncoding: "br, gzip")
            #expect(both.headers.contains("content-encoding: gzip"), "\(both.headers)")
        }
    }

    @Test("a response that ends with trailers: the gzip stream still ends before them, and they arrive")
    func trailers() async throws {
        let config = simpleConfig(listenerExtra: "http2: { cleartext: true }", routeExtra: "filters:\n  - compress: { min_length: 0 }")
        try await withGateway(config) { gw in
            let body = NSTemporaryDirectory() + "gz-\(UUID().uuidString)"
            defer { try? FileManager.default.removeItem(atPath: body) }
            let result = try await offPool {
                try shell("curl -sS --http2-prior-knowledge -H 'accept-encoding: gzip' -H 'te: trailers' -D - -o \(body) '\(gw.baseURL)/t?trailer=x-check:ok'")
            }
            #expect(result.exitCode == 0, "\(result.stderr)")
            let text = result.stdout.lowercased()
            #expect(text.contains("content-encoding: gzip"), "\(result.stdout)")
            #expect(text.contains("x-check: ok"), "the trailer: \(result.stdout)")
            // Python's gzip refuses a stream without its end (the last block and the CRC trailer).
            let decoded = try await offPool {
                try run(PythonServer.interpreter, ["-c", "import gzip, sys; sys.stdout.write(gzip.decompress(open(sys.argv[1], 'rb').read()).decode())", body])
            }
            #expect(decoded.exitCode == 0, "\(decoded.stderr)")
            #expect(decoded.stdout.contains("\"path\":\"/t?trailer=x-check:ok\""), "\(decoded.stdout)")
        }
    }

    @Test("left alone: no or refused Accept-Encoding, a type not listed, a body under min_length, HEAD")
    func leavesAlone() async throws {
        try await withGateway(Self.config) { gw in
            for (query, accept) in [("bytes=200000&type=text/plain", nil), ("bytes=200000&type=text/plain", "gzip;q=0, identity"),
                                    ("bytes=200000&type=image/png", "gzip"), ("bytes=500&type=text/plain", "gzip")] as [(String, String?)] {
                let result = try await Self.fetch(gw, query, acceptEncoding: accept)
                #expect(!result.headers.contains("content-encoding"), "\(query) \(accept ?? "-"): \(result.headers)")
                #expect(result.headers.contains("content-length"))
            }
            let head = try await offPool { try shell("curl -sS -I -H 'accept-encoding: gzip' '\(gw.baseURL)/c?bytes=200000&type=text/plain'") }
            #expect(!head.stdout.lowercased().contains("content-encoding"), "\(head.stdout)")
        }
    }

    @Test("config errors name file, line and key: a level out of range, a malformed media type, an unknown coding, brotli quality and window out of range")
    func configErrors() throws {
        let path = NSTemporaryDirectory() + "compress-\(UUID().uuidString).yaml"
        defer { try? FileManager.default.removeItem(atPath: path) }
        try """
            listeners:
              - name: public
                address: 127.0.0.1:8080
                routes:
                  - match: { path_prefix: / }
                    cluster: api
                    filters:
                      - compress:
                          level: 12
                          content_types: [text/html, text]
                          encodings: [br, zstd]
                          brotli_quality: 12
                          brotli_window_bits: 30
            clusters:
              - name: api
                endpoints: [ { address: 127.0.0.1:9001 } ]
            """.write(toFile: path, atomically: true, encoding: .utf8)
        let output = try run(ConfigCommandTests.binary, ["check", "--config", path])
        expectCheckErrors(output, path: path, [
            (9, "listeners[0].routes[0].filters[0].compress.level"),
            (10, "'text' is not a media type"),
            (11, "unknown coding 'zstd' (supported: br, gzip)"),
            (12, "listeners[0].routes[0].filters[0].compress.brotli_quality"),
            (13, "listeners[0].routes[0].filters[0].compress.brotli_window_bits"),
        ])
    }
}
