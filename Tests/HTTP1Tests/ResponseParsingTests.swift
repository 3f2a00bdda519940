import HTTP1
import HTTPTypes
import NIOCore
import Testing

private func toGET(_ parser: inout HTTP1Parser) { parser.expectResponse(toHEAD: false) }
private func toHEAD(_ parser: inout HTTP1Parser) { parser.expectResponse(toHEAD: true) }

@Suite("Response parsing")
struct ResponseParsingTests {
    @Test("a status line yields version, code and reason phrase, and Content-Length frames the body")
    func statusLine() throws {
        let result = parse(head("HTTP/1.1 200 OK", "Content-Type: text/plain", "Content-Length: 5") + "hello", role: .client, prepare: toGET)
        #expect(result.error == nil)
        #expect(result.steps == [.head, .body("hello"), .end])
        let head = try #require(result.responses.first)
        #expect(head.response.status.code == 200)
        #expect(head.response.status.reasonPhrase == "OK")
        #expect(head.minorVersion == 1)
        #expect(head.keepAlive)
        #expect(head.framing == .contentLength(5))
        #expect(head.response.headerFields == [.contentType: "text/plain", .contentLength: "5"])
    }

    @Test("the reason phrase is kept as sent, spaces included, and may be empty or absent")
    func reasonPhrases() throws {
        let cases: [(String, Int, String)] = [
            ("HTTP/1.1 404 Not Found Here", 404, "Not Found Here"),
            ("HTTP/1.1 599 ", 599, ""),
            ("HTTP/1.1 299", 299, ""),
            ("HTTP/1.1 418 I'm a teapot", 418, "I'm a teapot"),
            ("HTTP/1.1 500 \tTab", 500, "\tTab"),
        ]
        for (line, code, reason) in cases {
            let result = parse(head(line, "Content-Length: 0"), role: .client, prepare: toGET)
            let head = try #require(result.responses.first, "\(line)")
            #expect(head.response.status.code == code)
            #expect(head.response.status.reasonPhrase == reason, "\(line)")
        }
    }

    @Test("an HTTP/1.0 response closes the connection unless it says keep-alive")
    func http10KeepAlive() throws {
        let plain = try #require(parse(head("HTTP/1.0 200 OK", "Content-Length: 0"), role: .client, prepare: toGET).responses.first)
        #expect(plain.minorVersion == 0)
        #expect(!plain.keepAlive)
        let kept = try #require(parse(head("HTTP/1.0 200 OK", "Content-Length: 0", "Connection: keep-alive"), role: .client, prepare: toGET).responses.first)
        #expect(kept.keepAlive)
        let closed = try #require(parse(head("HTTP/1.1 200 OK", "Content-Length: 0", "Connection: close"), role: .client, prepare: toGET).responses.first)
        #expect(!closed.keepAlive)
    }

    @Test("an HTTP/1.0 response with Transfer-Encoding never keeps the connection, whatever Connection says")
    func http10TransferEncodingCloses() throws {
        let text = head("HTTP/1.0 200 OK", "Connection: keep-alive", "Transfer-Encoding: chunked") + "2\r\nok\r\n0\r\n\r\n"
        let result = parse(text, role: .client, prepare: toGET)
        #expect(result.steps == [.head, .body("ok"), .end])
        #expect(result.responses.first?.keepAlive == false)
    }

    @Test("204 and 304 responses have no body, whatever their framing fields say")
    func noBodyStatuses() throws {
        for line in ["HTTP/1.1 204 No Content", "HTTP/1.1 304 Not Modified"] {
            let text = head(line, "Content-Length: 42") + head("HTTP/1.1 200 OK", "Content-Length: 2") + "ok"
            let result = parse(text, role: .client, prepare: { $0.expectResponse(toHEAD: false); $0.expectResponse(toHEAD: false) })
            #expect(result.error == nil)
            #expect(result.steps == [.head, .end, .head, .body("ok"), .end], "\(line)")
            #expect(result.responses.first?.framing == HTTP1BodyFraming.none)
            #expect(result.responses.first?.keepAlive == true)
        }
        let chunked = parse(head("HTTP/1.1 204 No Content", "Transfer-Encoding: chunked"), role: .client, prepare: toGET)
        #expect(chunked.steps == [.head, .end])
    }

    @Test("a response to HEAD has no body although it announces a length, and the next response has one")
    func responseToHEAD() throws {
        let text = head("HTTP/1.1 200 OK", "Content-Length: 1234") + head("HTTP/1.1 200 OK", "Content-Length: 3") + "abc"
        let result = parse(text, role: .client, prepare: { $0.expectResponse(toHEAD: true); $0.expectResponse(toHEAD: false) })
        #expect(result.error == nil)
        #expect(result.steps == [.head, .end, .head, .body("abc"), .end])
        #expect(result.responses.map(\.framing) == [HTTP1BodyFraming.none, .contentLength(3)])
        #expect(result.responses.first?.response.headerFields[.contentLength] == "1234")

        let chunked = parse(head("HTTP/1.1 200 OK", "Transfer-Encoding: chunked"), role: .client, prepare: toHEAD)
        #expect(chunked.steps == [.head, .end])
        let untilClose = parse(head("HTTP/1.1 200 OK"), role: .client, closeAtEnd: true, prepare: toHEAD)
        #expect(untilClose.steps == [.head, .end])
        #expect(untilClose.responses.first?.keepAlive == true)
    }

    @Test("100 Continue is consumed and only the final response is reported, for HEAD too")
    func interimResponsesSkipped() throws {
        let text = head("HTTP/1.1 100 Continue") + head("HTTP/1.1 103 Early Hints", "Link: </s.css>; rel=preload") + head("HTTP/1.1 201 Created", "Content-Length: 2") + "ok"
        let result = parse(text, role: .client, prepare: toGET)
        #expect(result.error == nil)
        #expect(result.steps == [.head, .body("ok"), .end])
        #expect(result.responses.first?.response.status.code == 201)
        #expect(result.responses.first?.response.headerFields[HTTPField.Name("Link")!] == nil)

        let forHEAD = parse(head("HTTP/1.1 100 Continue") + head("HTTP/1.1 200 OK", "Content-Length: 9") + head("HTTP/1.1 200 OK", "Content-Length: 1") + "x",
                            role: .client, prepare: { $0.expectResponse(toHEAD: true); $0.expectResponse(toHEAD: false) })
        #expect(forHEAD.steps == [.head, .end, .head, .body("x"), .end])
    }

    @Test("101 Switching Protocols is refused, since the gateway does not relay upgrades")
    func switchingProtocols() {
        let result = expectRejection(head("HTTP/1.1 101 Switching Protocols", "Upgrade: websocket", "Connection: upgrade"), status: 400, role: .client, prepare: toGET)
        #expect(result.recorded.isEmpty)
    }

    @Test("without Content-Length or chunked, the body runs until the connection closes and the connection is not reused")
    func untilClose() throws {
        let result = parse(head("HTTP/1.1 200 OK", "Content-Type: text/plain") + "all of this\r\nis body", role: .client, closeAtEnd: true, prepare: toGET)
        #expect(result.error == nil)
        #expect(result.steps == [.head, .body("all of this\r\nis body"), .end])
        let head = try #require(result.responses.first)
        #expect(head.framing == .untilClose)
        #expect(!head.keepAlive)
    }

    @Test("a close-delimited body does not end until finish() is called")
    func untilCloseWaitsForFinish() throws {
        var parser = HTTP1Parser(role: .client)
        parser.expectResponse(toHEAD: false)
        var buffer = ByteBuffer(string: head("HTTP/1.1 200 OK") + "abc")
        guard case .responseHead? = try parser.next(&buffer) else { Issue.record("no head"); return }
        guard case .body(let piece)? = try parser.next(&buffer) else { Issue.record("no body"); return }
        #expect(String(buffer: piece) == "abc")
        #expect(try parser.next(&buffer) == nil)
        #expect(parser.isInBody)
        guard case .end(nil)? = try parser.finish() else { Issue.record("finish() did not end the body"); return }
        #expect(parser.isBetweenMessages)
    }

    @Test("a final transfer coding other than chunked makes the body run until close")
    func nonChunkedCodingUntilClose() throws {
        let result = parse(head("HTTP/1.1 200 OK", "Transfer-Encoding: gzip") + "\u{1F}zipped", role: .client, closeAtEnd: true, prepare: toGET)
        #expect(result.responses.first?.framing == .untilClose)
        #expect(result.steps == [.head, .body("\u{1F}zipped"), .end])
    }

    @Test("a chunked response is de-chunked with its trailers")
    func chunkedResponse() throws {
        let text = head("HTTP/1.1 200 OK", "Transfer-Encoding: chunked", "Trailer: Grpc-Status") + "4\r\ndata\r\n0\r\nGrpc-Status: 0\r\n\r\n"
        let result = parse(text, role: .client, prepare: toGET)
        #expect(result.error == nil)
        #expect(result.steps == [.head, .body("data"), .endWithTrailers([HTTPField.Name("Grpc-Status")!: "0"])])
        #expect(result.responses.first?.keepAlive == true)
    }

    @Test("a body cut short by the close makes finish() throw", arguments: [
        head("HTTP/1.1 200 OK", "Content-Length: 10") + "short",
        head("HTTP/1.1 200 OK", "Content-Length: 10"),
        head("HTTP/1.1 200 OK", "Transfer-Encoding: chunked") + "5\r\nhel",
        head("HTTP/1.1 200 OK", "Transfer-Encoding: chunked") + "5\r\nhello\r\n",
        "HTTP/1.1 200 OK\r\nContent-Len",
    ])
    func truncatedBody(_ text: String) {
        expectRejection(text, status: 400, role: .client, closeAtEnd: true, prepare: toGET)
    }

    @Test("finish() with nothing pending reports nothing")
    func finishBetweenResponses() throws {
        var parser = HTTP1Parser(role: .client)
        #expect(try parser.finish() == nil)
        let result = parse(head("HTTP/1.1 200 OK", "Content-Length: 1") + "x", role: .client, closeAtEnd: true, prepare: toGET)
        #expect(result.error == nil)
        #expect(result.steps == [.head, .body("x"), .end])
    }

    @Test("duplicate Content-Length fields are accepted when they agree and refused with 400 when they differ")
    func duplicateContentLength() throws {
        let same = parse(head("HTTP/1.1 200 OK", "Content-Length: 3", "Content-Length: 3") + "abc", role: .client, prepare: toGET)
        #expect(same.error == nil)
        #expect(same.responses.first?.framing == .contentLength(3))
        #expect(same.steps == [.head, .body("abc"), .end])

        let different = expectRejection(head("HTTP/1.1 200 OK", "Content-Length: 3", "Content-Length: 4") + "abcd", status: 400, role: .client, prepare: toGET)
        #expect(different.recorded.isEmpty)
    }

    @Test("a response with framing that cannot be trusted is refused with 400", arguments: [
        head("HTTP/1.1 200 OK", "Content-Length: 5", "Transfer-Encoding: chunked") + "0\r\n\r\n",
        head("HTTP/1.1 200 OK", "Content-Length: -1"),
        head("HTTP/1.1 200 OK", "Content-Length: 5 5"),
        head("HTTP/1.1 200 OK", "Content-Length: 3", "Content-Length: x"),
        head("HTTP/1.1 200 OK", "Transfer-Encoding: chunked,,"),
    ])
    func untrustworthyFraming(_ text: String) {
        let result = expectRejection(text, status: 400, role: .client, prepare: toGET)
        #expect(result.recorded.isEmpty)
    }

    @Test("a malformed status line is refused", arguments: [
        ("HTTP/1.1 20 OK", 400), ("HTTP/1.1 2000 OK", 400), ("HTTP/1.1 abc OK", 400), ("HTTP/1.1  200 OK", 400),
        ("HTTP/1.1 099 Low", 400), ("HTTP/1.1 200\tOK", 400), ("HTTP/1.1 200 O\u{1}K", 400), ("http/1.1 200 OK", 400),
        ("HTTP/1.x 200 OK", 400), ("HTTP/2.0 200 OK", 505), ("HTTP/1.1", 400), ("", 400), ("ICY 200 OK", 400),
    ])
    func malformedStatusLine(_ line: String, _ status: Int) {
        let result = expectRejection(head(line, "Content-Length: 0"), status: status, role: .client, prepare: toGET)
        #expect(result.recorded.isEmpty)
    }

    @Test("response heads obey the same field syntax and limits as requests")
    func responseFieldSyntax() {
        expectRejection(head("HTTP/1.1 200 OK", "Content-Length : 0"), status: 400, role: .client, prepare: toGET)
        expectRejection("HTTP/1.1 200 OK\nContent-Length: 0\r\n\r\n", status: 400, role: .client, prepare: toGET)
        expectRejection(head("HTTP/1.1 200 OK", "Content-Length: 0", "X-A: b", " folded"), status: 400, role: .client, prepare: toGET)
        expectRejection(head("HTTP/1.1 200 OK", "A: 1", "B: 2", "C: 3"), status: 431, role: .client, limits: HTTP1Limits(maxHeaderCount: 2), prepare: toGET)
        expectRejection(head("HTTP/1.1 200 OK", "Set-Cookie: " + String(repeating: "s", count: 300)), status: 431, role: .client, limits: HTTP1Limits(maxHeadBytes: 256), prepare: toGET)
    }

    @Test("keep-alive responses follow each other on one connection")
    func pipelinedResponses() throws {
        let text = head("HTTP/1.1 200 OK", "Content-Length: 1") + "a"
            + head("HTTP/1.1 404 Not Found", "Transfer-Encoding: chunked") + "1\r\nb\r\n0\r\n\r\n"
            + head("HTTP/1.1 500 Internal Server Error", "Content-Length: 1", "Connection: close") + "c"
        let result = parse(text, role: .client, prepare: { for _ in 0..<3 { $0.expectResponse(toHEAD: false) } })
        #expect(result.error == nil)
        #expect(result.steps == [.head, .body("a"), .end, .head, .body("b"), .end, .head, .body("c"), .end])
        #expect(result.responses.map(\.response.status.code) == [200, 404, 500])
        #expect(result.responses.map(\.keepAlive) == [true, true, false])
    }

    @Test("the client parser does not skip empty lines before a status line")
    func noLeadingEmptyLines() {
        expectRejection("\r\n" + head("HTTP/1.1 200 OK", "Content-Length: 0"), status: 400, role: .client, prepare: toGET)
    }
}
