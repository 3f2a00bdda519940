import HTTP1
import HTTPTypes
import NIOCore
import Testing

/// A request the parser must refuse, with the status the client should get.
struct Refused: Sendable, CustomTestStringConvertible {
    var name: String
    var bytes: [UInt8]
    var limits: HTTP1Limits

    init(_ name: String, _ text: String, limits: HTTP1Limits = HTTP1Limits()) {
        self.init(name, bytes: Array(text.utf8), limits: limits)
    }

    init(_ name: String, bytes: [UInt8], limits: HTTP1Limits = HTTP1Limits()) {
        self.name = name
        self.bytes = bytes
        self.limits = limits
    }

    var testDescription: String { name }
}

/// Every refusal here happens in the head, so nothing of the request may have been reported.
private func expectHeadRefused(_ refused: Refused, status: Int, sourceLocation: SourceLocation = #_sourceLocation) {
    let result = expectRejection(bytes: refused.bytes, status: status, limits: refused.limits, sourceLocation: sourceLocation)
    #expect(result.recorded.isEmpty, "\(refused.name): events before the refusal: \(result.recorded)", sourceLocation: sourceLocation)
}

@Suite("Request rejection")
struct RequestRejectionTests {
    // MARK: Framing: the request-smuggling defences

    @Test("Content-Length together with Transfer-Encoding is refused with 400, in either order", arguments: [
        Refused("CL then TE", head("POST / HTTP/1.1", "Host: a", "Content-Length: 5", "Transfer-Encoding: chunked") + "0\r\n\r\n"),
        Refused("TE then CL", head("POST / HTTP/1.1", "Host: a", "Transfer-Encoding: chunked", "Content-Length: 5") + "0\r\n\r\n"),
        Refused("CL 0 with TE", head("POST / HTTP/1.1", "Host: a", "Content-Length: 0", "Transfer-Encoding: chunked")),
    ])
    func contentLengthAndTransferEncoding(_ refused: Refused) {
        expectHeadRefused(refused, status: 400)
    }

    @Test("two Content-Length fields are refused with 400, even when they agree", arguments: [
        Refused("different", head("POST / HTTP/1.1", "Host: a", "Content-Length: 5", "Content-Length: 6") + "hello!"),
        Refused("equal", head("POST / HTTP/1.1", "Host: a", "Content-Length: 5", "Content-Length: 5") + "hello"),
        Refused("list in one field", head("POST / HTTP/1.1", "Host: a", "Content-Length: 5, 5") + "hello"),
    ])
    func duplicateContentLength(_ refused: Refused) {
        expectHeadRefused(refused, status: 400)
    }

    @Test("a Content-Length that is not plain decimal digits, or too large for 64 bits, is refused with 400", arguments: [
        "+5", "5 5", "-1", "0x10", "5.0", "1e3", "", "99999999999999999999", "9223372036854775808", "1234567890123456789", "\u{FF15}",
    ])
    func invalidContentLength(_ value: String) {
        let result = expectRejection(head("POST / HTTP/1.1", "Host: a", "Content-Length: \(value)") + "hello", status: 400)
        #expect(result.recorded.isEmpty)
    }

    @Test("the largest 18-digit Content-Length is accepted")
    func largestContentLength() {
        let result = parse(head("POST / HTTP/1.1", "Host: a", "Content-Length: 999999999999999999") + "abc")
        #expect(result.error == nil)
        #expect(result.requests.first?.framing == .contentLength(999_999_999_999_999_999))
        #expect(result.steps == [.head, .body("abc")])
    }

    @Test("Transfer-Encoding in an HTTP/1.0 request is refused with 400")
    func transferEncodingInHTTP10() {
        expectHeadRefused(Refused("1.0 chunked", head("POST / HTTP/1.0", "Transfer-Encoding: chunked") + "0\r\n\r\n"), status: 400)
    }

    @Test("a transfer coding before chunked is refused with 501, since the gateway cannot decode it", arguments: [
        Refused("gzip, chunked", head("POST / HTTP/1.1", "Host: a", "Transfer-Encoding: gzip, chunked") + "0\r\n\r\n"),
        Refused("two field lines", head("POST / HTTP/1.1", "Host: a", "Transfer-Encoding: gzip", "Transfer-Encoding: chunked") + "0\r\n\r\n"),
    ])
    func unsupportedTransferCoding(_ refused: Refused) {
        expectHeadRefused(refused, status: 501)
    }

    @Test("a request whose final transfer coding is not chunked is refused with 400", arguments: [
        Refused("chunked, gzip", head("POST / HTTP/1.1", "Host: a", "Transfer-Encoding: chunked, gzip")),
        Refused("gzip alone", head("POST / HTTP/1.1", "Host: a", "Transfer-Encoding: gzip")),
        Refused("identity", head("POST / HTTP/1.1", "Host: a", "Transfer-Encoding: identity")),
        Refused("empty list element", head("POST / HTTP/1.1", "Host: a", "Transfer-Encoding: chunked,")),
        Refused("leading comma", head("POST / HTTP/1.1", "Host: a", "Transfer-Encoding: , chunked")),
        Refused("empty value", head("POST / HTTP/1.1", "Host: a", "Transfer-Encoding:")),
        Refused("not a token", head("POST / HTTP/1.1", "Host: a", "Transfer-Encoding: \"chunked\"")),
    ])
    func finalCodingNotChunked(_ refused: Refused) {
        expectHeadRefused(refused, status: 400)
    }

    // MARK: Host

    @Test("an HTTP/1.1 request without Host is refused with 400, even with an absolute-form target", arguments: [
        Refused("origin-form", head("GET / HTTP/1.1", "Accept: */*")),
        Refused("absolute-form", head("GET http://a.example/ HTTP/1.1")),
    ])
    func missingHost(_ refused: Refused) {
        expectHeadRefused(refused, status: 400)
    }

    @Test("two Host fields are refused with 400, even when they agree", arguments: [
        Refused("different", head("GET / HTTP/1.1", "Host: a.example", "Host: b.example")),
        Refused("equal", head("GET / HTTP/1.1", "Host: a.example", "Host: a.example")),
        Refused("different case", head("GET / HTTP/1.1", "Host: a.example", "host: a.example")),
        Refused("HTTP/1.0", head("GET / HTTP/1.0", "Host: a.example", "Host: b.example")),
    ])
    func twoHosts(_ refused: Refused) {
        expectHeadRefused(refused, status: 400)
    }

    @Test("a Host value that is not host[:port] is refused with 400", arguments: [
        "exa mple.com", "a/b", "user@host", "[::1", "::1]", "[::1]]", "a\"b", "a{b}", "", "a.example/path", "a\\b",
        String(repeating: "h", count: 256), "a.example:http", "a.example:80:81", "a.example:-1", ":80", "[::1]x", "[::1]:8a", "a[::1]",
        "[]", "[a b]",
    ])
    func invalidHost(_ value: String) {
        expectHeadRefused(Refused("Host: \(value)", head("GET / HTTP/1.1", "Host: \(value)")), status: 400)
    }

    // MARK: Field syntax

    @Test("whitespace between a field name and its colon is refused with 400", arguments: [
        Refused("space", head("GET / HTTP/1.1", "Host : a")),
        Refused("tab", head("GET / HTTP/1.1", "Host: a", "X-A\t: b")),
        Refused("on Content-Length", head("POST / HTTP/1.1", "Host: a", "Content-Length : 5") + "hello"),
        Refused("on Transfer-Encoding", head("POST / HTTP/1.1", "Host: a", "Transfer-Encoding : chunked") + "0\r\n\r\n"),
    ])
    func whitespaceBeforeColon(_ refused: Refused) {
        expectHeadRefused(refused, status: 400)
    }

    @Test("obsolete line folding is refused with 400", arguments: [
        Refused("space fold", head("GET / HTTP/1.1", "Host: a", "X-A: b", " continued")),
        Refused("tab fold", head("GET / HTTP/1.1", "Host: a", "X-A: b", "\tcontinued")),
        Refused("fold right after the request line", head("GET / HTTP/1.1", " Host: a")),
    ])
    func obsFold(_ refused: Refused) {
        expectHeadRefused(refused, status: 400)
    }

    @Test("a control character in a field value is refused with 400", arguments: [0x00, 0x01, 0x07, 0x08, 0x0B, 0x0C, 0x1B, 0x1F, 0x7F] as [UInt8])
    func controlCharacterInValue(_ byte: UInt8) {
        let bytes = Array("GET / HTTP/1.1\r\nHost: a\r\nX-A: a".utf8) + [byte] + Array("b\r\n\r\n".utf8)
        expectHeadRefused(Refused("0x\(String(byte, radix: 16))", bytes: bytes), status: 400)
    }

    @Test("a malformed field line is refused with 400", arguments: [
        Refused("no colon", head("GET / HTTP/1.1", "Host: a", "X-A b")),
        Refused("empty name", head("GET / HTTP/1.1", "Host: a", ": b")),
        Refused("pseudo-header name", head("GET / HTTP/1.1", "Host: a", ":authority: b")),
        Refused("separator in name", head("GET / HTTP/1.1", "Host: a", "X(A): b")),
        Refused("slash in name", head("GET / HTTP/1.1", "Host: a", "X/A: b")),
        Refused("non-ASCII name", head("GET / HTTP/1.1", "Host: a", "X-Ä: b")),
    ])
    func malformedFieldLine(_ refused: Refused) {
        expectHeadRefused(refused, status: 400)
    }

    // MARK: Line endings

    @Test("a bare LF or a bare CR anywhere in the head is refused with 400", arguments: [
        Refused("LF after request line", "GET / HTTP/1.1\nHost: a\r\n\r\n"),
        Refused("LF after a field", "GET / HTTP/1.1\r\nHost: a\n\r\n"),
        Refused("LF as the empty line", "GET / HTTP/1.1\r\nHost: a\r\n\n"),
        Refused("LF only", "GET / HTTP/1.1\nHost: a\n\n"),
        Refused("LF first", "\nGET / HTTP/1.1\r\nHost: a\r\n\r\n"),
        Refused("CR after request line", "GET / HTTP/1.1\rHost: a\r\n\r\n"),
        Refused("CR inside a value", "GET / HTTP/1.1\r\nHost: a\r\nX-A: b\rc\r\n\r\n"),
        Refused("CR inside the target", "GET /a\rb HTTP/1.1\r\nHost: a\r\n\r\n"),
        Refused("CR CR LF", "GET / HTTP/1.1\r\r\nHost: a\r\n\r\n"),
        Refused("CR before the request", "\rGET / HTTP/1.1\r\nHost: a\r\n\r\n"),
    ])
    func bareLineEndings(_ refused: Refused) {
        expectHeadRefused(refused, status: 400)
    }

    // MARK: Request line

    @Test("HTTP/2.0 and HTTP/3.0 request lines are refused with 505", arguments: ["HTTP/2.0", "HTTP/3.0", "HTTP/0.9"])
    func unsupportedVersion(_ version: String) {
        expectHeadRefused(Refused(version, head("GET / \(version)", "Host: a")), status: 505)
    }

    @Test("a malformed HTTP version is refused with 400", arguments: [
        "HTTP/1.x", "http/1.1", "Http/1.1", "HTTP/1.10", "HTTP/11", "HTTP/1", "HTTP/2", "HTTPS/1.1", "HTTP 1.1", "HTTP/1.1 ", "",
    ])
    func malformedVersion(_ version: String) {
        expectHeadRefused(Refused("version \(version.debugDescription)", head("GET / \(version)", "Host: a")), status: 400)
    }

    @Test("a request line without a version is refused with 400")
    func missingVersion() {
        expectHeadRefused(Refused("GET /", head("GET /", "Host: a")), status: 400)
    }

    @Test("a method with characters outside the token set is refused with 400", arguments: [
        "G(T", "GE\"T", "G/T", "GE@T", "G{T}", "GÉT", "GET\t", "",
    ])
    func invalidMethod(_ method: String) {
        expectHeadRefused(Refused("method \(method.debugDescription)", head("\(method) / HTTP/1.1", "Host: a")), status: 400)
    }

    @Test("CONNECT is refused with 405, whatever its target", arguments: [
        Refused("authority-form", head("CONNECT a.example:443 HTTP/1.1", "Host: a.example:443")),
        Refused("origin-form", head("CONNECT / HTTP/1.1", "Host: a")),
        Refused("absolute-form", head("CONNECT http://a.example/ HTTP/1.1", "Host: a")),
    ])
    func connect(_ refused: Refused) {
        expectHeadRefused(refused, status: 405)
    }

    @Test("a malformed request target is refused with 400", arguments: [
        Refused("two spaces", head("GET  / HTTP/1.1", "Host: a")),
        Refused("space inside", head("GET /a b HTTP/1.1", "Host: a")),
        Refused("non-ASCII", head("GET /café HTTP/1.1", "Host: a")),
        Refused("asterisk for GET", head("GET * HTTP/1.1", "Host: a")),
        Refused("authority-form for GET", head("GET a.example:80 HTTP/1.1", "Host: a")),
        Refused("relative path", head("GET a/b HTTP/1.1", "Host: a")),
        Refused("other scheme", head("GET ftp://a.example/ HTTP/1.1", "Host: a")),
        Refused("userinfo", head("GET http://user:pw@a.example/ HTTP/1.1", "Host: a.example")),
        Refused("empty authority", head("GET http:///x HTTP/1.1", "Host: a")),
        Refused("DEL", head("GET /a\u{7F} HTTP/1.1", "Host: a")),
    ])
    func malformedTarget(_ refused: Refused) {
        expectHeadRefused(refused, status: 400)
    }

    @Test("more than four empty lines before a request line are refused with 400")
    func tooManyEmptyLines() {
        expectHeadRefused(Refused("5 CRLF", String(repeating: "\r\n", count: 5) + head("GET / HTTP/1.1", "Host: a")), status: 400)
    }

    // MARK: Limits

    @Test("a request target over the URI limit is refused with 414", arguments: [
        Refused("default limit", head("GET /" + String(repeating: "a", count: 8 * 1024) + " HTTP/1.1", "Host: a")),
        Refused("configured limit", head("GET /" + String(repeating: "a", count: 32) + " HTTP/1.1", "Host: a"), limits: HTTP1Limits(maxURIBytes: 32)),
        Refused("head still incomplete", "GET /" + String(repeating: "a", count: 9 * 1024)),
        Refused("longer than the whole head limit", head("GET /" + String(repeating: "a", count: 40 * 1024) + " HTTP/1.1", "Host: a")),
    ])
    func uriTooLong(_ refused: Refused) {
        expectHeadRefused(refused, status: 414)
    }

    @Test("a head over the size limit is refused with 431, complete or not", arguments: [
        Refused("complete", head("GET / HTTP/1.1", "Host: a", "X-Big: " + String(repeating: "b", count: 200)), limits: HTTP1Limits(maxHeadBytes: 128)),
        Refused("one byte over", head("GET / HTTP/1.1", "Host: a", "X-Pad: 0123456789"), limits: HTTP1Limits(maxHeadBytes: head("GET / HTTP/1.1", "Host: a", "X-Pad: 0123456789").utf8.count - 1)),
        Refused("incomplete", "GET / HTTP/1.1\r\nHost: a\r\nX-Big: " + String(repeating: "b", count: 200), limits: HTTP1Limits(maxHeadBytes: 128)),
        Refused("default limit", head("GET / HTTP/1.1", "Host: a", "Cookie: " + String(repeating: "c", count: 33 * 1024))),
    ])
    func headTooLarge(_ refused: Refused) {
        expectHeadRefused(refused, status: 431)
    }

    @Test("more field lines than the limit are refused with 431")
    func tooManyFields() {
        let limits = HTTP1Limits(maxHeaderCount: 4)
        expectHeadRefused(Refused("5 fields", head("GET / HTTP/1.1", "Host: a", "A: 1", "B: 2", "C: 3", "D: 4"), limits: limits), status: 431)
        let many = ["GET / HTTP/1.1", "Host: a"] + (1...100).map { "X-F\($0): v" }
        expectHeadRefused(Refused("101 fields", many.map { $0 + "\r\n" }.joined() + "\r\n"), status: 431)
    }

    // MARK: After an error

    @Test("after a refusal the parser reports nothing more, whatever arrives")
    func silentAfterError() throws {
        var parser = HTTP1Parser(role: .server)
        var buffer = ByteBuffer(string: head("GET / HTTP/1.1", "Host: a", "Content-Length: 1", "Content-Length: 1"))
        #expect(throws: HTTP1ParseError.self) { try parser.next(&buffer) }
        #expect(!parser.isBetweenMessages)
        #expect(!parser.isInBody)
        var next = ByteBuffer(string: head("GET /fine HTTP/1.1", "Host: a"))
        #expect(try parser.next(&next) == nil)
        #expect(try parser.next(&next) == nil)
        #expect(next.readableBytes == head("GET /fine HTTP/1.1", "Host: a").utf8.count)
        #expect(try parser.finish() == nil)
    }

    @Test("the error states its status and a reason")
    func errorDescription() {
        let result = expectRejection(head("GET / HTTP/2.0", "Host: a"), status: 505)
        let error = result.error
        #expect(error?.kind == .versionNotSupported)
        #expect(error?.description.hasPrefix("505 ") == true)
        #expect(error?.reason.isEmpty == false)
    }
}

