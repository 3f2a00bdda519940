import HTTP1
import HTTPTypes
import NIOCore
import Testing

@Suite("Request parsing")
struct RequestParsingTests {
    @Test("a GET with Host yields method, authority and path, and Host moves out of the fields")
    func simpleGet() throws {
        let result = parse(head("GET /index.html?q=1 HTTP/1.1", "Host: example.com", "User-Agent: probe/1", "Accept: */*"))
        #expect(result.error == nil)
        #expect(result.steps == [.head, .end])
        #expect(result.leftover.isEmpty)
        let head = try #require(result.requests.first)
        #expect(head.request.method == .get)
        #expect(head.request.scheme == nil)
        #expect(head.request.authority == "example.com")
        #expect(head.request.path == "/index.html?q=1")
        #expect(head.request.headerFields[.hostField] == nil)
        #expect(head.request.headerFields == [.userAgent: "probe/1", .accept: "*/*"])
        #expect(head.minorVersion == 1)
        #expect(head.keepAlive)
        #expect(head.framing == HTTP1BodyFraming.none)
        #expect(!head.expectsContinue)
    }

    @Test("HTTP/1.1 keeps the connection alive unless Connection says close, in any case and list position")
    func keepAliveHTTP11() throws {
        for (connection, expected) in [("close", false), ("Close", false), ("keep-alive, close", false), ("upgrade", true), ("keep-alive", true)] {
            let result = parse(head("GET / HTTP/1.1", "Host: a", "Connection: \(connection)"))
            let head = try #require(result.requests.first)
            #expect(head.keepAlive == expected, "Connection: \(connection)")
            // Connection stays for the hop-by-hop stripping that follows.
            #expect(head.request.headerFields[.connection] == connection)
        }
    }

    @Test("HTTP/1.0 closes the connection unless the client asks for keep-alive, and needs no Host")
    func keepAliveHTTP10() throws {
        let plain = try #require(parse(head("GET / HTTP/1.0")).requests.first)
        #expect(plain.minorVersion == 0)
        #expect(!plain.keepAlive)
        #expect(plain.request.authority == nil)

        let asked = try #require(parse(head("GET / HTTP/1.0", "Connection: Keep-Alive")).requests.first)
        #expect(asked.keepAlive)

        let both = try #require(parse(head("GET / HTTP/1.0", "Connection: keep-alive", "Connection: close")).requests.first)
        #expect(!both.keepAlive)
    }

    @Test("a higher HTTP/1.x minor version is handled as HTTP/1.1")
    func higherMinorVersion() throws {
        let request = try #require(parse(head("GET / HTTP/1.7", "Host: a")).requests.first)
        #expect(request.minorVersion == 1)
        #expect(request.keepAlive)
    }

    @Test("a POST body framed by Content-Length arrives intact across feeds and ends the message")
    func postWithContentLength() throws {
        let text = head("POST /upload HTTP/1.1", "Host: a", "Content-Type: text/plain", "Content-Length: 11") + "hello world"
        let result = parse(text)
        #expect(result.error == nil)
        #expect(result.steps == [.head, .body("hello world"), .end])
        let head = try #require(result.requests.first)
        #expect(head.request.method == .post)
        #expect(head.framing == .contentLength(11))
        #expect(head.request.headerFields[.contentLength] == "11")
    }

    @Test("a body split over two reads comes out as two slices and then the end")
    func bodyPiecesFollowTheReads() throws {
        var parser = HTTP1Parser(role: .server)
        var buffer = ByteBuffer(string: head("PUT /x HTTP/1.1", "Host: a", "Content-Length: 8") + "abc")
        guard case .requestHead(let head)? = try parser.next(&buffer) else { Issue.record("no head"); return }
        #expect(head.framing == .contentLength(8))
        #expect(parser.isInBody)
        guard case .body(let first)? = try parser.next(&buffer) else { Issue.record("no first body piece"); return }
        #expect(String(buffer: first) == "abc")
        #expect(try parser.next(&buffer) == nil)

        buffer.writeString("defgh")
        guard case .body(let second)? = try parser.next(&buffer) else { Issue.record("no second body piece"); return }
        #expect(String(buffer: second) == "defgh")
        guard case .end(nil)? = try parser.next(&buffer) else { Issue.record("no end"); return }
        #expect(try parser.next(&buffer) == nil)
        #expect(parser.isBetweenMessages)
    }

    @Test("the parser never reads past a Content-Length body into the next request")
    func contentLengthStopsAtItsEnd() throws {
        let text = head("POST /a HTTP/1.1", "Host: a", "Content-Length: 3") + "xyz" + head("GET /b HTTP/1.1", "Host: a")
        let result = parse(text)
        #expect(result.steps == [.head, .body("xyz"), .end, .head, .end])
        #expect(result.requests.map(\.request.path) == ["/a", "/b"])
    }

    @Test("Content-Length: 0 means no body at all")
    func zeroContentLength() throws {
        let result = parse(head("POST / HTTP/1.1", "Host: a", "Content-Length: 0"))
        #expect(result.steps == [.head, .end])
        #expect(result.requests.first?.framing == HTTP1BodyFraming.none)
    }

    @Test("an HTTP/1.0 request may carry a Content-Length body")
    func http10Body() throws {
        let result = parse(head("POST / HTTP/1.0", "Content-Length: 2") + "ok")
        #expect(result.steps == [.head, .body("ok"), .end])
    }

    @Test("pipelined requests in one buffer come out one after the other, in order")
    func pipelined() throws {
        let text = head("GET /1 HTTP/1.1", "Host: a")
            + head("POST /2 HTTP/1.1", "Host: a", "Content-Length: 4") + "body"
            + head("DELETE /3 HTTP/1.1", "Host: a", "Connection: close")
        let result = parse(text)
        #expect(result.error == nil)
        #expect(result.steps == [.head, .end, .head, .body("body"), .end, .head, .end])
        #expect(result.requests.map(\.request.method) == [.get, .post, .delete])
        #expect(result.requests.map(\.request.path) == ["/1", "/2", "/3"])
        #expect(result.requests.map(\.keepAlive) == [true, true, false])
    }

    @Test("the bytes of an incomplete next request stay in the buffer")
    func partialNextRequestStays() throws {
        let result = parse(head("GET /1 HTTP/1.1", "Host: a") + "GET /2 HT")
        #expect(result.steps == [.head, .end])
        #expect(result.leftover == "GET /2 HT")
    }

    @Test("empty lines before a request line are ignored")
    func leadingEmptyLines() throws {
        let one = parse("\r\n" + head("GET / HTTP/1.1", "Host: a"))
        #expect(one.error == nil)
        #expect(one.steps == [.head, .end])

        let four = parse("\r\n\r\n\r\n\r\n" + head("GET / HTTP/1.1", "Host: a"))
        #expect(four.error == nil)
        #expect(four.steps == [.head, .end])
    }

    @Test("a CRLF that a client sends after a body is ignored before the next request")
    func emptyLineAfterBody() throws {
        let text = head("POST /a HTTP/1.1", "Host: a", "Content-Length: 2") + "hi\r\n" + head("GET /b HTTP/1.1", "Host: a")
        let result = parse(text)
        #expect(result.error == nil)
        #expect(result.requests.map(\.request.path) == ["/a", "/b"])
    }

    @Test("an absolute-form target sets scheme, authority and path, and wins over Host")
    func absoluteForm() throws {
        let result = parse(head("GET http://origin.example:8080/a/b?c=d HTTP/1.1", "Host: ignored.example"))
        let head = try #require(result.requests.first)
        #expect(head.request.scheme == "http")
        #expect(head.request.authority == "origin.example:8080")
        #expect(head.request.path == "/a/b?c=d")
        #expect(head.request.headerFields[.hostField] == nil)
    }

    @Test("an absolute-form target without a path gets the path /")
    func absoluteFormWithoutPath() throws {
        let bare = try #require(parse(head("GET HTTPS://secure.example HTTP/1.1", "Host: secure.example")).requests.first)
        #expect(bare.request.scheme == "https")
        #expect(bare.request.authority == "secure.example")
        #expect(bare.request.path == "/")

        let query = try #require(parse(head("GET http://a.example?x=1 HTTP/1.1", "Host: a.example")).requests.first)
        #expect(query.request.path == "/?x=1")
    }

    @Test("OPTIONS * is accepted with the path *")
    func optionsAsterisk() throws {
        let result = parse(head("OPTIONS * HTTP/1.1", "Host: a"))
        let head = try #require(result.requests.first)
        #expect(head.request.method == .options)
        #expect(head.request.path == "*")
        #expect(head.request.authority == "a")
    }

    @Test("Expect: 100-continue is reported for HTTP/1.1, in any case, and the body still follows")
    func expectContinue() throws {
        let text = head("PUT /big HTTP/1.1", "Host: a", "Content-Length: 3", "Expect: 100-Continue") + "abc"
        let result = parse(text)
        let head = try #require(result.requests.first)
        #expect(head.expectsContinue)
        #expect(result.steps == [.head, .body("abc"), .end])
    }

    @Test("Expect is ignored in HTTP/1.0 and for values other than 100-continue")
    func expectIgnored() throws {
        let old = try #require(parse(head("PUT / HTTP/1.0", "Content-Length: 0", "Expect: 100-continue")).requests.first)
        #expect(!old.expectsContinue)
        let other = try #require(parse(head("PUT / HTTP/1.1", "Host: a", "Expect: something-else")).requests.first)
        #expect(!other.expectsContinue)
    }

    @Test("field names keep their case, values lose surrounding whitespace, repeated fields keep their order")
    func fieldDetails() throws {
        let result = parse(head("GET / HTTP/1.1", "host: a", "x-lower: \t  spaced value \t", "X-Multi: 1", "X-Multi: 2", "Empty:"))
        let fields = try #require(result.requests.first).request.headerFields
        #expect(fields.map(\.name.rawName) == ["x-lower", "X-Multi", "X-Multi", "Empty"])
        #expect(fields[HTTPField.Name("X-Lower")!] == "spaced value")
        #expect(fields[values: HTTPField.Name("x-multi")!] == ["1", "2"])
        #expect(fields[HTTPField.Name("Empty")!] == "")
    }

    @Test("a tab and bytes above 0x7F are allowed inside a field value")
    func obsTextAndTabInValue() throws {
        let bytes = Array(head("GET / HTTP/1.1", "Host: a").utf8.dropLast(2)) + Array("X-Tab: a\tb\r\nX-Latin: caf".utf8) + [0xE9] + Array("\r\n\r\n".utf8)
        let result = parse(bytes: bytes)
        #expect(result.error == nil)
        #expect(result.requests.first?.request.headerFields[HTTPField.Name("X-Tab")!] == "a\tb")
    }

    @Test("Host may carry a port, an IPv4 address or a bracketed IPv6 literal")
    func hostForms() throws {
        for host in ["example.com:8443", "10.0.0.1", "[::1]:8080", "[fe80::1%25eth0]", "xn--bcher-kva.example", "a.example:", "[v1.fe]:1", "a!$&'()*+,;=b"] {
            let result = parse(head("GET / HTTP/1.1", "Host: \(host)"))
            #expect(result.error == nil, "Host: \(host)")
            #expect(result.requests.first?.request.authority == host)
        }
    }

    @Test("an extension method is accepted as sent, case and all")
    func extensionMethod() throws {
        let purge = try #require(parse(head("PURGE /cache HTTP/1.1", "Host: a")).requests.first)
        #expect(purge.request.method.rawValue == "PURGE")
        let lower = try #require(parse(head("get / HTTP/1.1", "Host: a")).requests.first)
        #expect(lower.request.method.rawValue == "get")
    }

    @Test("a target of exactly the URI limit, a head of exactly the head limit and exactly the field limit are accepted")
    func limitsAreInclusive() throws {
        let uriLimit = HTTP1Limits(maxURIBytes: 32)
        let path = "/" + String(repeating: "u", count: 31)
        #expect(parse(head("GET \(path) HTTP/1.1", "Host: a"), limits: uriLimit).error == nil)

        let text = head("GET / HTTP/1.1", "Host: a", "X-Pad: 0123456789")
        #expect(parse(text, limits: HTTP1Limits(maxHeadBytes: text.utf8.count)).error == nil)

        let fieldLimit = HTTP1Limits(maxHeaderCount: 3)
        #expect(parse(head("GET / HTTP/1.1", "Host: a", "A: 1", "B: 2"), limits: fieldLimit).error == nil)
    }

    @Test("the parser is between messages before a request and after its end, not in the middle")
    func betweenMessages() throws {
        var parser = HTTP1Parser(role: .server)
        #expect(parser.isBetweenMessages)
        var buffer = ByteBuffer(string: "GET / HTTP/1.1\r\nHo")
        #expect(try parser.next(&buffer) == nil)
        #expect(!parser.isBetweenMessages)
        buffer.writeString("st: a\r\n\r\n")
        guard case .requestHead? = try parser.next(&buffer) else { Issue.record("no head"); return }
        #expect(!parser.isBetweenMessages)
        guard case .end? = try parser.next(&buffer) else { Issue.record("no end"); return }
        #expect(parser.isBetweenMessages)
        #expect(!parser.isInBody)
    }

    @Test("a lone CR before a request waits for more bytes instead of failing")
    func loneCRWaits() throws {
        var parser = HTTP1Parser(role: .server)
        var buffer = ByteBuffer(string: "\r")
        #expect(try parser.next(&buffer) == nil)
        buffer.writeString("\n" + head("GET / HTTP/1.1", "Host: a"))
        guard case .requestHead? = try parser.next(&buffer) else { Issue.record("no head"); return }
    }

    @Test("closing the connection between requests is clean, in the middle of a head it is an error")
    func finishOnRequests() throws {
        let clean = parse(head("GET / HTTP/1.1", "Host: a"), closeAtEnd: true)
        #expect(clean.error == nil)
        #expect(clean.steps == [.head, .end])

        expectRejection("GET / HTTP/1.1\r\nHost: a\r\n", status: 400, closeAtEnd: true)
        let cutBody = expectRejection(head("POST / HTTP/1.1", "Host: a", "Content-Length: 10") + "12345", status: 400, closeAtEnd: true)
        #expect(cutBody.steps == [.head, .body("12345")])
    }
}
