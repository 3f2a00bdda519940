#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
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
        HeadBytesWriter.write(into: &self, atMost: HeadBytesWriter.statusLineBound(status)) { $0.putStatusLine(status) }
    }

    /// A response head forwarded from an HTTP/1.1 upstream, in one reservation: the status line, the
    /// received field lines (without hop-by-hop ones with `stripHopByHop`, without Content-Length with
    /// `dropLength`), `extraFields` (this hop's framing and connection lines, each ending in CRLF), and the
    /// empty line.
    public mutating func writeHTTP1ResponseHead(forwarding head: HTTP1ResponseHead, stripHopByHop: Bool, dropLength: Bool,
                                                extraFields: StaticString?) {
        let bound = HeadBytesWriter.statusLineBound(head.status) + head.rawFields.readableBytes + (extraFields?.utf8CodeUnitCount ?? 0) + 2
        HeadBytesWriter.write(into: &self, atMost: bound) { writer in
            writer.putStatusLine(head.status)
            head.writeForwardedFields(into: &writer, stripHopByHop: stripHopByHop, dropLength: dropLength)
            if let extraFields { writer.put(extraFields) }
            writer.put("\r\n")
        }
    }

    /// The request a proxy forwards: `request` with the standard forwarding edits applied while writing,
    /// so the fields are never copied or searched to make them.
    public mutating func writeHTTP1RequestHead(_ request: HTTPRequest, edits: ForwardingEdits) {
        var fieldBytes = 0
        for field in request.headerFields { fieldBytes += field.name.rawName.utf8.count + field.value.utf8.count + 4 }
        HeadBytesWriter.write(into: &self, atMost: Self.requestLineAndHostBound(request) + fieldBytes + edits.byteBound) { head in
            head.putRequestLineAndHost(request)
            for field in request.headerFields where !edits.replaces(field.name.canonicalName) {
                head.put(field.name.rawName)
                head.put(": ")
                head.put(field.value)
                head.put("\r\n")
            }
            head.putForwardingEdits(edits)
        }
    }

    /// The same request when its fields were kept as received (`HTTP1RawRequestFields`): the lines
    /// that stay are copied as bytes, never turned into fields, runs of kept lines in one piece.
    public mutating func writeHTTP1RequestHead(_ request: HTTPRequest, rawFields: HTTP1RawRequestFields, edits: ForwardingEdits) {
        let fieldEdits = rawFields.edits
        let added = fieldEdits.addedLines?.readableBytes ?? 0
        let bound = Self.requestLineAndHostBound(request) + rawFields.lines.readableBytes + added + edits.byteBound
        HeadBytesWriter.write(into: &self, atMost: bound) { head in
            head.putRequestLineAndHost(request)
            rawFields.lines.withUnsafeReadableBytes { lines in
                // The start of the kept lines not yet copied; a dropped line copies them and moves it past.
                var runStart = 0
                var runEnd = 0
                var iterator = LineIterator(lines)
                while let line = iterator.next(), !line.isEmpty {
                    let next = min(line.endIndex + 2, lines.count)
                    let text = UnsafeRawBufferPointer(rebasing: line)
                    if let colon = memchr(text.baseAddress!, Int32(UInt8(ascii: ":")), text.count) {
                        let name = UnsafeRawBufferPointer(start: text.baseAddress, count: text.baseAddress!.distance(to: UnsafeRawPointer(colon)))
                        // A filter's edits (HTTP1FieldEdits): removed names are left out, added fields follow.
                        if !edits.replaces(rawName: name) && !fieldEdits.removes(rawName: name) {
                            runEnd = next
                            continue
                        }
                    }
                    head.put(UnsafeRawBufferPointer(rebasing: lines[runStart..<runEnd]))
                    runStart = next
                    runEnd = next
                }
                head.put(UnsafeRawBufferPointer(rebasing: lines[runStart..<runEnd]))
            }
            if let addedLines = fieldEdits.addedLines { addedLines.withUnsafeReadableBytes { head.put($0) } }
            head.putForwardingEdits(edits)
        }
    }

    /// The most the request line and `Host` take (`HeadBytesWriter.putRequestLineAndHost`).
    private static func requestLineAndHostBound(_ request: HTTPRequest) -> Int {
        request.method.rawValue.utf8.count + (request.path?.utf8.count ?? 1) + (request.authority?.utf8.count ?? 0) + 20
    }

    /// `<method> <path> HTTP/1.1`, `Host` from the authority, then the fields.
    public mutating func writeHTTP1RequestHead(_ request: HTTPRequest) {
        HeadBytesWriter.write(into: &self, atMost: Self.requestLineAndHostBound(request)) { $0.putRequestLineAndHost(request) }
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
