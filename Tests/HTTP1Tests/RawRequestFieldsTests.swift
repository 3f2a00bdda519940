import HTTP1
import HTTPTypes
import NIOCore
import Testing

/// The edge's mode: request fields stay bytes, the parser notes what the proxy reads, and the head
/// goes upstream as the lines it came in (minus what the forwarding edits replace or drop).
@Suite("Raw request fields")
struct RawRequestFieldsTests {
    private func rawHead(_ text: String) throws -> HTTP1RequestHead {
        var parser = HTTP1Parser(role: .server, keepsRequestFieldsRaw: true)
        var buffer = ByteBuffer(string: text)
        guard case .requestHead(let head)? = try parser.next(&buffer) else {
            Issue.record("no request head")
            throw HTTP1ParseError.bad("no head")
        }
        return head
    }

    @Test("the parser notes request id, every X-Forwarded-For, traceparent, content type, TE trailers and nominated fields")
    func notes() throws {
        let parsed = try rawHead(head("POST /rpc HTTP/1.1", "Host: api", "x-request-ID: r-1", "X-Request-Id: r-2",
                                    "X-Forwarded-For: 198.51.100.1", "Content-Type: application/grpc", "x-forwarded-for: 10.0.0.1, 10.0.0.2",
                                    "Traceparent: 00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01", "TE: deflate, Trailers",
                                    "Connection: keep-alive, X-Drop", "X-Drop: 1", "Content-Length: 0"))
        let raw = try #require(parsed.rawFields)
        #expect(parsed.request.headerFields.isEmpty)
        #expect(parsed.request.authority == "api")
        #expect(raw.requestID == "r-1")
        #expect(raw.forwardedFor == "198.51.100.1, 10.0.0.1, 10.0.0.2")
        #expect(raw.traceparent == "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01")
        #expect(raw.contentType == "application/grpc")
        #expect(raw.asksForTrailers)
        #expect(raw.connectionNominatesFields)
        #expect(parsed.hasConnectionSpecificFields)
        // Built on demand, the fields are those of the other mode: everything but Host, in order.
        let fields = raw.materialize()
        #expect(fields.count == 10)
        #expect(fields[HTTPField.Name("X-Drop")!] == "1")
        #expect(fields[.hostField] == nil)
    }

    @Test("a plain request has no notes and no connection-specific fields")
    func plain() throws {
        let parsed = try rawHead(head("GET / HTTP/1.1", "Host: a", "Accept: */*"))
        let raw = try #require(parsed.rawFields)
        #expect(raw.requestID == nil && raw.forwardedFor == nil && raw.traceparent == nil && raw.contentType == nil)
        #expect(!raw.asksForTrailers && !raw.connectionNominatesFields && !parsed.hasConnectionSpecificFields)
        #expect(String(buffer: raw.lines) == "Host: a\r\nAccept: */*\r\n")
    }

    @Test("forwarded as bytes: sender's spelling kept, Host from the authority, replaced and hop-by-hop lines dropped in any case")
    func serialized() throws {
        let parsed = try rawHead(head("GET /p?q HTTP/1.1", "hOsT: a.example", "accept: */*", "X-REQUEST-ID: old", "Keep-Alive: 5",
                                    "x-forwarded-proto: http", "Upgrade: h2c", "Connection: upgrade", "X-Custom:  spaced value",
                                    "TE: trailers", "traceparent: 00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01"))
        let raw = try #require(parsed.rawFields)
        var edits = ForwardingEdits(requestID: "new", forwardedFor: "203.0.113.9", forwardedProto: "https",
                                    stripConnectionFields: parsed.hasConnectionSpecificFields, chunked: false, teTrailers: raw.asksForTrailers)
        edits.traceparent = .init(traceHigh: 1, traceLow: 2, spanID: 3, sampled: true)
        var buffer = ByteBuffer()
        buffer.writeHTTP1RequestHead(parsed.request, rawFields: raw, edits: edits)
        #expect(String(buffer: buffer) == "GET /p?q HTTP/1.1\r\nHost: a.example\r\naccept: */*\r\nX-Custom:  spaced value\r\n"
            + "X-Request-Id: new\r\nX-Forwarded-For: 203.0.113.9\r\nX-Forwarded-Proto: https\r\nTE: trailers\r\n"
            + "traceparent: 00-00000000000000010000000000000002-0000000000000003-01\r\n\r\n")

        // Without connection-specific fields to strip, only the replaced ones go.
        let plain = try rawHead(head("GET / HTTP/1.1", "Host: a", "X-Forwarded-For: 1.1.1.1", "Via: 1.1 lb"))
        var out = ByteBuffer()
        out.writeHTTP1RequestHead(plain.request, rawFields: try #require(plain.rawFields),
                                  edits: ForwardingEdits(requestID: "r", forwardedFor: "1.1.1.1, ip", forwardedProto: "http",
                                                         stripConnectionFields: false, chunked: false, teTrailers: false))
        #expect(String(buffer: out) == "GET / HTTP/1.1\r\nHost: a\r\nVia: 1.1 lb\r\nX-Request-Id: r\r\nX-Forwarded-For: 1.1.1.1, ip\r\nX-Forwarded-Proto: http\r\n\r\n")

        // gRPC: the received grpc-timeout gives way to what the gateway has left; without one it stays.
        let grpc = try rawHead(head("POST /svc/Call HTTP/1.1", "Host: a", "Grpc-Timeout: 10S", "content-type: application/grpc"))
        var grpcEdits = ForwardingEdits(requestID: "r", forwardedFor: "ip", forwardedProto: "http", stripConnectionFields: false, chunked: false, teTrailers: false)
        var kept = ByteBuffer()
        kept.writeHTTP1RequestHead(grpc.request, rawFields: try #require(grpc.rawFields), edits: grpcEdits)
        #expect(String(buffer: kept).contains("Grpc-Timeout: 10S\r\n"))
        grpcEdits.grpcTimeout = "1500m"
        var rewritten = ByteBuffer()
        rewritten.writeHTTP1RequestHead(grpc.request, rawFields: try #require(grpc.rawFields), edits: grpcEdits)
        #expect(String(buffer: rewritten) == "POST /svc/Call HTTP/1.1\r\nHost: a\r\ncontent-type: application/grpc\r\n"
            + "X-Request-Id: r\r\nX-Forwarded-For: ip\r\nX-Forwarded-Proto: http\r\ngrpc-timeout: 1500m\r\n\r\n")
    }

    @Test("every forwarding edit at once, long values, both ways of writing the head: the same fields, in the room reserved for them")
    func allForwardingEdits() throws {
        let longPath = "/" + String(repeating: "p", count: 3000), longHost = String(repeating: "h", count: 200) + ".example"
        let parsed = try rawHead(head("POST \(longPath) HTTP/1.1", "Host: \(longHost)", "X-Big: " + String(repeating: "v", count: 4000),
                                    "Transfer-Encoding: chunked", "Connection: upgrade", "Upgrade: websocket", "x-last: 1"))
        let raw = try #require(parsed.rawFields)
        var edits = ForwardingEdits(requestID: String(repeating: "r", count: 128), forwardedFor: String(repeating: "1.2.3.4, ", count: 50) + "5.6.7.8",
                                    forwardedProto: "https", stripConnectionFields: true, chunked: true, teTrailers: true)
        edits.upgrade = "websocket"
        edits.grpcTimeout = "99999999n"
        edits.traceparent = .init(traceHigh: .max, traceLow: .max, spanID: .max, sampled: false)
        var fromLines = ByteBuffer()
        fromLines.writeHTTP1RequestHead(parsed.request, rawFields: raw, edits: edits)
        var request = parsed.request
        request.headerFields = raw.materialize()
        var fromFields = ByteBuffer()
        fromFields.writeHTTP1RequestHead(request, edits: edits)
        let text = String(buffer: fromLines)
        #expect(text == String(buffer: fromFields))
        #expect(text.hasPrefix("POST \(longPath) HTTP/1.1\r\nHost: \(longHost)\r\nX-Big: v"))
        #expect(text.hasSuffix("x-last: 1\r\nX-Request-Id: \(edits.requestID)\r\nX-Forwarded-For: \(edits.forwardedFor)\r\nX-Forwarded-Proto: https\r\n"
            + "Transfer-Encoding: chunked\r\nTE: trailers\r\nConnection: Upgrade\r\nUpgrade: websocket\r\ngrpc-timeout: 99999999n\r\n"
            + "traceparent: 00-ffffffffffffffffffffffffffffffff-ffffffffffffffff-00\r\n\r\n"))
    }

    @Test("a filter's edits on received lines: added fields kept as lines, removal drops received and added ones, reads and the built fields see them")
    func fieldEdits() throws {
        let parsed = try rawHead(head("GET / HTTP/1.1", "Host: a", "X-Old: 1", "accept: */*", "x-old: 2", "X-Pad:\t padded  value \t"))
        var raw = try #require(parsed.rawFields)
        let old = HTTPField.Name("x-old")!, added = HTTPField.Name("X-Added")!, other = HTTPField.Name("x-other")!
        // A received value is read without the whitespace around it, as HTTPFields holds it.
        var padded: [String] = []
        raw.forEachValue(of: HTTPField.Name("x-pad")!) { padded.append(String(decoding: $0, as: UTF8.self)) }
        #expect(padded == ["padded  value"])
        #expect(raw.materialize()[HTTPField.Name("x-pad")!] == "padded  value")
        raw.edits.append(HTTPField(name: added, value: "one"))
        "two  words".utf8.withContiguousStorageIfAvailable { raw.edits.append(added, plainValue: UnsafeRawBufferPointer($0)) }
        raw.edits.append(HTTPField(name: other, value: "kept"))
        raw.removeField(old)
        var seen: [String] = []
        raw.forEachValue(of: added) { seen.append(String(decoding: $0, as: UTF8.self)) }
        #expect(seen == ["one", "two  words"])
        seen = []
        raw.forEachValue(of: old) { seen.append(String(decoding: $0, as: UTF8.self)) }
        #expect(seen.isEmpty)

        var buffer = ByteBuffer()
        let edits = ForwardingEdits(requestID: "r", forwardedFor: "ip", forwardedProto: "http", stripConnectionFields: false, chunked: false, teTrailers: false)
        buffer.writeHTTP1RequestHead(parsed.request, rawFields: raw, edits: edits)
        #expect(String(buffer: buffer) == "GET / HTTP/1.1\r\nHost: a\r\naccept: */*\r\nX-Pad:\t padded  value \t\r\nX-Added: one\r\nX-Added: two  words\r\nx-other: kept\r\n"
            + "X-Request-Id: r\r\nX-Forwarded-For: ip\r\nX-Forwarded-Proto: http\r\n\r\n")

        // Removing a name that was only added takes its lines out of the added ones, keeping the others' order.
        raw.removeField(added)
        #expect(raw.edits.removed == ["x-old"])
        #expect(String(buffer: try #require(raw.edits.addedLines)) == "x-other: kept\r\n")
        let fields = raw.materialize()
        #expect(fields.map { "\($0.name): \($0.value)" } == ["accept: */*", "X-Pad: padded  value", "x-other: kept"])
        raw.removeField(other)
        #expect(raw.edits.addedLines == nil)
    }

    @Test("a WebSocket handshake: Connection lists upgrade (any case, among others) and Upgrade is websocket")
    func webSocketHandshake() throws {
        func asks(_ fields: String...) throws -> Bool {
            let parsed = try rawHead((["GET /chat HTTP/1.1", "Host: a"] + fields).map { $0 + "\r\n" }.joined() + "\r\n")
            return WebSocketUpgrade.isRequested(try #require(parsed.rawFields))
        }
        #expect(try asks("Upgrade: websocket", "Connection: Upgrade"))
        #expect(try asks("connection: keep-alive, UPGRADE", "upgrade:  WebSocket "))
        #expect(try asks("Connection: keep-alive", "Connection: upgrade", "Upgrade: websocket"))
        #expect(try !asks("Upgrade: websocket"))
        #expect(try !asks("Connection: upgrade"))
        #expect(try !asks("Connection: upgrade", "Upgrade: h2c"))
        #expect(try !asks("Connection: upgraded", "Upgrade: websocket"))
    }
}

@Suite("Forwarded response fields")
struct ForwardedResponseFieldsTests {
    private func responseHead(_ text: String) throws -> HTTP1ResponseHead {
        var parser = HTTP1Parser(role: .client)
        parser.expectResponse(toHEAD: false)
        var buffer = ByteBuffer(string: text)
        guard case .responseHead(let head)? = try parser.next(&buffer) else { throw HTTP1ParseError.bad("no head") }
        return head
    }

    /// The forwarded field lines alone: the whole head without its status line and final empty line.
    private func forwarded(_ head: HTTP1ResponseHead, strip: Bool, dropLength: Bool) -> String {
        var buffer = ByteBuffer()
        buffer.writeHTTP1ResponseHead(forwarding: head, stripHopByHop: strip, dropLength: dropLength, extraFields: nil)
        let text = String(buffer: buffer)
        let statusLine = "HTTP/1.1 \(head.status.code) \(head.status.reasonPhrase)\r\n"
        #expect(text.hasPrefix(statusLine) && text.hasSuffix("\r\n\r\n"), "\(text)")
        // By bytes: a String counts "\r\n" as one character.
        return String(decoding: text.utf8.dropFirst(statusLine.utf8.count).dropLast(2), as: UTF8.self)
    }

    @Test("a forwarded head: status line with its reason, kept lines, this hop's extra lines, the empty line")
    func wholeForwardedHead() throws {
        let head = try responseHead("HTTP/1.1 404 Not There\r\nConnection: keep-alive\r\nContent-Length: 3\r\nX-A: b\r\n\r\n")
        var buffer = ByteBuffer()
        buffer.writeHTTP1ResponseHead(forwarding: head, stripHopByHop: true, dropLength: true,
                                      extraFields: "Transfer-Encoding: chunked\r\nConnection: close\r\n")
        #expect(String(buffer: buffer) == "HTTP/1.1 404 Not There\r\nX-A: b\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n")
    }

    @Test("lines noted while parsing are left out by offset, exactly as classifying every line would")
    func notedLinesMatchClassification() throws {
        let few = "HTTP/1.1 200 OK\r\nServer: s\r\nConnection: keep-alive\r\nContent-Length: 5\r\nKeep-Alive: timeout=5\r\nX-A: b\r\n\r\n"
        let many = "HTTP/1.1 200 OK\r\nConnection: keep-alive\r\nA: 1\r\nKeep-Alive: 5\r\nUpgrade: x\r\nTrailer: y\r\nProxy-Connection: z\r\nContent-Length: 5\r\nB: 2\r\n\r\n"
        for text in [few, many] {
            let head = try responseHead(text)
            #expect(head.droppableLines.overflow == (text == many))
            var reclassified = head
            reclassified.droppableLines = .unknown
            for strip in [false, true] {
                for dropLength in [false, true] {
                    #expect(forwarded(head, strip: strip, dropLength: dropLength) == forwarded(reclassified, strip: strip, dropLength: dropLength))
                }
            }
        }
        let head = try responseHead(few)
        #expect(forwarded(head, strip: true, dropLength: true) == "Server: s\r\nX-A: b\r\n")
        #expect(forwarded(head, strip: true, dropLength: false) == "Server: s\r\nContent-Length: 5\r\nX-A: b\r\n")
        #expect(forwarded(head, strip: false, dropLength: false) == String(buffer: head.rawFields))
        // A changed head (a sticky cookie appended) is classified line by line again.
        var changed = head
        changed.rawFields.writeString("Set-Cookie: s=1\r\n")
        #expect(changed.droppableLines.overflow)
        #expect(forwarded(changed, strip: true, dropLength: true) == "Server: s\r\nX-A: b\r\nSet-Cookie: s=1\r\n")
    }
}
