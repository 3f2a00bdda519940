import HTTP1
import HTTPTypes
import NIOCore
import Testing

// Incremental parsing is where parser bugs hide, so every parse in these tests goes through `parse`,
// which feeds the same bytes in one piece, one byte at a time and (for small inputs) split in two at
// every position, and expects the same events or the same error from all of them.

/// Joins lines with CRLF and closes the head with the empty line.
func head(_ lines: String...) -> String {
    lines.map { $0 + "\r\n" }.joined() + "\r\n"
}

/// One thing the parser reported, comparable with `==`.
enum Recorded: Equatable, CustomStringConvertible {
    case request(HTTP1RequestHead)
    case response(HTTP1ResponseHead)
    /// Consecutive body pieces joined: where a body is cut depends on how the bytes arrived, which is
    /// exactly what must not change the outcome.
    case body(String)
    case end(HTTPFields?)

    static func == (lhs: Recorded, rhs: Recorded) -> Bool {
        switch (lhs, rhs) {
        case let (.request(a), .request(b)):
            a.request == b.request && a.minorVersion == b.minorVersion && a.keepAlive == b.keepAlive
                && a.framing == b.framing && a.expectsContinue == b.expectsContinue
        case let (.response(a), .response(b)):
            // HTTPResponse.Status compares codes only; the reason phrase is part of what was parsed.
            a.response == b.response && a.response.status.reasonPhrase == b.response.status.reasonPhrase
                && a.minorVersion == b.minorVersion && a.keepAlive == b.keepAlive && a.framing == b.framing
        case let (.body(a), .body(b)):
            a == b
        case let (.end(a), .end(b)):
            a == b
        default:
            false
        }
    }

    var description: String {
        switch self {
        case .request(let head):
            "request(\(head.request.method) \(head.request.authority ?? "-") \(head.request.path ?? "-") 1.\(head.minorVersion) "
                + "keepAlive=\(head.keepAlive) \(head.framing) continue=\(head.expectsContinue) \(head.request.headerFields))"
        case .response(let head):
            "response(\(head.response.status) 1.\(head.minorVersion) keepAlive=\(head.keepAlive) \(head.framing) \(head.response.headerFields))"
        case .body(let text):
            "body(\(text.debugDescription))"
        case .end(let trailers):
            "end(\(trailers.map { "\($0)" } ?? "nil"))"
        }
    }
}

/// The coarse shape of a message sequence, for short assertions.
enum Step: Equatable {
    case head
    case body(String)
    case end
    case endWithTrailers(HTTPFields)
}

struct ParseResult: Equatable, CustomStringConvertible {
    var recorded: [Recorded] = []
    var error: HTTP1ParseError?
    /// Bytes the parser left in the buffer when it asked for more (only kept when no error occurred).
    var leftover: String = ""

    var requests: [HTTP1RequestHead] {
        recorded.compactMap { if case .request(let head) = $0 { head } else { nil } }
    }

    var responses: [HTTP1ResponseHead] {
        recorded.compactMap { if case .response(let head) = $0 { head } else { nil } }
    }

    var steps: [Step] {
        recorded.map {
            switch $0 {
            case .request, .response: .head
            case .body(let text): .body(text)
            case .end(nil): .end
            case .end(let trailers?): .endWithTrailers(trailers)
            }
        }
    }

    var description: String {
        "\(recorded)" + (error.map { " error: \($0)" } ?? "") + (leftover.isEmpty ? "" : " leftover: \(leftover.debugDescription)")
    }
}

enum Feeding: CustomStringConvertible {
    case whole
    case byteByByte
    case split(at: Int)

    var description: String {
        switch self {
        case .whole: "in one piece"
        case .byteByByte: "byte by byte"
        case .split(let index): "split at byte \(index)"
        }
    }

    func pieces(_ bytes: [UInt8]) -> [ArraySlice<UInt8>] {
        switch self {
        case .whole: [bytes[...]]
        case .byteByByte: bytes.indices.map { bytes[$0...$0] }
        case .split(let index): [bytes[..<index], bytes[index...]]
        }
    }
}

/// Parses `text` in every feeding mode, expects them all to agree, and returns the outcome.
/// - Parameter closeAtEnd: call `finish()` after the last byte, as when the peer closes the connection.
/// - Parameter prepare: runs on each fresh parser before the first byte (e.g. `expectResponse(toHEAD:)`).
@discardableResult
func parse(
    _ text: String,
    role: HTTP1Parser.Role = .server,
    limits: HTTP1Limits = HTTP1Limits(),
    closeAtEnd: Bool = false,
    prepare: (inout HTTP1Parser) -> Void = { _ in },
    sourceLocation: SourceLocation = #_sourceLocation
) -> ParseResult {
    parse(bytes: Array(text.utf8), role: role, limits: limits, closeAtEnd: closeAtEnd, prepare: prepare, sourceLocation: sourceLocation)
}

@discardableResult
func parse(
    bytes: [UInt8],
    role: HTTP1Parser.Role = .server,
    limits: HTTP1Limits = HTTP1Limits(),
    closeAtEnd: Bool = false,
    prepare: (inout HTTP1Parser) -> Void = { _ in },
    sourceLocation: SourceLocation = #_sourceLocation
) -> ParseResult {
    var feedings: [Feeding] = [.whole, .byteByByte]
    // Every two-piece split is quadratic in the input; long inputs get the other two modes only.
    if bytes.count <= 600 && bytes.count > 1 { feedings += (1..<bytes.count).map { .split(at: $0) } }

    let reference = run(bytes, .whole, role: role, limits: limits, closeAtEnd: closeAtEnd, prepare: prepare, sourceLocation: sourceLocation)
    for feeding in feedings.dropFirst() {
        let other = run(bytes, feeding, role: role, limits: limits, closeAtEnd: closeAtEnd, prepare: prepare, sourceLocation: sourceLocation)
        if other != reference {
            Issue.record("fed \(feeding), the parser reported \(other); in one piece it reported \(reference)", sourceLocation: sourceLocation)
            break
        }
    }
    if role == .server {
        // The edge keeps request fields as bytes: that mode must accept and refuse exactly the same
        // messages, and its fields, once built, must be the same fields.
        for feeding in [Feeding.whole, .byteByByte] {
            let raw = run(bytes, feeding, role: role, limits: limits, closeAtEnd: closeAtEnd, prepare: prepare, rawFields: true, sourceLocation: sourceLocation)
            if raw != reference {
                Issue.record("keeping fields raw, fed \(feeding), the parser reported \(raw); building them it reported \(reference)", sourceLocation: sourceLocation)
            }
        }
    }
    return reference
}

/// Parses and expects a refusal with `status`; returns the outcome for further checks.
@discardableResult
func expectRejection(
    _ text: String,
    status: Int,
    role: HTTP1Parser.Role = .server,
    limits: HTTP1Limits = HTTP1Limits(),
    closeAtEnd: Bool = false,
    prepare: (inout HTTP1Parser) -> Void = { _ in },
    sourceLocation: SourceLocation = #_sourceLocation
) -> ParseResult {
    expectRejection(bytes: Array(text.utf8), status: status, role: role, limits: limits, closeAtEnd: closeAtEnd, prepare: prepare, sourceLocation: sourceLocation)
}

@discardableResult
func expectRejection(
    bytes: [UInt8],
    status: Int,
    role: HTTP1Parser.Role = .server,
    limits: HTTP1Limits = HTTP1Limits(),
    closeAtEnd: Bool = false,
    prepare: (inout HTTP1Parser) -> Void = { _ in },
    sourceLocation: SourceLocation = #_sourceLocation
) -> ParseResult {
    let result = parse(bytes: bytes, role: role, limits: limits, closeAtEnd: closeAtEnd, prepare: prepare, sourceLocation: sourceLocation)
    #expect(result.error?.status == status, "expected \(status), got \(result)", sourceLocation: sourceLocation)
    return result
}

private func run(
    _ bytes: [UInt8],
    _ feeding: Feeding,
    role: HTTP1Parser.Role,
    limits: HTTP1Limits,
    closeAtEnd: Bool,
    prepare: (inout HTTP1Parser) -> Void,
    rawFields: Bool = false,
    sourceLocation: SourceLocation
) -> ParseResult {
    var parser = HTTP1Parser(role: role, limits: limits, keepsRequestFieldsRaw: rawFields)
    prepare(&parser)
    var buffer = ByteBuffer()
    var result = ParseResult()

    func record(_ event: HTTP1Event) {
        switch event {
        case .requestHead(var head):
            if rawFields {
                guard let raw = head.rawFields else {
                    Issue.record("a raw-fields parser gave a request head without its raw fields", sourceLocation: sourceLocation)
                    return
                }
                #expect(head.request.headerFields.isEmpty, "raw mode built fields anyway", sourceLocation: sourceLocation)
                let fields = raw.materialize()
                // The notes the proxy reads instead of the fields must say what the fields say.
                #expect(raw.requestID == fields.firstValue(.xRequestID), sourceLocation: sourceLocation)
                #expect(raw.forwardedFor == fields[.xForwardedFor], sourceLocation: sourceLocation)
                #expect(raw.traceparent == fields.firstValue(HTTPField.Name("traceparent")!), sourceLocation: sourceLocation)
                #expect(raw.contentType == fields.firstValue(.contentType), sourceLocation: sourceLocation)
                #expect(raw.asksForTrailers == HopByHop.asksForTrailers(fields), sourceLocation: sourceLocation)
                #expect(raw.connectionNominatesFields == HopByHop.connectionNominatesFields(fields), sourceLocation: sourceLocation)
                head.request.headerFields = fields
            } else {
                #expect(head.rawFields == nil, sourceLocation: sourceLocation)
            }
            result.recorded.append(.request(head))
        case .responseHead(let head): result.recorded.append(.response(head))
        case .end(let trailers): result.recorded.append(.end(trailers))
        case .body(let piece):
            let text = String(decoding: piece.readableBytesView, as: UTF8.self)
            if case .body(let earlier)? = result.recorded.last {
                result.recorded[result.recorded.count - 1] = .body(earlier + text)
            } else {
                result.recorded.append(.body(text))
            }
        }
    }

    do throws(HTTP1ParseError) {
        for piece in feeding.pieces(bytes) {
            buffer.writeBytes(piece)
            while let event = try parser.next(&buffer) { record(event) }
        }
        if closeAtEnd, case .end(let trailers)? = try parser.finish() { record(.end(trailers)) }
        result.leftover = String(decoding: buffer.readableBytesView, as: UTF8.self)
    } catch {
        result.error = error
        // The framing can no longer be trusted: whatever arrives next must be ignored, not parsed.
        var more = ByteBuffer(string: role == .server
            ? "GET / HTTP/1.1\r\nHost: a\r\n\r\n"
            : "HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n")
        do throws(HTTP1ParseError) {
            let after = try parser.next(&more)
            #expect(after == nil, "fed \(feeding), the parser went on after \(error)", sourceLocation: sourceLocation)
            let atClose = try parser.finish()
            #expect(atClose == nil, "fed \(feeding), finish() reported an event after \(error)", sourceLocation: sourceLocation)
        } catch {
            Issue.record("fed \(feeding), the parser threw \(error) again after \(result.error!)", sourceLocation: sourceLocation)
        }
    }
    return result
}
