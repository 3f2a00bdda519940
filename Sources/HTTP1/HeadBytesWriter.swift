#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import HTTPTypes
import NIOCore

/// Writes a message head into memory reserved in one step: each piece is a `memcpy`. A `ByteBuffer` write
/// checks capacity and uniqueness on every call, and a forwarded head is twenty or more small pieces.
/// The caller reserves at least what it writes (`HeadBytesWriter.write(into:atMost:_:)`); every piece is
/// still checked against the room, so a wrong bound stops the process instead of writing past the buffer.
struct HeadBytesWriter {
    private let base: UnsafeMutableRawPointer
    private let room: Int
    private(set) var count = 0

    private init(_ room: UnsafeMutableRawBufferPointer) {
        self.base = room.baseAddress!
        self.room = room.count
    }

    /// Runs `body` on room for `atMost` bytes at the buffer's writer index, and keeps what it wrote.
    @inline(__always)
    static func write(into buffer: inout ByteBuffer, atMost: Int, _ body: (inout HeadBytesWriter) -> Void) {
        buffer.writeWithUnsafeMutableBytes(minimumWritableBytes: atMost) { room in
            var writer = HeadBytesWriter(room)
            body(&writer)
            return writer.count
        }
    }

    @inline(__always)
    private mutating func reserve(_ length: Int) -> UnsafeMutableRawPointer {
        precondition(length <= room - count, "HTTP/1.1 head larger than the room reserved for it")
        defer { count += length }
        return base + count
    }

    @inline(__always)
    mutating func put(_ text: StaticString) {
        reserve(text.utf8CodeUnitCount).copyMemory(from: text.utf8Start, byteCount: text.utf8CodeUnitCount)
    }

    @inline(__always)
    mutating func put(_ bytes: UnsafeRawBufferPointer) {
        guard let source = bytes.baseAddress, bytes.count > 0 else { return }
        reserve(bytes.count).copyMemory(from: source, byteCount: bytes.count)
    }

    @inline(__always)
    mutating func put(_ text: String) {
        let copied = text.utf8.withContiguousStorageIfAvailable { put(UnsafeRawBufferPointer($0)) }
        if copied == nil {
            for byte in text.utf8 { put(byte: byte) }
        }
    }

    @inline(__always)
    mutating func put(byte: UInt8) {
        reserve(1).storeBytes(of: byte, as: UInt8.self)
    }

    /// 16 lower-case hex digits.
    mutating func putHex(_ value: UInt64) {
        let digits: StaticString = "0123456789abcdef"
        for index in 0..<16 { put(byte: digits.utf8Start[Int((value >> UInt64(60 - 4 * index)) & 0xF)]) }
    }
}

extension HeadBytesWriter {
    /// `HTTP/1.1 <code> <reason>` CRLF; at most `statusLineBound(status)` bytes.
    mutating func putStatusLine(_ status: HTTPResponse.Status) {
        put("HTTP/1.1 ")
        let code = status.code
        put(byte: UInt8(truncatingIfNeeded: 0x30 + code / 100))
        put(byte: UInt8(truncatingIfNeeded: 0x30 + (code / 10) % 10))
        put(byte: UInt8(truncatingIfNeeded: 0x30 + code % 10))
        put(byte: UInt8(ascii: " "))
        put(status.reasonPhrase)
        put("\r\n")
    }

    static func statusLineBound(_ status: HTTPResponse.Status) -> Int { 15 + status.reasonPhrase.utf8.count }

    /// `<method> <path> HTTP/1.1` and `Host` from the authority (first, as RFC 9112 §3.2 advises).
    mutating func putRequestLineAndHost(_ request: HTTPRequest) {
        put(request.method.rawValue)
        put(byte: UInt8(ascii: " "))
        if let path = request.path { put(path) } else { put(byte: UInt8(ascii: "/")) }
        put(" HTTP/1.1\r\n")
        if let authority = request.authority {
            put("Host: ")
            put(authority)
            put("\r\n")
        }
    }

    /// The fields the forwarding edits add, and the empty line that ends the head (at most
    /// `ForwardingEdits.byteBound` bytes).
    mutating func putForwardingEdits(_ edits: ForwardingEdits) {
        put("X-Request-Id: ")
        put(edits.requestID)
        put("\r\nX-Forwarded-For: ")
        put(edits.forwardedFor)
        put("\r\nX-Forwarded-Proto: ")
        put(edits.forwardedProto)
        put("\r\n")
        if edits.chunked { put("Transfer-Encoding: chunked\r\n") }
        if edits.teTrailers { put("TE: trailers\r\n") }
        if let upgrade = edits.upgrade {
            put("Connection: Upgrade\r\nUpgrade: ")
            put(upgrade)
            put("\r\n")
        }
        if let timeout = edits.grpcTimeout {
            put("grpc-timeout: ")
            put(timeout)
            put("\r\n")
        }
        if let trace = edits.traceparent {
            put("traceparent: 00-")
            putHex(trace.traceHigh)
            putHex(trace.traceLow)
            put(byte: UInt8(ascii: "-"))
            putHex(trace.spanID)
            put(trace.sampled ? "-01\r\n" : "-00\r\n")
        }
        put("\r\n")
    }
}

extension ForwardingEdits {
    /// The most `HeadBytesWriter.putForwardingEdits` writes: the fixed text (under 256 bytes with every
    /// optional field) and the values.
    var byteBound: Int {
        256 + requestID.utf8.count + forwardedFor.utf8.count + forwardedProto.utf8.count
            + (upgrade?.utf8.count ?? 0) + (grpcTimeout?.utf8.count ?? 0)
    }
}
