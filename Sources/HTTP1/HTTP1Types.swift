import HTTPTypes
import NIOCore

/// How the body of an HTTP/1.x message is delimited (RFC 9112 §6.3).
public enum HTTP1BodyFraming: Equatable, Sendable {
    /// No body at all (no Content-Length or Transfer-Encoding on a request; HEAD/1xx/204/304 responses).
    case none
    /// Exactly this many bytes follow the head.
    case contentLength(Int64)
    /// `Transfer-Encoding: chunked`; the body ends with the last chunk and optional trailers.
    case chunked
    /// Responses only: the body runs until the connection closes.
    case untilClose
}

/// A parsed HTTP/1.x request head plus what the framing layer learnt about the message.
public struct HTTP1RequestHead: Sendable {
    /// Method, authority (from Host or an absolute-form target), path and fields.
    /// `Host` is moved into `authority` and is not among `headerFields`.
    public var request: HTTPRequest
    /// The minor version: 0 for HTTP/1.0, 1 for HTTP/1.1.
    public var minorVersion: UInt8
    /// Whether the client wants the connection kept open after this exchange (RFC 9112 §9.3).
    public var keepAlive: Bool
    public var framing: HTTP1BodyFraming
    /// The client sent `Expect: 100-continue` and waits for an interim response before sending its body.
    public var expectsContinue: Bool
    /// The head carries hop-by-hop fields or `Expect`, which a proxy must remove before forwarding.
    /// False for most requests, which then skip the stripping pass.
    public var hasConnectionSpecificFields = true
    /// Set by a parser made with `keepsRequestFieldsRaw`: the field lines as received, and
    /// `request.headerFields` is empty until someone materializes them.
    public var rawFields: HTTP1RawRequestFields?

    public init(request: HTTPRequest, minorVersion: UInt8, keepAlive: Bool, framing: HTTP1BodyFraming, expectsContinue: Bool) {
        self.request = request
        self.minorVersion = minorVersion
        self.keepAlive = keepAlive
        self.framing = framing
        self.expectsContinue = expectsContinue
    }
}

/// A parsed HTTP/1.x response head. The field lines are kept as received (`rawFields`) so a proxy can
/// forward them as bytes; `response` builds the structured form only when something asks for it.
public struct HTTP1ResponseHead: Sendable {
    public var status: HTTPResponse.Status
    public var minorVersion: UInt8
    /// Whether the server lets the connection be reused after this response.
    public var keepAlive: Bool
    public var framing: HTTP1BodyFraming
    /// The head carries hop-by-hop fields a proxy must remove.
    public var hasConnectionSpecificFields = true
    /// `Connection` names fields other than `close`/`keep-alive`, which must be removed too: forward
    /// through `response` then, not through the raw lines.
    public var connectionNominatesFields = false
    /// The field lines as received, each ending in CRLF (checked by the parser). Changing them forgets
    /// `droppableLines`, whose offsets would no longer hold.
    public var rawFields: ByteBuffer {
        didSet { droppableLines = .unknown }
    }
    /// Where in `rawFields` the lines a proxy may leave out are (hop-by-hop ones, Content-Length), noted
    /// while parsing so forwarding copies the rest without splitting the lines again.
    public var droppableLines = HTTP1DroppableLines.unknown

    public init(status: HTTPResponse.Status, minorVersion: UInt8, keepAlive: Bool, framing: HTTP1BodyFraming, rawFields: ByteBuffer) {
        self.status = status
        self.minorVersion = minorVersion
        self.keepAlive = keepAlive
        self.framing = framing
        self.rawFields = rawFields
    }

    /// The structured response, built from the raw lines (already validated, so this cannot fail).
    public var response: HTTPResponse {
        var fields = HTTPFields()
        rawFields.withUnsafeReadableBytes { bytes in
            var lines = LineIterator(bytes)
            while let line = lines.next(), !line.isEmpty {
                if let (field, _) = try? HTTP1Syntax.parseFieldLine(line) { fields.append(field) }
            }
        }
        return HTTPResponse(status: status, headerFields: fields)
    }

    /// Writes the field lines as received, leaving out hop-by-hop lines (`stripHopByHop`) and
    /// Content-Length (`dropLength`): at most `rawFields.readableBytes` bytes. The whole forwarded head is
    /// `ByteBuffer.writeHTTP1ResponseHead(forwarding:stripHopByHop:dropLength:extraFields:)`.
    func writeForwardedFields(into writer: inout HeadBytesWriter, stripHopByHop: Bool, dropLength: Bool) {
        let lines = droppableLines
        if lines.overflow {
            forEachRawField { line, known in
                switch known {
                case .connection, .transferEncoding, .otherHopByHop:
                    if stripHopByHop { return }
                case .contentLength:
                    if dropLength { return }
                case .other, .host, .expect:
                    break
                }
                writer.put(line)
                writer.put("\r\n")
            }
            return
        }
        rawFields.withUnsafeReadableBytes { bytes in
            var position = 0
            for index in 0..<lines.count {
                let line = lines[index]
                guard line.isLength ? dropLength : stripHopByHop else { continue }
                writer.put(UnsafeRawBufferPointer(rebasing: bytes[position..<line.range.lowerBound]))
                position = line.range.upperBound
            }
            writer.put(UnsafeRawBufferPointer(rebasing: bytes[position...]))
        }
    }

    /// Calls `body` with each raw field line (without CRLF) and its classification.
    public func forEachRawField(_ body: (UnsafeRawBufferPointer, KnownField) -> Void) {
        rawFields.forEachFieldLine { line, name in body(line, HTTP1FieldNames.classify(name)) }
    }
}

/// One step of an incoming HTTP/1.x message, as `HTTP1Parser.step(_:head:)` reports it: a head is written
/// to the caller's `head` instead, so that the step stays a few words.
public enum HTTP1Step: Sendable {
    case requestHead
    case responseHead
    /// A piece of the body, already de-chunked. A slice of the received bytes, never a copy.
    case body(ByteBuffer)
    /// The message is complete; trailers if the chunked body carried any.
    case end(HTTPFields?)
}

/// One step of an incoming HTTP/1.x message with its head, as `HTTP1Parser.next(_:)` reports it.
public enum HTTP1Event: Sendable {
    case requestHead(HTTP1RequestHead)
    case responseHead(HTTP1ResponseHead)
    /// A piece of the body, already de-chunked. A slice of the received bytes, never a copy.
    case body(ByteBuffer)
    /// The message is complete; trailers if the chunked body carried any.
    case end(HTTPFields?)
}

/// Up to four field lines of a response head a proxy may leave out, by byte range (CRLF included) in
/// its `rawFields`, in order. More than four: `overflow`, and the lines are classified again instead.
public struct HTTP1DroppableLines: Sendable {
    public struct Line: Sendable {
        public var range: Range<Int>
        /// Content-Length (dropped when the framing changes), else a hop-by-hop field.
        public var isLength: Bool
    }

    // Packed, four words rather than four optional `Line`s (105 bytes): the response head that carries
    // this is moved several times per response. Each word: the range's bounds in bits 0–31 and 32–62,
    // `isLength` in bit 63.
    private var lines: (UInt64, UInt64, UInt64, UInt64) = (0, 0, 0, 0)
    public private(set) var count = 0
    public private(set) var overflow = false

    public init() {}

    /// Not noted (a head not made by the parser, or changed since): forwarding classifies every line.
    public static var unknown: HTTP1DroppableLines {
        var lines = HTTP1DroppableLines()
        lines.overflow = true
        return lines
    }

    mutating func append(_ line: Line) {
        guard count < 4, line.range.lowerBound >= 0, line.range.upperBound < 1 << 31 else {
            overflow = true
            return
        }
        let word = UInt64(line.range.lowerBound) | UInt64(line.range.upperBound) << 32 | (line.isLength ? 1 << 63 : 0)
        switch count {
        case 0: lines.0 = word
        case 1: lines.1 = word
        case 2: lines.2 = word
        default: lines.3 = word
        }
        count += 1
    }

    public subscript(index: Int) -> Line {
        let word: UInt64
        switch index {
        case 0: word = lines.0
        case 1: word = lines.1
        case 2: word = lines.2
        default: word = lines.3
        }
        let lower = Int(word & 0xFFFF_FFFF), upper = Int((word >> 32) & 0x7FFF_FFFF)
        return Line(range: lower..<upper, isLength: word >> 63 == 1)
    }
}
