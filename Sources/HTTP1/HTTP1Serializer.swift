import HTTPTypes
import NIOCore

/// Writes HTTP/1.1 message heads and chunked framing into a ByteBuffer.
extension ByteBuffer {
    /// `HTTP/1.1 <code> <reason>` and the fields. The caller has already decided the framing fields
    /// (Content-Length or Transfer-Encoding) and put them into `response.headerFields`.
    public mutating func writeHTTP1ResponseHead(_ response: HTTPResponse) {
        writeHTTP1StatusLine(response.status)
        writeHTTP1Fields(response.headerFields)
        writeStaticString("\r\n")
    }

    /// `HTTP/1.1 <code> <reason>` CRLF.
    public mutating func writeHTTP1StatusLine(_ status: HTTPResponse.Status) {
        writeStaticString("HTTP/1.1 ")
        let code = status.code
        writeInteger(UInt8(truncatingIfNeeded: 0x30 + code / 100))
        writeInteger(UInt8(truncatingIfNeeded: 0x30 + (code / 10) % 10))
        writeInteger(UInt8(truncatingIfNeeded: 0x30 + code % 10))
        writeInteger(UInt8(ascii: " "))
        writeString(status.reasonPhrase)
        writeStaticString("\r\n")
    }

    /// The request a proxy forwards: `request` with the standard forwarding edits applied while writing,
    /// so the fields are never copied or searched to make them.
    public mutating func writeHTTP1RequestHead(_ request: HTTPRequest, edits: ForwardingEdits) {
        writeHTTP1RequestLineAndHost(request)
        for field in request.headerFields where !edits.replaces(field.name.canonicalName) {
            writeString(field.name.rawName)
            writeStaticString(": ")
            writeString(field.value)
            writeStaticString("\r\n")
        }
        writeForwardingEdits(edits)
    }

    /// The fields the edits add, and the empty line that ends the head.
    private mutating func writeForwardingEdits(_ edits: ForwardingEdits) {
        writeStaticString("X-Request-Id: ")
        writeString(edits.requestID)
        writeStaticString("\r\nX-Forwarded-For: ")
        writeString(edits.forwardedFor)
        writeStaticString("\r\nX-Forwarded-Proto: ")
        writeString(edits.forwardedProto)
        writeStaticString("\r\n")
        if edits.chunked { writeStaticString("Transfer-Encoding: chunked\r\n") }
        if edits.teTrailers { writeStaticString("TE: trailers\r\n") }
        if let upgrade = edits.upgrade {
            writeStaticString("Connection: Upgrade\r\nUpgrade: ")
            writeString(upgrade)
            writeStaticString("\r\n")
        }
        if let timeout = edits.grpcTimeout {
            writeStaticString("grpc-timeout: ")
            writeString(timeout)
            writeStaticString("\r\n")
        }
        if let trace = edits.traceparent {
            writeStaticString("traceparent: 00-")
            writeHex(trace.traceHigh)
            writeHex(trace.traceLow)
            writeInteger(UInt8(ascii: "-"))
            writeHex(trace.spanID)
            writeStaticString(trace.sampled ? "-01\r\n" : "-00\r\n")
        }
        writeStaticString("\r\n")
    }

    /// The same request when its fields were kept as received (`HTTP1RawRequestFields`): the lines
    /// that stay are copied as bytes, never turned into fields.
    public mutating func writeHTTP1RequestHead(_ request: HTTPRequest, rawFields: HTTP1RawRequestFields, edits: ForwardingEdits) {
        writeHTTP1RequestLineAndHost(request)
        let fieldEdits = rawFields.edits
        if fieldEdits.isEmpty {
            rawFields.forEachLine { line, name in
                if edits.replaces(rawName: name) { return }
                writeBytes(line)
                writeStaticString("\r\n")
            }
        } else {
            // A filter's edits (HTTP1FieldEdits): removed names are left out, added fields follow.
            rawFields.forEachLine { line, name in
                if edits.replaces(rawName: name) || fieldEdits.removes(rawName: name) { return }
                writeBytes(line)
                writeStaticString("\r\n")
            }
            if let added = fieldEdits.addedLines { writeImmutableBuffer(added) }
        }
        writeForwardingEdits(edits)
    }

    /// 16 lower-case hex digits.
    private mutating func writeHex(_ value: UInt64) {
        let digits: StaticString = "0123456789abcdef"
        writeWithUnsafeMutableBytes(minimumWritableBytes: 16) { bytes in
            for index in 0..<16 { bytes[index] = digits.utf8Start[Int((value >> UInt64(60 - 4 * index)) & 0xF)] }
            return 16
        }
    }

    /// `<method> <path> HTTP/1.1` and `Host` from the authority (first, as RFC 9112 §3.2 advises).
    private mutating func writeHTTP1RequestLineAndHost(_ request: HTTPRequest) {
        writeString(request.method.rawValue)
        writeInteger(UInt8(ascii: " "))
        writeString(request.path ?? "/")
        writeStaticString(" HTTP/1.1\r\n")
        if let authority = request.authority {
            writeStaticString("Host: ")
            writeString(authority)
            writeStaticString("\r\n")
        }
    }

    /// `<method> <path> HTTP/1.1`, `Host` from the authority, then the fields.
    public mutating func writeHTTP1RequestHead(_ request: HTTPRequest) {
        writeHTTP1RequestLineAndHost(request)
        writeHTTP1Fields(request.headerFields)
        writeStaticString("\r\n")
    }

    public mutating func writeHTTP1Fields(_ fields: HTTPFields) {
        for field in fields {
            writeString(field.name.rawName)
            writeStaticString(": ")
            writeString(field.value)
            writeStaticString("\r\n")
        }
    }

    /// The size line of one chunk; the caller writes the data and then `writeStaticString("\r\n")`.
    public mutating func writeChunkHeader(size: Int) {
        var digits = 0
        var remaining = size
        repeat { digits += 1; remaining >>= 4 } while remaining > 0
        var shift = (digits - 1) * 4
        while shift >= 0 {
            let nibble = UInt8((size >> shift) & 0xF)
            writeInteger(nibble < 10 ? 0x30 + nibble : 0x57 + nibble)
            shift -= 4
        }
        writeStaticString("\r\n")
    }

    /// The last chunk, the trailers if any, and the final empty line.
    public mutating func writeLastChunk(trailers: HTTPFields?) {
        writeStaticString("0\r\n")
        if let trailers { writeHTTP1Fields(trailers) }
        writeStaticString("\r\n")
    }
}
