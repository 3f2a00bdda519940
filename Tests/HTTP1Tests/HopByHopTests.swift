import HTTP1
import HTTPTypes
import Testing

private func fields(_ pairs: (String, String)...) -> HTTPFields {
    var fields = HTTPFields()
    for (name, value) in pairs { fields.append(HTTPField(name: HTTPField.Name(name)!, value: value)) }
    return fields
}

@Suite("Hop-by-hop stripping")
struct HopByHopTests {
    @Test("the fixed hop-by-hop fields are removed and end-to-end fields are kept in order")
    func standardFields() {
        var message = fields(
            ("Content-Type", "text/plain"), ("Connection", "keep-alive"), ("Keep-Alive", "timeout=5"),
            ("Proxy-Connection", "keep-alive"), ("TE", "trailers"), ("Transfer-Encoding", "chunked"),
            ("Upgrade", "h2c"), ("Trailer", "Grpc-Status"), ("Content-Length", "5"), ("Cache-Control", "no-cache"))
        HopByHop.strip(&message)
        #expect(message == fields(("Content-Type", "text/plain"), ("Content-Length", "5"), ("Cache-Control", "no-cache")))
        #expect(message.map(\.name.rawName) == ["Content-Type", "Content-Length", "Cache-Control"])
    }

    @Test("fields nominated by Connection are removed, matched without regard to case, across Connection lines")
    func nominatedFields() {
        var message = fields(
            ("Connection", "close, X-Secret"), ("x-secret", "1"), ("X-Secret", "2"), ("Connection", " x-other ,\tX-Third"),
            ("X-Other", "3"), ("X-THIRD", "4"), ("X-Kept", "5"))
        HopByHop.strip(&message)
        #expect(message == fields(("X-Kept", "5")))
    }

    @Test("tokens in Connection that are not field names are ignored")
    func invalidTokensIgnored() {
        var message = fields(("Connection", "bad name, , \"quoted\", X-Gone"), ("X-Gone", "1"), ("X-Kept", "2"))
        HopByHop.strip(&message)
        #expect(message == fields(("X-Kept", "2")))
    }

    @Test("a message without hop-by-hop fields is left exactly as it was")
    func untouched() {
        let original = fields(("Host-Like", "x"), ("Accept", "*/*"), ("Set-Cookie", "a=1"), ("Set-Cookie", "b=2"))
        var message = original
        HopByHop.strip(&message)
        #expect(message == original)
        var empty = HTTPFields()
        HopByHop.strip(&empty, keepTETrailers: true)
        #expect(empty.isEmpty)
    }

    @Test("TE: trailers is removed unless asked for, and then kept as exactly trailers", arguments: [
        ("trailers", "trailers"), ("Trailers", "trailers"), ("deflate;q=0.5, trailers", "trailers"), ("trailers , gzip", "trailers"),
    ])
    func teTrailersKept(_ value: String, _ kept: String) {
        var dropped = fields(("TE", value), ("Content-Type", "application/grpc"))
        HopByHop.strip(&dropped)
        #expect(dropped[.te] == nil)

        var grpc = fields(("TE", value), ("Content-Type", "application/grpc"))
        HopByHop.strip(&grpc, keepTETrailers: true)
        #expect(grpc[values: .te] == [kept])
        #expect(grpc[.contentType] == "application/grpc")
    }

    @Test("a TE without trailers is removed even when trailers may be kept", arguments: ["gzip", "deflate, gzip;q=0.3", "trailers;q=1", "x-trailers"])
    func teWithoutTrailers(_ value: String) {
        var message = fields(("TE", value))
        HopByHop.strip(&message, keepTETrailers: true)
        #expect(message[.te] == nil)
    }

    @Test("TE: trailers survives being nominated by Connection when it may be kept")
    func teNominatedByConnection() {
        var message = fields(("Connection", "TE"), ("TE", "trailers"))
        HopByHop.strip(&message, keepTETrailers: true)
        #expect(message == fields(("TE", "trailers")))

        var plain = fields(("Connection", "TE"), ("TE", "trailers"))
        HopByHop.strip(&plain)
        #expect(plain.isEmpty)
    }

    @Test("stripping the fields of a parsed request leaves only end-to-end fields")
    func strippingParsedRequest() throws {
        let result = parse(head("POST / HTTP/1.1", "Host: a", "Connection: keep-alive, X-Hop", "X-Hop: 1", "Transfer-Encoding: chunked", "X-E2E: 2") + "0\r\n\r\n")
        var headerFields = try #require(result.requests.first).request.headerFields
        HopByHop.strip(&headerFields)
        #expect(headerFields == fields(("X-E2E", "2")))
    }
}
