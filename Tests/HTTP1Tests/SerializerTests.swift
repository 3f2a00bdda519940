import HTTP1
import HTTPTypes
import NIOCore
import Testing

private func written(_ write: (inout ByteBuffer) -> Void) -> String {
    var buffer = ByteBuffer()
    write(&buffer)
    return String(buffer: buffer)
}

@Suite("Serializer")
struct SerializerTests {
    @Test("a response head is written as status line, fields in order and the empty line")
    func responseHead() {
        let response = HTTPResponse(status: .ok, headerFields: [.contentType: "text/plain", .contentLength: "5", .server: "portcullis"])
        let bytes = written { $0.writeHTTP1ResponseHead(response) }
        #expect(bytes == "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: 5\r\nServer: portcullis\r\n\r\n")
    }

    @Test("the status code is always three digits and the reason phrase is written as given, even empty", arguments: [
        (HTTPResponse.Status.notFound, "HTTP/1.1 404 Not Found\r\n\r\n"),
        (HTTPResponse.Status(code: 100, reasonPhrase: "Continue"), "HTTP/1.1 100 Continue\r\n\r\n"),
        (HTTPResponse.Status(code: 599, reasonPhrase: "Custom Reason"), "HTTP/1.1 599 Custom Reason\r\n\r\n"),
        (HTTPResponse.Status(code: 299), "HTTP/1.1 299 \r\n\r\n"),
        (HTTPResponse.Status(code: 999, reasonPhrase: "X"), "HTTP/1.1 999 X\r\n\r\n"),
    ])
    func statusLines(_ status: HTTPResponse.Status, _ expected: String) {
        #expect(written { $0.writeHTTP1ResponseHead(HTTPResponse(status: status)) } == expected)
    }

    @Test("a request head puts Host from the authority first, then the fields")
    func requestHead() {
        let request = HTTPRequest(
            method: .post, scheme: "https", authority: "api.example.com:8443", path: "/v1/items?x=1",
            headerFields: [.userAgent: "portcullis", .contentLength: "3", .accept: "*/*"])
        let bytes = written { $0.writeHTTP1RequestHead(request) }
        #expect(bytes == "POST /v1/items?x=1 HTTP/1.1\r\nHost: api.example.com:8443\r\nUser-Agent: portcullis\r\nContent-Length: 3\r\nAccept: */*\r\n\r\n")
    }

    @Test("a request without authority has no Host line, and a missing path is written as /")
    func requestHeadWithoutAuthority() {
        var request = HTTPRequest(method: .get, scheme: nil, authority: nil, path: "/p")
        #expect(written { $0.writeHTTP1RequestHead(request) } == "GET /p HTTP/1.1\r\n\r\n")
        request.path = nil
        #expect(written { $0.writeHTTP1RequestHead(request) } == "GET / HTTP/1.1\r\n\r\n")
        let options = HTTPRequest(method: .options, scheme: nil, authority: "a", path: "*")
        #expect(written { $0.writeHTTP1RequestHead(options) } == "OPTIONS * HTTP/1.1\r\nHost: a\r\n\r\n")
    }

    @Test("field names keep the case they were created with, and repeated fields get a line each")
    func fieldCaseAndRepetition() {
        var fields = HTTPFields()
        fields.append(HTTPField(name: HTTPField.Name("x-lower")!, value: "1"))
        fields.append(HTTPField(name: .setCookie, value: "a=1"))
        fields.append(HTTPField(name: .setCookie, value: "b=2"))
        #expect(written { $0.writeHTTP1Fields(fields) } == "x-lower: 1\r\nSet-Cookie: a=1\r\nSet-Cookie: b=2\r\n")
        #expect(written { $0.writeHTTP1Fields(HTTPFields()) } == "")
    }

    @Test("a field value carrying CR or LF cannot inject a header line")
    func noHeaderInjection() {
        let fields: HTTPFields = [HTTPField.Name("X-Evil")!: "a\r\nInjected: yes"]
        let bytes = written { $0.writeHTTP1Fields(fields) }
        #expect(!bytes.contains("\r\nInjected"))
        #expect(bytes.hasSuffix("\r\n"))
        #expect(bytes.utf8.filter { $0 == 0x0A }.count == 1)
    }

    @Test("chunk headers carry the size in lowercase hex without leading zeros", arguments: [
        (0, "0"), (1, "1"), (9, "9"), (0xa, "a"), (0xf, "f"), (0x10, "10"), (0xff, "ff"), (0x100, "100"),
        (0x1000, "1000"), (0xffff, "ffff"), (0x10000, "10000"), (0x100000, "100000"), (0x7fff_ffff, "7fffffff"), (0xdead_beef, "deadbeef"),
    ])
    func chunkHeader(_ size: Int, _ hex: String) {
        #expect(written { $0.writeChunkHeader(size: size) } == hex + "\r\n")
    }

    @Test("the last chunk ends the body with an empty line, with the trailers before it if any")
    func lastChunk() {
        #expect(written { $0.writeLastChunk(trailers: nil) } == "0\r\n\r\n")
        #expect(written { $0.writeLastChunk(trailers: HTTPFields()) } == "0\r\n\r\n")
        let trailers: HTTPFields = [HTTPField.Name("X-Checksum")!: "abc", HTTPField.Name("Grpc-Status")!: "0"]
        #expect(written { $0.writeLastChunk(trailers: trailers) } == "0\r\nX-Checksum: abc\r\nGrpc-Status: 0\r\n\r\n")
    }

    @Test("what the serializer writes, the parser reads back unchanged")
    func roundTrip() throws {
        var response = ByteBuffer()
        response.writeHTTP1ResponseHead(HTTPResponse(status: .created, headerFields: [.transferEncoding: "chunked", .contentType: "application/json"]))
        for piece in ["{\"a\":", String(repeating: "1", count: 300), "}"] {
            response.writeChunkHeader(size: piece.utf8.count)
            response.writeString(piece)
            response.writeStaticString("\r\n")
        }
        response.writeLastChunk(trailers: [HTTPField.Name("Grpc-Status")!: "0"])
        let parsed = parse(String(buffer: response), role: .client, prepare: { $0.expectResponse(toHEAD: false) })
        #expect(parsed.error == nil)
        #expect(parsed.steps == [.head, .body("{\"a\":" + String(repeating: "1", count: 300) + "}"), .endWithTrailers([HTTPField.Name("Grpc-Status")!: "0"])])
        let head = try #require(parsed.responses.first)
        #expect(head.response.status == .created)
        #expect(head.response.status.reasonPhrase == "Created")

        let original = HTTPRequest(method: .put, scheme: nil, authority: "origin.internal:9000", path: "/objects/1",
                                   headerFields: [.contentLength: "2", HTTPField.Name("X-Request-Id")!: "r-1"])
        var request = ByteBuffer()
        request.writeHTTP1RequestHead(original)
        request.writeString("ok")
        let reread = parse(String(buffer: request))
        #expect(reread.steps == [.head, .body("ok"), .end])
        let requestHead = try #require(reread.requests.first)
        #expect(requestHead.request == original)
    }
}

@Suite("Forwarding edits serializer")
struct ForwardingEditsSerializerTests {
    @Test("edits replace forwarding fields and drop hop-by-hop ones while the head is written")
    func editsApplied() {
        let request = HTTPRequest(
            method: .post, scheme: nil, authority: "a", path: "/p",
            headerFields: [.connection: "keep-alive", .xForwardedFor: "1.1.1.1", .xRequestID: "old", .accept: "*/*",
                           .transferEncoding: "chunked", .expect: "100-continue", .te: "trailers"])
        let edits = ForwardingEdits(requestID: "new", forwardedFor: "1.1.1.1, 2.2.2.2", forwardedProto: "https",
                                    stripConnectionFields: true, chunked: true, teTrailers: true)
        var buffer = ByteBuffer()
        buffer.writeHTTP1RequestHead(request, edits: edits)
        #expect(String(buffer: buffer) == "POST /p HTTP/1.1\r\nHost: a\r\nAccept: */*\r\nX-Request-Id: new\r\n"
            + "X-Forwarded-For: 1.1.1.1, 2.2.2.2\r\nX-Forwarded-Proto: https\r\nTransfer-Encoding: chunked\r\nTE: trailers\r\n\r\n")
    }

    @Test("without stripping, connection fields stay but framing and forwarding fields are still replaced")
    func noStrip() {
        let request = HTTPRequest(method: .get, scheme: nil, authority: nil, path: "/",
                                  headerFields: [.connection: "close", .transferEncoding: "chunked", .xForwardedProto: "http"])
        let edits = ForwardingEdits(requestID: "r", forwardedFor: "ip", forwardedProto: "http",
                                    stripConnectionFields: false, chunked: false, teTrailers: false)
        var buffer = ByteBuffer()
        buffer.writeHTTP1RequestHead(request, edits: edits)
        #expect(String(buffer: buffer) == "GET / HTTP/1.1\r\nConnection: close\r\nX-Request-Id: r\r\nX-Forwarded-For: ip\r\nX-Forwarded-Proto: http\r\n\r\n")
    }
}

@Suite("traceparent for the next hop")
struct TraceparentTests {
    @Test("the HTTP/2 header value is the line the HTTP/1.1 serializer writes, with zero-padded hex and the sampled flag")
    func sameBytesBothWays() {
        let trace = ForwardingEdits.Traceparent(traceHigh: 0x0af7_6519_16cd_43dd, traceLow: 0x8448_eb21_1c80_319c, spanID: 0xb7, sampled: true)
        #expect(trace.headerValue == "00-0af7651916cd43dd8448eb211c80319c-00000000000000b7-01")
        var edits = ForwardingEdits(requestID: "r", forwardedFor: "1.2.3.4", forwardedProto: "http", stripConnectionFields: false, chunked: false, teTrailers: false)
        edits.traceparent = trace
        let head = written { $0.writeHTTP1RequestHead(HTTPRequest(method: .get, scheme: nil, authority: "a", path: "/"), edits: edits) }
        #expect(head.lowercased().contains("traceparent: \(trace.headerValue)\r\n"), "\(head)")
        let unsampled = ForwardingEdits.Traceparent(traceHigh: 1, traceLow: 2, spanID: 3, sampled: false)
        #expect(unsampled.headerValue == "00-00000000000000010000000000000002-0000000000000003-00")
    }
}
