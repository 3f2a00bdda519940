import Foundation
import Testing

/// The HTTP/2 edge keeps a request's fields as HTTP/1 field lines and forwards them to an HTTP/1.1
/// upstream as bytes; `HTTPFields` are built only when something needs them (a filter, an HTTP/2
/// upstream). These tests check what the upstream receives on both paths.
@Suite("HTTP/2 request fields forwarded to HTTP/1.1")
struct HTTP2RequestFieldTests {
    private typealias H2 = H2RawClient

    private static func h2c(routeExtra: String = "") -> String {
        simpleConfig(listenerExtra: "http2: { cleartext: true }", routeExtra: routeExtra)
    }

    private static let trace = "0af7651916cd43dd8448eb211c80319c"

    /// The request every test sends: cookie crumbs, values the proxy reads (request id, forwarded-for,
    /// traceparent, content type), a plain field, and a Host that :authority overrides.
    private static let fields: [(String, String)] = [
        ("cookie", "a=1"), ("x-custom", "Value, with spaces"), ("cookie", "b=2"),
        ("x-request-id", "req-42"), ("x-forwarded-for", "10.0.0.1"), ("x-forwarded-for", "10.0.0.2"),
        ("traceparent", "00-\(trace)-b7ad6b7169203331-01"), ("content-type", "text/plain"), ("host", "other.example"),
        ("cookie", "c=3"),
    ]

    private static func send(_ gw: TestGateway, path: String) throws -> [String: Any] {
        let client = try H2(port: gw.port())
        try client.sendRequest(stream: 1, path: path, extra: fields)
        let response = client.readResponse(stream: 1)
        #expect(response.status == 200)
        let json = try JSONSerialization.jsonObject(with: Data(response.body)) as? [String: Any]
        return try #require(json)
    }

    @Test("fields arrive as sent; cookie crumbs are joined into one field (RFC 9113 §8.2.3); the proxy's values are read")
    func rawForwarding() async throws {
        try await withGateway(Self.h2c()) { gw in
            let json = try Self.send(gw, path: "/raw")
            let headers = try #require(json["headers"] as? [String: String])
            // One cookie field (the echo server would join several with ", "), crumbs in order.
            #expect(headers["cookie"] == "a=1; b=2; c=3", "\(headers)")
            #expect(headers["x-custom"] == "Value, with spaces")
            #expect(headers["content-type"] == "text/plain")
            #expect(headers["host"] == "localhost", ":authority wins over Host")
            #expect(headers["x-request-id"] == "req-42")
            #expect(headers["x-forwarded-for"] == "10.0.0.1, 10.0.0.2, 127.0.0.1")
            #expect(headers["x-forwarded-proto"] == "http")
            let traceparent = try #require(headers["traceparent"])
            #expect(traceparent.hasPrefix("00-\(Self.trace)-") && !traceparent.contains("b7ad6b7169203331"), "a new span id: \(traceparent)")
            #expect(json["method"] as? String == "GET")
            #expect(json["path"] as? String == "/raw")
            let line = try await gw.accessLogLine(path: "/raw")
            #expect(line["request_id"] as? String == "req-42")
            #expect(line["trace_id"] as? String == Self.trace)
            #expect(line["protocol"] as? String == "HTTP/2")
        }
    }

    @Test("a filter sees and edits the fields (built from the lines); the upstream gets its edits")
    func filterSeesFields() async throws {
        let filter = """
            filters:
              - headers:
                  request: { set: { x-custom: replaced }, add: { x-tag: gw }, remove: [content-type] }
            """
        try await withGateway(Self.h2c(routeExtra: filter)) { gw in
            let json = try Self.send(gw, path: "/filtered")
            let headers = try #require(json["headers"] as? [String: String])
            #expect(headers["x-custom"] == "replaced")
            #expect(headers["x-tag"] == "gw")
            #expect(headers["content-type"] == nil)
            #expect(headers["cookie"] == "a=1; b=2; c=3", "\(headers)")
            #expect(headers["x-request-id"] == "req-42")
            #expect(headers["x-forwarded-for"] == "10.0.0.1, 10.0.0.2, 127.0.0.1")
        }
    }

    @Test("many streams with different fields on one connection each get their own")
    func fieldsPerStream() async throws {
        try await withGateway(Self.h2c()) { gw in
            let client = try H2(port: gw.port())
            for index in 0..<20 {
                let stream = UInt32(2 * index + 1)
                try client.sendRequest(stream: stream, path: "/s\(index)", extra: [("x-index", String(index)), ("cookie", "n=\(index)")])
            }
            // The responses interleave: collect every stream's DATA until all have ended.
            var bodies: [UInt32: [UInt8]] = [:]
            var ended = Set<UInt32>()
            _ = client.readFrames { frame in
                if frame.type == H2.FrameType.data { bodies[frame.stream, default: []] += frame.payload }
                if frame.flags & H2.Flag.endStream != 0 && frame.stream != 0 { ended.insert(frame.stream) }
                return ended.count == 20
            }
            #expect(ended.count == 20)
            for index in 0..<20 {
                let stream = UInt32(2 * index + 1)
                let json = try JSONSerialization.jsonObject(with: Data(bodies[stream] ?? [])) as? [String: Any]
                let headers = try #require(json?["headers"] as? [String: String])
                #expect(headers["x-index"] == String(index))
                #expect(headers["cookie"] == "n=\(index)")
                #expect(json?["path"] as? String == "/s\(index)")
            }
        }
    }

    @Test("each :method reaches the upstream as sent (the common ones are mapped without a String, others are tokens); HEAD gets no DATA")
    func methods() async throws {
        try await withGateway(Self.h2c()) { gw in
            let client = try H2(port: gw.port())
            for (index, method) in ["GET", "PUT", "POST", "PATCH", "DELETE", "OPTIONS", "PURGE", "PROPFIND"].enumerated() {
                let stream = UInt32(2 * index + 1)
                try client.sendRequest(stream: stream, method: method, path: "/m\(index)")
                let response = client.readResponse(stream: stream)
                #expect(response.status == 200, "\(method)")
                let json = try JSONSerialization.jsonObject(with: Data(response.body)) as? [String: Any]
                #expect(json?["method"] as? String == method)
            }
            try client.sendRequest(stream: 101, method: "HEAD", path: "/head")
            let head = client.readResponse(stream: 101)
            #expect(head.status == 200)
            #expect(head.body.isEmpty, "HEAD: no DATA")
            #expect(try await gw.accessLogLine(path: "/head")["method"] as? String == "HEAD")
        }
    }
}

@Suite("HTTP/2 without RFC 7540 priorities")
struct HTTP2PrioritiesTests {
    private typealias H2 = H2RawClient

    @Test("the server's SETTINGS carry NO_RFC7540_PRIORITIES=1; PRIORITY frames and prioritised HEADERS still get answers")
    func noRFC7540Priorities() async throws {
        try await withGateway(simpleConfig(listenerExtra: "http2: { cleartext: true }")) { gw in
            let client = try H2(port: gw.port())
            let (frames, _) = client.readFrames { $0.type == H2.FrameType.settings && $0.flags & H2.Flag.ack == 0 }
            let settings = try #require(frames.last { $0.type == H2.FrameType.settings && $0.flags & H2.Flag.ack == 0 })
            var entries: [UInt16: UInt32] = [:]
            var offset = 0
            while offset + 6 <= settings.payload.count {
                let p = settings.payload
                entries[UInt16(p[offset]) << 8 | UInt16(p[offset + 1])] =
                    UInt32(p[offset + 2]) << 24 | UInt32(p[offset + 3]) << 16 | UInt32(p[offset + 4]) << 8 | UInt32(p[offset + 5])
                offset += 6
            }
            #expect(entries[0x9] == 1, "\(entries)")
            // A PRIORITY frame (type 2) for an idle stream, then a HEADERS frame with the PRIORITY flag (0x20):
            // exclusive dependency on stream 0, weight 200.
            try client.send(H2.frame(2, stream: 3, [0, 0, 0, 1, 15]))
            let block = [0x80, 0, 0, 0, 200] + H2.requestBlock(path: "/prioritised")
            try client.send(H2.frame(H2.FrameType.headers, flags: H2.Flag.endHeaders | H2.Flag.endStream | 0x20, stream: 1, block))
            let response = client.readResponse(stream: 1)
            #expect(response.status == 200)
            #expect(String(decoding: response.body, as: UTF8.self).contains("\"path\":\"/prioritised\""))
            try client.sendRequest(stream: 3, path: "/after")
            #expect(client.readResponse(stream: 3).status == 200)
        }
    }
}

@Suite("TLS close_notify after the last response")
struct TLSCloseNotifyTests {
    /// Reads with a Python TLS client that treats a missing close_notify as an error
    /// (`suppress_ragged_eofs=False`): prints the status line, the body length and how the stream ended.
    private static func fetch(port: Int, path: String) throws -> String {
        let script = """
            import socket, ssl
            ctx = ssl.create_default_context(); ctx.check_hostname = False; ctx.verify_mode = ssl.CERT_NONE
            # OpenSSL 3 as Python sets it up treats an EOF without close_notify as a clean end: undo that.
            ctx.options &= ~getattr(ssl, 'OP_IGNORE_UNEXPECTED_EOF', 0)
            s = ctx.wrap_socket(socket.create_connection(('127.0.0.1', \(port)), timeout=10), suppress_ragged_eofs=False)
            s.sendall(b'GET \(path) HTTP/1.1\\r\\nHost: a.test\\r\\nConnection: close\\r\\n\\r\\n')
            data = b''
            end = 'close_notify'
            while True:
                try:
                    chunk = s.recv(65536)
                except (ssl.SSLError, OSError) as error:
                    end = 'no close_notify: ' + type(error).__name__
                    break
                if not chunk:
                    break
                data += chunk
            head, _, body = data.partition(b'\\r\\n\\r\\n')
            print(head.split(b'\\r\\n')[0].decode(), len(body), end)
            """
        return try run(PythonServer.interpreter, ["-c", script]).stdout.trimmingCharacters(in: .whitespacesAndNewlines)
    }

    @Test("a response before the close ends with close_notify, small (one write) or large")
    func closeNotify() async throws {
        let certs = try TestCertificates(names: ["a.test"])
        defer { certs.remove() }
        let config = simpleConfig(listenerExtra: "tls:\n  certificates: [\(certs.yaml("a.test"))]")
        try await withGateway(config) { gw in
            let small = try Self.fetch(port: gw.port(), path: "/?bytes=5")
            #expect(small == "HTTP/1.1 200 OK 5 close_notify", "\(small)")
            let large = try Self.fetch(port: gw.port(), path: "/?bytes=3000000")
            #expect(large == "HTTP/1.1 200 OK 3000000 close_notify", "\(large)")
            let missing = try Self.fetch(port: gw.port(), path: "/nothing?status=404")
            #expect(missing.hasPrefix("HTTP/1.1 404") && missing.hasSuffix("close_notify"), "\(missing)")
        }
    }
}
