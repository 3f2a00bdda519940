#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import HTTPTypes
import NIOCore

/// An incremental, strict HTTP/1.x message parser (RFC 9112), for requests (server role) or
/// responses (client role).
///
/// It is a value type driven by its owner: `next(_:)` consumes bytes from the front of a buffer and
/// returns at most one event, or nil when it needs more bytes. Owners stop calling it to apply
/// backpressure or to hold back a pipelined request; the unparsed bytes simply stay in their buffer.
///
/// Strictness is deliberate: at the edge, a message two parsers could read differently is an attack
/// (request smuggling), so anything ambiguous is refused instead of repaired.
public struct HTTP1Parser: Sendable {
    public enum Role: Sendable {
        /// Parses requests.
        case server
        /// Parses responses; call `expectResponse(toHEAD:)` before each request is sent.
        case client
    }

    enum State: Sendable {
        case head
        case fixedLength(remaining: Int64)
        case chunkSizeLine
        case chunkData(remaining: Int64)
        case chunkDataEnd
        case trailers
        case untilClose
        case failed
    }

    public let role: Role
    public let limits: HTTP1Limits
    /// Server role: request heads keep their field lines as bytes (`HTTP1RequestHead.rawFields`) and
    /// leave `request.headerFields` empty, for a proxy that forwards them as received.
    public let keepsRequestFieldsRaw: Bool
    private var state: State = .head
    /// How far the current head, chunk line or trailer section has been scanned without finding its end,
    /// so that a client dribbling bytes costs linear, not quadratic, work.
    private var scanned = 0
    private var responseToHEAD: [Bool] = []

    public init(role: Role, limits: HTTP1Limits = HTTP1Limits(), keepsRequestFieldsRaw: Bool = false) {
        self.role = role
        self.limits = limits
        self.keepsRequestFieldsRaw = keepsRequestFieldsRaw
    }

    /// True between messages: no byte of a next message has been consumed.
    public var isBetweenMessages: Bool {
        if case .head = state { return scanned == 0 && !pendingEnd }
        return false
    }

    /// True while a body is being read.
    public var isInBody: Bool {
        switch state {
        case .head, .failed: false
        default: true
        }
    }

    /// Client role: tell the parser the method of the next request sent, in order, so that it knows a
    /// response to HEAD has no body.
    public mutating func expectResponse(toHEAD: Bool) {
        responseToHEAD.append(toHEAD)
    }

    /// The request asked to switch protocols (`Upgrade`): a 101 answer is then the final head, after which
    /// the bytes are no longer HTTP and the caller takes them over. Without this, a 101 is an error.
    public var acceptsSwitchingProtocols = false

    /// Call when the peer closed the connection. Returns the end of a close-delimited body, or nil if
    /// nothing was pending. Throws if a message was cut short.
    public mutating func finish() throws(HTTP1ParseError) -> HTTP1Step? {
        switch state {
        case .untilClose:
            state = .head
            return .end(nil)
        case .head where scanned == 0:
            return nil
        case .failed:
            return nil
        default:
            state = .failed
            throw .bad("connection closed before the message was complete")
        }
    }

    /// Parses the next event from the front of `buffer`, consuming its bytes. A convenience over
    /// `step(_:head:)` that carries a head in its event; the proxy's connections use `step(_:head:)`.
    public mutating func next(_ buffer: inout ByteBuffer) throws(HTTP1ParseError) -> HTTP1Event? {
        var request: HTTP1RequestHead? = nil
        var response: HTTP1ResponseHead? = nil
        let step = try withUnsafeMutablePointer(to: &request) { (request) throws(HTTP1ParseError) in
            try withUnsafeMutablePointer(to: &response) { (response) throws(HTTP1ParseError) in
                try advance(&buffer, request: request, response: response)
            }
        }
        switch step {
        case nil: return nil
        case .requestHead: return .requestHead(request!)
        case .responseHead: return .responseHead(response!)
        case .body(let bytes): return .body(bytes)
        case .end(let trailers): return .end(trailers)
        }
    }

    /// Server role: parses the next step from the front of `buffer`, consuming its bytes; a request head
    /// is written to `head`, where the caller takes it.
    ///
    /// The head is not carried in the step: it is ~170 bytes, and returned through the optional, throwing
    /// path it was copied (a `memmove` each) about nine times per step. Nor is it kept in the parser,
    /// which every idle connection holds.
    public mutating func step(_ buffer: inout ByteBuffer, head: inout HTTP1RequestHead?) throws(HTTP1ParseError) -> HTTP1Step? {
        precondition(role == .server, "a client-role parser yields response heads")
        return try withUnsafeMutablePointer(to: &head) { (head) throws(HTTP1ParseError) in
            try advance(&buffer, request: head, response: nil)
        }
    }

    /// Client role: as `step(_:head:)` for requests, with a response head.
    public mutating func step(_ buffer: inout ByteBuffer, head: inout HTTP1ResponseHead?) throws(HTTP1ParseError) -> HTTP1Step? {
        precondition(role == .client, "a server-role parser yields request heads")
        return try withUnsafeMutablePointer(to: &head) { (head) throws(HTTP1ParseError) in
            try advance(&buffer, request: nil, response: head)
        }
    }

    /// The state machine behind `step` and `next`: a head goes to the pointer for the parser's role.
    private mutating func advance(_ buffer: inout ByteBuffer, request: UnsafeMutablePointer<HTTP1RequestHead?>?,
                                  response: UnsafeMutablePointer<HTTP1ResponseHead?>?) throws(HTTP1ParseError) -> HTTP1Step? {
        do throws(HTTP1ParseError) {
            switch state {
            case .head:
                return try parseHead(&buffer, request: request, response: response)
            case .fixedLength(let remaining):
                guard buffer.readableBytes > 0 else { return nil }
                let count = Int(min(Int64(buffer.readableBytes), remaining))
                let slice = buffer.readSlice(length: count)!
                if remaining - Int64(count) == 0 {
                    state = .head
                    // Emit the final bytes; the end event follows on the next call.
                    pendingEnd = true
                } else {
                    state = .fixedLength(remaining: remaining - Int64(count))
                }
                return .body(slice)
            case .chunkSizeLine:
                return try parseChunkSizeLine(&buffer)
            case .chunkData(let remaining):
                guard buffer.readableBytes > 0 else { return nil }
                let count = Int(min(Int64(buffer.readableBytes), remaining))
                let slice = buffer.readSlice(length: count)!
                state = remaining == Int64(count) ? .chunkDataEnd : .chunkData(remaining: remaining - Int64(count))
                return .body(slice)
            case .chunkDataEnd:
                guard buffer.readableBytes >= 2 else { return nil }
                guard buffer.readInteger(as: UInt16.self) == 0x0D0A else { throw HTTP1ParseError.bad("chunk data not followed by CRLF") }
                state = .chunkSizeLine
                return try parseChunkSizeLine(&buffer)
            case .trailers:
                return try parseTrailers(&buffer)
            case .untilClose:
                guard buffer.readableBytes > 0 else { return nil }
                return .body(buffer.readSlice(length: buffer.readableBytes)!)
            case .failed:
                return nil
            }
        } catch {
            state = .failed
            throw error
        }
    }

    private var pendingEnd = false
    /// Empty lines skipped before the current request line, counted across calls so that the limit holds
    /// however the bytes arrive.
    private var emptyLinesSkipped = 0

    // MARK: - Heads

    private mutating func parseHead(_ buffer: inout ByteBuffer, request: UnsafeMutablePointer<HTTP1RequestHead?>?,
                                    response: UnsafeMutablePointer<HTTP1ResponseHead?>?) throws(HTTP1ParseError) -> HTTP1Step? {
        if pendingEnd {
            pendingEnd = false
            return .end(nil)
        }
        if role == .server && scanned == 0 {
            // RFC 9112 §2.2: ignore empty lines before a request line (some clients send a CRLF after a body).
            while buffer.readableBytes >= 2, buffer.getInteger(at: buffer.readerIndex, as: UInt16.self) == 0x0D0A {
                buffer.moveReaderIndex(forwardBy: 2)
                emptyLinesSkipped += 1
                if emptyLinesSkipped > 4 { throw .bad("too many empty lines before the request line") }
            }
            if buffer.readableBytes == 1, buffer.getInteger(at: buffer.readerIndex, as: UInt8.self) == 0x0D { return nil }
        }
        guard let headLength = try scanForSectionEnd(buffer, isHead: true) else { return nil }
        scanned = 0
        emptyLinesSkipped = 0
        let headBytes = buffer.getSlice(at: buffer.readerIndex, length: headLength)!
        let role = self.role
        if role == .server {
            let head = try buffer.withUnsafeReadableBytes { (bytes) throws(HTTP1ParseError) -> HTTP1RequestHead in
                try parseRequestHead(UnsafeRawBufferPointer(rebasing: bytes[0..<headLength]), headBytes: headBytes)
            }
            buffer.moveReaderIndex(forwardBy: headLength)
            enterBody(head.framing)
            request!.pointee = consume head
            return .requestHead
        }
        let head = try buffer.withUnsafeReadableBytes { (bytes) throws(HTTP1ParseError) -> HTTP1ResponseHead in
            try parseResponseHead(UnsafeRawBufferPointer(rebasing: bytes[0..<headLength]), headBytes: headBytes)
        }
        buffer.moveReaderIndex(forwardBy: headLength)
        let status = head.status.code
        if status >= 100 && status < 200 && status != 101 {
            // Interim responses (100 Continue, 103 Early Hints) are consumed here; the final one follows.
            return try parseHead(&buffer, request: request, response: response)
        }
        if status == 101 {
            guard acceptsSwitchingProtocols else { throw .bad("upstream switched protocols without being asked to") }
        } else {
            enterBody(head.framing)
        }
        if !responseToHEAD.isEmpty { responseToHEAD.removeFirst() }
        response!.pointee = consume head
        return .responseHead
    }

    private mutating func enterBody(_ framing: HTTP1BodyFraming) {
        switch framing {
        case .none: pendingEnd = true
        case .contentLength(0): pendingEnd = true
        case .contentLength(let n): state = .fixedLength(remaining: n)
        case .chunked: state = .chunkSizeLine
        case .untilClose: state = .untilClose
        }
    }

    /// Finds the end of a head or trailer section (the empty line), enforcing strict CRLF line endings
    /// and the size limits. Returns the section's length including the final CRLF CRLF.
    ///
    /// Each check looks only at the bytes up to the one being scanned, so a message gets the same answer
    /// however its bytes were split into reads.
    private mutating func scanForSectionEnd(_ buffer: ByteBuffer, isHead: Bool) throws(HTTP1ParseError) -> Int? {
        let limits = self.limits
        let isRequest = role == .server && isHead
        // A request line this long cannot carry an acceptable target: answer 414 as soon as it is seen,
        // rather than buffering on to the head limit and answering 431.
        let requestLineLimit = limits.maxURIBytes + 64
        var position = scanned
        let result: Int? = try buffer.withUnsafeReadableBytes { (bytes) throws(HTTP1ParseError) -> Int? in
            let count = bytes.count
            // A trailer section may be empty: the bytes "\r\n" right after the last chunk. Checked on every
            // call, not only when nothing was scanned yet, because the CR and the LF may arrive in separate reads.
            if !isHead && count >= 2 && bytes[0] == 0x0D && bytes[1] == 0x0A { return 2 }
            var i = position
            while i < count {
                // Eight bytes at a time while none is a CR or LF (most of a head), up to where a limit
                // applies; not right after a CR, whose LF the byte-wise check below must see.
                if i == 0 || bytes[i - 1] != 0x0D {
                    var stop = min(count, limits.maxHeadBytes)
                    if isRequest && i <= requestLineLimit { stop = min(stop, requestLineLimit) }
                    while i + 8 <= stop && !SWAR.hasCROrLF(bytes.loadUnaligned(fromByteOffset: i, as: UInt64.self)) { i += 8 }
                    if i >= count { break }
                }
                if isRequest && i == requestLineLimit && !bytes[0...i].contains(0x0A) {
                    throw HTTP1ParseError(.uriTooLong, "request target too long")
                }
                if i == limits.maxHeadBytes { throw HTTP1ParseError(.headerTooLarge, "header section too large") }
                let byte = bytes[i]
                if byte == 0x0A {
                    guard i > 0 && bytes[i - 1] == 0x0D else { throw .bad("bare LF in message head") }
                    if i >= 3 && bytes[i - 2] == 0x0A && bytes[i - 3] == 0x0D { return i + 1 }
                } else if i > 0 && bytes[i - 1] == 0x0D {
                    throw .bad("bare CR in message head")
                }
                i += 1
            }
            position = count
            return nil
        }
        scanned = position
        return result
    }

    private func parseRequestHead(_ head: UnsafeRawBufferPointer, headBytes: ByteBuffer) throws(HTTP1ParseError) -> HTTP1RequestHead {
        var lines = LineIterator(head)
        guard let requestLine = lines.next() else { throw .bad("empty request") }

        // method SP request-target SP HTTP-version
        guard let firstSpace = requestLine.firstIndex(of: 0x20) else { throw .bad("malformed request line") }
        let methodBytes = UnsafeRawBufferPointer(rebasing: requestLine[requestLine.startIndex..<firstSpace])
        guard !methodBytes.isEmpty, methodBytes.allSatisfy(HTTP1Syntax.isTokenChar) else { throw .bad("invalid method") }
        let rest = requestLine[(firstSpace + 1)...]
        guard let secondSpace = rest.firstIndex(of: 0x20) else { throw .bad("malformed request line") }
        let target = UnsafeRawBufferPointer(rebasing: rest[rest.startIndex..<secondSpace])
        let versionBytes = UnsafeRawBufferPointer(rebasing: rest[(secondSpace + 1)...])
        if target.count > limits.maxURIBytes { throw HTTP1ParseError(.uriTooLong, "request target too long") }
        guard !target.isEmpty, target.allSatisfy({ $0 > 0x20 && $0 < 0x7F }) else { throw .bad("invalid request target") }
        let minor = try HTTP1Syntax.parseVersion(versionBytes)

        // Checked to be a token above, so this cannot fail.
        let method = HTTPRequest.Method(token: methodBytes)!
        let (fields, summary, raw) = try scanRequestFieldLines(&lines)

        // Host (RFC 9112 §3.2): exactly one in HTTP/1.1, with a valid value. It goes to `authority`.
        var authority: String? = nil
        if summary.hostCount > 1 { throw .bad("more than one Host header") }
        if let host = summary.host {
            guard HTTP1Syntax.isValidHost(host) else { throw .bad("invalid Host header") }
            authority = host
        } else if minor == 1 {
            throw .bad("missing Host header")
        }

        var scheme: String? = nil
        var path: String
        if target.first == UInt8(ascii: "/") {
            // `/public/../admin` would match a `/public/` route and reach `/admin` once the backend
            // normalises it: refuse dot-segments (plain or %2e-encoded) rather than route them.
            if HTTP1Syntax.hasDotSegment(target) { throw .bad("dot-segment in request path") }
            path = String(decoding: target, as: UTF8.self)
        } else if target.count == 1 && target.first == UInt8(ascii: "*") {
            guard method == .options else { throw .bad("asterisk-form target is only for OPTIONS") }
            path = "*"
        } else if method == .connect {
            throw HTTP1ParseError(.methodNotAllowed, "CONNECT is not supported")
        } else {
            // absolute-form (RFC 9112 §3.2.2): its authority replaces Host.
            guard let absolute = HTTP1Syntax.splitAbsoluteForm(target) else { throw .bad("invalid request target") }
            scheme = absolute.scheme
            authority = absolute.authority
            path = absolute.path
        }
        if method == .connect { throw HTTP1ParseError(.methodNotAllowed, "CONNECT is not supported") }

        let framing = try Self.requestFraming(summary, minor: minor)
        // RFC 9112 §9.3: HTTP/1.1 persists unless "close"; HTTP/1.0 only with "keep-alive".
        let keepAlive = summary.connectionClose ? false : (minor >= 1 || summary.connectionKeepAlive)
        var expectsContinue = false
        if let expect = summary.expect {
            if minor == 1 && expect.lowercased() == "100-continue" { expectsContinue = true }
        }
        let request = HTTPRequest(method: method, scheme: scheme, authority: authority, path: path, headerFields: fields)
        var head = HTTP1RequestHead(request: request, minorVersion: minor, keepAlive: keepAlive, framing: framing, expectsContinue: expectsContinue)
        head.hasConnectionSpecificFields = summary.hasHopByHop || summary.hasExpect
        if var raw {
            let requestLineLength = lines.firstLineLength + 2
            raw.lines = headBytes.getSlice(at: headBytes.readerIndex + requestLineLength, length: headBytes.readableBytes - requestLineLength - 2)!
            head.rawFields = raw
        }
        return head
    }

    private func parseResponseHead(_ head: UnsafeRawBufferPointer, headBytes: ByteBuffer) throws(HTTP1ParseError) -> HTTP1ResponseHead {
        var lines = LineIterator(head)
        guard let statusLine = lines.next(), statusLine.count >= 12 else { throw .bad("malformed status line") }
        let minor = try HTTP1Syntax.parseVersion(UnsafeRawBufferPointer(rebasing: statusLine[statusLine.startIndex..<(statusLine.startIndex + 8)]))
        let s = statusLine.startIndex + 8
        guard statusLine[s] == 0x20 else { throw .bad("malformed status line") }
        var code = 0
        for i in (s + 1)...(s + 3) {
            let digit = statusLine[i]
            guard digit >= 0x30 && digit <= 0x39 else { throw .bad("malformed status code") }
            code = code * 10 + Int(digit - 0x30)
        }
        guard code >= 100 else { throw .bad("malformed status code") }
        var reason = ""
        if statusLine.count > 12 {
            guard statusLine[s + 4] == 0x20 else { throw .bad("malformed status line") }
            let reasonBytes = UnsafeRawBufferPointer(rebasing: statusLine[(s + 5)...])
            guard reasonBytes.allSatisfy(HTTP1Syntax.isFieldValueChar) else { throw .bad("invalid reason phrase") }
            reason = String(decoding: reasonBytes, as: UTF8.self)
        }
        // Check and classify the field lines without building them: a proxy forwards them as bytes.
        var summary = FieldSummary()
        var transferEncodings: [String] = []
        // The usual single Content-Length needs no array; repeats (allowed if equal) go to `moreContentLengths`.
        var contentLength: String?
        var moreContentLengths: [String] = []
        var connectionClose = false, connectionKeepAlive = false, nominates = false
        var count = 0
        // Offsets in `rawFields`, which start after the status line.
        let fieldsStart = statusLine.count + 2
        var droppable = HTTP1DroppableLines()
        while let (line, parts, known) = try nextField(&lines, count: &count) {
            switch known {
            case .other, .host, .expect:
                break
            default:
                droppable.append(.init(range: (line.startIndex - fieldsStart)..<(line.endIndex + 2 - fieldsStart), isLength: known == .contentLength))
            }
            switch known {
            case .other, .host, .expect:
                break
            case .contentLength:
                summary.contentLengthCount += 1
                let value = String(decoding: parts.value, as: UTF8.self)
                if contentLength == nil { contentLength = value } else { moreContentLengths.append(value) }
            case .transferEncoding:
                summary.transferEncodingCount += 1
                summary.hasHopByHop = true
                transferEncodings.append(String(decoding: parts.value, as: UTF8.self))
            case .connection:
                summary.hasHopByHop = true
                HTTP1Syntax.connectionOptions(parts.value, close: &connectionClose, keepAlive: &connectionKeepAlive, others: &nominates)
            case .otherHopByHop:
                summary.hasHopByHop = true
            }
        }
        let toHEAD = responseToHEAD.first ?? false
        let framing = try Self.responseFraming(transferEncodings: transferEncodings, contentLength: contentLength, moreContentLengths: moreContentLengths,
                                             status: code, toHEAD: toHEAD)
        var keepAlive = !connectionClose && (minor >= 1 || connectionKeepAlive)
        if framing == .untilClose { keepAlive = false }
        // RFC 9112 §6.1: Transfer-Encoding in an HTTP/1.0 message means its framing is suspect; the sender
        // may hold back bytes that a reused connection would misread.
        if minor == 0 && summary.transferEncodingCount > 0 { keepAlive = false }
        let statusLineLength = statusLine.count + 2
        let rawFields = headBytes.getSlice(at: headBytes.readerIndex + statusLineLength, length: headBytes.readableBytes - statusLineLength - 2)!
        var result = HTTP1ResponseHead(status: .init(code: code, reasonPhrase: reason), minorVersion: minor, keepAlive: keepAlive,
                                       framing: framing, rawFields: rawFields)
        result.hasConnectionSpecificFields = summary.hasHopByHop
        result.connectionNominatesFields = nominates
        result.droppableLines = droppable
        return result
    }

    /// The next line of a head's field section, counted against the limit, checked and classified; nil
    /// at the section's end. Request and response heads walk their fields through this.
    @inline(__always)
    private func nextField(_ lines: inout LineIterator, count: inout Int) throws(HTTP1ParseError)
        -> (line: Slice<UnsafeRawBufferPointer>, parts: (name: UnsafeRawBufferPointer, value: UnsafeRawBufferPointer, ascii: Bool), known: KnownField)? {
        guard let line = lines.next(), !line.isEmpty else { return nil }
        count += 1
        if count > limits.maxHeaderCount { throw HTTP1ParseError(.tooManyHeaders, "too many header fields") }
        let parts = try HTTP1Syntax.splitFieldLine(line)
        return (line, parts, HTTP1FieldNames.classify(parts.name))
    }

    /// What parsing the fields noticed, so framing decisions need no second search through them.
    struct FieldSummary {
        var hostCount = 0
        var host: String?
        var contentLengthCount = 0
        var contentLength: String?
        var transferEncodingCount = 0
        /// Requests: every Transfer-Encoding value, in order (rare, so an array is fine).
        var transferEncodings: [String] = []
        var connectionClose = false
        var connectionKeepAlive = false
        var hasExpect = false
        /// Requests: the first Expect value.
        var expect: String?
        /// Any of Connection, Keep-Alive, Proxy-Connection, TE, Transfer-Encoding, Upgrade, Trailer.
        var hasHopByHop = false
    }

    /// Checks a request's field lines and notes what framing and forwarding need. Builds `HTTPFields`
    /// (without Host, which becomes `authority`), or with `keepsRequestFieldsRaw` only the raw-fields
    /// notes; both modes check exactly the same things.
    private func scanRequestFieldLines(_ lines: inout LineIterator) throws(HTTP1ParseError) -> (HTTPFields, FieldSummary, HTTP1RawRequestFields?) {
        var fields = HTTPFields()
        var summary = FieldSummary()
        var raw = keepsRequestFieldsRaw ? HTTP1RawRequestFields(lines: ByteBuffer()) : nil
        var count = 0
        var teTrailers = false, nominates = false
        while let (_, parts, known) = try nextField(&lines, count: &count) {
            switch known {
            case .other:
                if raw != nil { Self.noteForwardingField(parts.name, parts.value, into: &raw!) }
            case .host:
                summary.hostCount += 1
                if summary.host == nil { summary.host = String(decoding: parts.value, as: UTF8.self) }
            case .contentLength:
                summary.contentLengthCount += 1
                if summary.contentLength == nil { summary.contentLength = String(decoding: parts.value, as: UTF8.self) }
            case .transferEncoding:
                summary.transferEncodingCount += 1
                summary.hasHopByHop = true
                summary.transferEncodings.append(String(decoding: parts.value, as: UTF8.self))
            case .connection:
                summary.hasHopByHop = true
                HTTP1Syntax.connectionOptions(parts.value, close: &summary.connectionClose, keepAlive: &summary.connectionKeepAlive, others: &nominates)
            case .expect:
                summary.hasExpect = true
                if summary.expect == nil { summary.expect = String(decoding: parts.value, as: UTF8.self) }
            case .otherHopByHop:
                summary.hasHopByHop = true
                if parts.name.count == 2 && HTTP1Syntax.listContainsToken(parts.value, "trailers") { teTrailers = true }
            }
            if raw == nil && known != .host { fields.append(HTTP1Syntax.makeField(parts).0) }
        }
        raw?.asksForTrailers = teTrailers
        raw?.connectionNominatesFields = nominates
        return (fields, summary, raw)
    }

    /// The few values a proxy reads from every request even when it forwards the fields as bytes.
    private static func noteForwardingField(_ name: UnsafeRawBufferPointer, _ value: UnsafeRawBufferPointer, into raw: inout HTTP1RawRequestFields) {
        switch name.count {
        case 11:
            if raw.traceparent == nil && HTTP1FieldNames.same(name, "traceparent") { raw.traceparent = String(decoding: value, as: UTF8.self) }
        case 12:
            if raw.requestID == nil && HTTP1FieldNames.same(name, "x-request-id") {
                raw.requestID = String(decoding: value, as: UTF8.self)
            } else if raw.contentType == nil && HTTP1FieldNames.same(name, "content-type") {
                raw.contentType = String(decoding: value, as: UTF8.self)
            }
        case 15:
            guard HTTP1FieldNames.same(name, "x-forwarded-for") else { return }
            let text = String(decoding: value, as: UTF8.self)
            raw.forwardedFor = raw.forwardedFor.map { "\($0), \(text)" } ?? text
        default:
            return
        }
    }

    /// `keepHost: false` leaves Host out of the fields (requests carry it as `authority`).
    private func parseFieldLines(_ lines: inout LineIterator, keepHost: Bool) throws(HTTP1ParseError) -> (HTTPFields, FieldSummary) {
        var fields = HTTPFields()
        var summary = FieldSummary()
        var count = 0
        while let line = lines.next() {
            if line.isEmpty { break }
            count += 1
            if count > limits.maxHeaderCount { throw HTTP1ParseError(.tooManyHeaders, "too many header fields") }
            let (field, known) = try HTTP1Syntax.parseFieldLine(line)
            switch known {
            case .other:
                break
            case .host:
                summary.hostCount += 1
                if summary.host == nil { summary.host = field.value }
                if !keepHost { continue }
            case .contentLength:
                summary.contentLengthCount += 1
                if summary.contentLength == nil { summary.contentLength = field.value }
            case .transferEncoding:
                summary.transferEncodingCount += 1
                summary.hasHopByHop = true
            case .connection:
                summary.hasHopByHop = true
            case .expect:
                summary.hasExpect = true
            case .otherHopByHop:
                summary.hasHopByHop = true
            }
            fields.append(field)
        }
        return (fields, summary)
    }

    // MARK: - Framing (RFC 9112 §6)

    static func requestFraming(_ summary: FieldSummary, minor: UInt8) throws(HTTP1ParseError) -> HTTP1BodyFraming {
        if summary.transferEncodingCount == 0 {
            if summary.contentLengthCount > 1 { throw .bad("more than one Content-Length") }
            guard let value = summary.contentLength else { return .none }
            let length = try HTTP1Syntax.parseContentLength(value)
            return length == 0 ? .none : .contentLength(length)
        }
        if summary.contentLengthCount > 0 { throw .bad("both Content-Length and Transfer-Encoding") }
        if minor == 0 { throw .bad("Transfer-Encoding in an HTTP/1.0 request") }
        let codings = try HTTP1Syntax.tokenList(summary.transferEncodings)
        guard codings.last == "chunked" else { throw .bad("final transfer coding is not chunked") }
        if codings.count > 1 { throw HTTP1ParseError(.transferCodingNotImplemented, "transfer coding not implemented") }
        return .chunked
    }

    static func responseFraming(transferEncodings: [String], contentLength: String?, moreContentLengths: [String], status: Int,
                                toHEAD: Bool) throws(HTTP1ParseError) -> HTTP1BodyFraming {
        if toHEAD || status == 204 || status == 304 || (status >= 100 && status < 200) { return .none }
        if !transferEncodings.isEmpty {
            // RFC 9112 §6.3 lets Transfer-Encoding win, but a sender doing both is broken or hostile.
            if contentLength != nil { throw .bad("upstream sent both Content-Length and Transfer-Encoding") }
            let codings = try HTTP1Syntax.tokenList(transferEncodings)
            return codings.last == "chunked" ? .chunked : .untilClose
        }
        if let contentLength {
            let length = try HTTP1Syntax.parseContentLength(contentLength)
            for other in moreContentLengths where try HTTP1Syntax.parseContentLength(other) != length {
                throw .bad("differing Content-Length values")
            }
            return .contentLength(length)
        }
        return .untilClose
    }

    // MARK: - Chunked bodies (RFC 9112 §7.1)

    private mutating func parseChunkSizeLine(_ buffer: inout ByteBuffer) throws(HTTP1ParseError) -> HTTP1Step? {
        let maxLine = limits.maxChunkLineBytes
        var position = scanned
        let found: (lineLength: Int, size: Int64)? = try buffer.withUnsafeReadableBytes { (bytes) throws(HTTP1ParseError) -> (Int, Int64)? in
            var i = position
            while i < bytes.count {
                if bytes[i] == 0x0A {
                    guard i > 0 && bytes[i - 1] == 0x0D else { throw .bad("bare LF in chunk size line") }
                    let line = UnsafeRawBufferPointer(rebasing: bytes[0..<(i - 1)])
                    return (i + 1, try HTTP1Syntax.parseChunkSize(line))
                }
                i += 1
                if i > maxLine { throw .bad("chunk size line too long") }
            }
            position = bytes.count
            return nil
        }
        scanned = position
        guard let found else { return nil }
        scanned = 0
        buffer.moveReaderIndex(forwardBy: found.lineLength)
        if found.size == 0 {
            state = .trailers
            return try parseTrailers(&buffer)
        }
        state = .chunkData(remaining: found.size)
        return try advance(&buffer, request: nil, response: nil)
    }

    private mutating func parseTrailers(_ buffer: inout ByteBuffer) throws(HTTP1ParseError) -> HTTP1Step? {
        guard let length = try scanForSectionEnd(buffer, isHead: false) else { return nil }
        scanned = 0
        state = .head
        if length == 2 {
            buffer.moveReaderIndex(forwardBy: 2)
            return .end(nil)
        }
        let trailers: HTTPFields = try buffer.withUnsafeReadableBytes { (bytes) throws(HTTP1ParseError) -> HTTPFields in
            var lines = LineIterator(UnsafeRawBufferPointer(rebasing: bytes[0..<length]))
            return try parseFieldLines(&lines, keepHost: true).0
        }
        buffer.moveReaderIndex(forwardBy: length)
        return .end(trailers)
    }
}

/// Splits a head (already checked for strict CRLF endings) into lines without their CRLF.
struct LineIterator {
    private let bytes: UnsafeRawBufferPointer
    private var position = 0
    /// The length of the first line returned (without CRLF).
    private(set) var firstLineLength = 0

    init(_ bytes: UnsafeRawBufferPointer) { self.bytes = bytes }

    mutating func next() -> Slice<UnsafeRawBufferPointer>? {
        guard position < bytes.count, let base = bytes.baseAddress else { return nil }
        // The first CR followed by LF (memchr finds the CRs); without one, the rest but its last byte.
        var end = bytes.count - 1
        var from = position
        while from < bytes.count - 1, let cr = memchr(base + from, 0x0D, bytes.count - 1 - from) {
            let index = base.distance(to: UnsafeRawPointer(cr))
            if bytes[index + 1] == 0x0A {
                end = index
                break
            }
            from = index + 1
        }
        let line = bytes[position..<end]
        if position == 0 { firstLineLength = end }
        position = end + 2
        return line
    }
}
