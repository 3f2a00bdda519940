import HTTP1
import HTTPTypes
import NIOCore
import Testing

private let chunkedHead = head("POST /stream HTTP/1.1", "Host: a", "Transfer-Encoding: chunked")

@Suite("Chunked bodies")
struct ChunkedBodyTests {
    @Test("a chunked body is de-chunked, its extensions ignored and its trailers delivered with the end")
    func extensionsAndTrailers() throws {
        let body = "5;name=value\r\nhello\r\n6 ; quoted=\"a b;c\"\r\n world\r\n0;last\r\nX-Checksum: abc123\r\nGrpc-Status: 0\r\n\r\n"
        let result = parse(chunkedHead + body)
        #expect(result.error == nil)
        #expect(result.steps == [.head, .body("hello world"), .endWithTrailers([HTTPField.Name("X-Checksum")!: "abc123", HTTPField.Name("Grpc-Status")!: "0"])])
        #expect(result.requests.first?.framing == .chunked)
        #expect(result.leftover.isEmpty)
    }

    @Test("a chunked body without trailers ends with no trailer fields")
    func noTrailers() {
        let result = parse(chunkedHead + "3\r\nabc\r\n0\r\n\r\n")
        #expect(result.error == nil)
        #expect(result.steps == [.head, .body("abc"), .end])
    }

    @Test("a chunked body of only the last chunk is an empty message")
    func onlyLastChunk() {
        let result = parse(chunkedHead + "0\r\n\r\n")
        #expect(result.steps == [.head, .end])
    }

    @Test("chunk sizes are hexadecimal in either case, with leading zeros, up to 15 digits")
    func hexSizes() {
        let ten = String(repeating: "x", count: 10)
        let twentySix = String(repeating: "y", count: 26)
        let body = "a\r\n\(ten)\r\n1A\r\n\(twentySix)\r\n00000000000001\r\nz\r\n000000000000000\r\n\r\n"
        let result = parse(chunkedHead + body)
        #expect(result.error == nil)
        #expect(result.steps == [.head, .body(ten + twentySix + "z"), .end])
    }

    @Test("the transfer coding name chunked is matched without regard to case")
    func chunkedCaseInsensitive() {
        let result = parse(head("POST / HTTP/1.1", "Host: a", "Transfer-Encoding: Chunked") + "1\r\nq\r\n0\r\n\r\n")
        #expect(result.steps == [.head, .body("q"), .end])
    }

    @Test("a request pipelined after a chunked body is parsed as its own request")
    func pipelinedAfterChunked() {
        let text = chunkedHead + "5\r\nhello\r\n0\r\n\r\n" + head("GET /next HTTP/1.1", "Host: a")
        let result = parse(text)
        #expect(result.error == nil)
        #expect(result.steps == [.head, .body("hello"), .end, .head, .end])
        #expect(result.requests.map(\.request.path) == ["/stream", "/next"])
    }

    @Test("a request pipelined after chunked trailers is parsed as its own request")
    func pipelinedAfterTrailers() {
        let text = chunkedHead + "2\r\nhi\r\n0\r\nX-T: 1\r\n\r\n" + head("GET /next HTTP/1.1", "Host: a")
        let result = parse(text)
        #expect(result.error == nil)
        #expect(result.steps == [.head, .body("hi"), .endWithTrailers([HTTPField.Name("X-T")!: "1"]), .head, .end])
    }

    @Test("after a chunked message the parser is between messages again")
    func betweenMessagesAfterChunked() throws {
        var parser = HTTP1Parser(role: .server)
        var buffer = ByteBuffer(string: chunkedHead + "1\r\nz\r\n0\r\n")
        var events = 0
        while try parser.next(&buffer) != nil { events += 1 }
        #expect(events == 2)
        #expect(parser.isInBody)
        buffer.writeString("\r")
        #expect(try parser.next(&buffer) == nil)
        buffer.writeString("\n")
        guard case .end(nil)? = try parser.next(&buffer) else { Issue.record("no end"); return }
        #expect(parser.isBetweenMessages)
    }

    @Test("a chunk's data is handed out as it arrives, without waiting for the whole chunk")
    func partialChunkData() throws {
        var parser = HTTP1Parser(role: .server)
        var buffer = ByteBuffer(string: chunkedHead + "a\r\n0123")
        guard case .requestHead? = try parser.next(&buffer) else { Issue.record("no head"); return }
        guard case .body(let first)? = try parser.next(&buffer) else { Issue.record("no first piece"); return }
        #expect(String(buffer: first) == "0123")
        #expect(try parser.next(&buffer) == nil)
        buffer.writeString("456789\r\n0\r\n\r\n")
        guard case .body(let second)? = try parser.next(&buffer) else { Issue.record("no second piece"); return }
        #expect(String(buffer: second) == "456789")
        guard case .end(nil)? = try parser.next(&buffer) else { Issue.record("no end"); return }
    }

    // MARK: Refusals

    @Test("an invalid chunk size is refused with 400 after the head", arguments: [
        "zz\r\n", "\r\n", "-5\r\nhello\r\n", "0x5\r\nhello\r\n", "5 x\r\nhello\r\n", "5 \r\nhello\r\n", ";ext\r\n",
        "0000000000000005\r\nhello\r\n", "10000000000000000\r\n", "5\nhello\r\n0\r\n\r\n", "5\r\r\nhello\r\n",
    ])
    func invalidChunkSize(_ sizeLine: String) {
        let result = expectRejection(chunkedHead + sizeLine, status: 400)
        #expect(result.steps == [.head])
    }

    @Test("chunk data not followed by CRLF is refused with 400", arguments: ["helloX\r\n0\r\n\r\n", "hello0\r\n\r\n", "hello\n0\r\n\r\n", "hello\r\r\n"])
    func missingCRLFAfterData(_ rest: String) {
        let result = expectRejection(chunkedHead + "5\r\n" + rest, status: 400)
        #expect(result.steps == [.head, .body("hello")])
    }

    @Test("a chunk extension with a control character is refused with 400")
    func controlCharacterInExtension() {
        let result = expectRejection(chunkedHead + "5;a=\u{1}\r\nhello\r\n0\r\n\r\n", status: 400)
        #expect(result.steps == [.head])
    }

    @Test("a chunk-size line over its limit is refused with 400")
    func chunkLineTooLong() {
        let limits = HTTP1Limits(maxChunkLineBytes: 64)
        let result = expectRejection(chunkedHead + "5;" + String(repeating: "e", count: 100) + "\r\nhello\r\n0\r\n\r\n", status: 400, limits: limits)
        #expect(result.steps == [.head])
        let withinLimit = parse(chunkedHead + "5;" + String(repeating: "e", count: 40) + "\r\nhello\r\n0\r\n\r\n", limits: limits)
        #expect(withinLimit.error == nil)
    }

    @Test("trailers are held to the field syntax and limits of a head", arguments: [
        Refused("obs-fold", chunkedHead + "0\r\nX-A: 1\r\n folded\r\n\r\n"),
        Refused("bare LF", chunkedHead + "0\r\nX-A: 1\n\r\n"),
        Refused("bare CR", chunkedHead + "0\r\nX-A: 1\r\r\n\r\n"),
        Refused("space before colon", chunkedHead + "0\r\nX-A : 1\r\n\r\n"),
        Refused("NUL in value", chunkedHead + "0\r\nX-A: 1\u{0}\r\n\r\n"),
    ])
    func malformedTrailers(_ refused: Refused) {
        let result = expectRejection(bytes: refused.bytes, status: 400)
        #expect(result.steps == [.head])
    }

    @Test("too many or too large trailers are refused with 431")
    func trailersOverLimits() {
        let count = expectRejection(chunkedHead + "0\r\nA: 1\r\nB: 2\r\nC: 3\r\n\r\n", status: 431, limits: HTTP1Limits(maxHeaderCount: 2))
        #expect(count.steps == [.head])
        let size = expectRejection(chunkedHead + "0\r\nX-Big: " + String(repeating: "t", count: 200) + "\r\n\r\n", status: 431, limits: HTTP1Limits(maxHeadBytes: 128))
        #expect(size.steps == [.head])
    }

    @Test("a connection closed in the middle of a chunked body is an error")
    func truncatedChunkedBody() {
        for cut in ["", "5", "5\r\nhel", "5\r\nhello", "5\r\nhello\r\n", "5\r\nhello\r\n0\r\n", "5\r\nhello\r\n0\r\nX-T: 1\r\n"] {
            let result = expectRejection(chunkedHead + cut, status: 400, closeAtEnd: true)
            #expect(result.steps.first == .head, "cut after \(cut.debugDescription)")
        }
    }
}
