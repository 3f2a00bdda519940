import HTTPTypes
import NIOCore

/// A request's field lines kept as received, for a proxy that forwards them as bytes.
///
/// Building `HTTPFields` for every request (a `String` per name and value, an array, an index) is most of
/// what parsing a small request costs; a request whose route has no filters needs only a handful of
/// values, which the parser notes here while it checks the lines. Anything that needs the fields
/// themselves (a filter, an HTTP/2 upstream) calls `materialize()` once.
public struct HTTP1RawRequestFields: Sendable {
    /// The field lines after the request line, each ending in CRLF (checked by the parser), `Host` included.
    public var lines: ByteBuffer

    /// The first `X-Request-Id` value.
    public var requestID: String?
    /// Every `X-Forwarded-For` value, joined with ", " as `HTTPFields` would.
    public var forwardedFor: String?
    /// The first `traceparent` value.
    public var traceparent: String?
    /// The first `Content-Type` value (gRPC detection).
    public var contentType: String?
    /// `TE` lists `trailers`, the one TE value a proxy forwards.
    public var asksForTrailers = false
    /// `Connection` names fields besides `close` and `keep-alive`: those must be removed too, which the
    /// structured path (`HopByHop.strip`) does.
    public var connectionNominatesFields = false

    public init(lines: ByteBuffer) { self.lines = lines }

    /// The fields as `HTTPFields`, without `Host` (requests carry it as `authority`).
    public func materialize() -> HTTPFields {
        var fields = HTTPFields()
        lines.withUnsafeReadableBytes { bytes in
            // One allocation for the field array instead of a growth step every few fields.
            var lineCount = 0
            for byte in bytes where byte == 0x0A { lineCount += 1 }
            fields.reserveCapacity(lineCount)
            var iterator = LineIterator(bytes)
            while let line = iterator.next(), !line.isEmpty {
                // The parser checked every line; nothing here can fail.
                guard let (field, known) = try? HTTP1Syntax.parseFieldLine(line), known != .host else { continue }
                fields.append(field)
            }
        }
        return fields
    }

    /// Calls `body` with each field line (without CRLF) and its name.
    public func forEachLine(_ body: (_ line: UnsafeRawBufferPointer, _ name: UnsafeRawBufferPointer) -> Void) {
        lines.forEachFieldLine(body)
    }
}

extension ByteBuffer {
    /// Calls `body` with each field line of a checked head section (without CRLF) and its name.
    func forEachFieldLine(_ body: (_ line: UnsafeRawBufferPointer, _ name: UnsafeRawBufferPointer) -> Void) {
        withUnsafeReadableBytes { bytes in
            var iterator = LineIterator(bytes)
            while let line = iterator.next(), !line.isEmpty {
                guard let colon = line.firstIndex(of: UInt8(ascii: ":")) else { continue }
                body(UnsafeRawBufferPointer(rebasing: line), UnsafeRawBufferPointer(rebasing: line[line.startIndex..<colon]))
            }
        }
    }
}
