import NIOCore

/// Parses RESP2 replies from a byte stream; a reply split across reads waits for the rest.
struct RESPDecoder: NIOSingleStepByteToMessageDecoder {
    typealias InboundOut = RESPValue

    /// Bulk strings and arrays beyond these are a broken or hostile peer: the connection is dropped.
    static let maxBulkBytes = 1 << 20
    static let maxArrayCount = 1024
    static let maxDepth = 4

    struct ProtocolError: Error, CustomStringConvertible {
        var description: String
    }

    mutating func decode(buffer: inout ByteBuffer) throws -> RESPValue? {
        var view = buffer
        guard let value = try Self.parse(&view, depth: 0) else { return nil }
        buffer = view
        return value
    }

    mutating func decodeLast(buffer: inout ByteBuffer, seenEOF: Bool) throws -> RESPValue? {
        try decode(buffer: &buffer)
    }

    /// One value from the front of `buffer`, consuming it; nil (consuming nothing useful) if incomplete.
    static func parse(_ buffer: inout ByteBuffer, depth: Int) throws -> RESPValue? {
        guard depth <= maxDepth else { throw ProtocolError(description: "replies nested too deeply") }
        guard let type = buffer.readInteger(as: UInt8.self) else { return nil }
        guard let line = readLine(&buffer) else { return nil }
        switch type {
        case UInt8(ascii: "+"):
            return .simpleString(line)
        case UInt8(ascii: "-"):
            return .error(line)
        case UInt8(ascii: ":"):
            guard let value = Int64(line) else { throw ProtocolError(description: "bad integer '\(line)'") }
            return .integer(value)
        case UInt8(ascii: "$"):
            guard let length = Int(line), length >= -1, length <= maxBulkBytes else { throw ProtocolError(description: "bad bulk length '\(line)'") }
            if length == -1 { return .bulkString(nil) }
            guard buffer.readableBytes >= length + 2, let bytes = buffer.readSlice(length: length) else { return nil }
            buffer.moveReaderIndex(forwardBy: 2)
            return .bulkString(bytes)
        case UInt8(ascii: "*"):
            guard let count = Int(line), count >= -1, count <= maxArrayCount else { throw ProtocolError(description: "bad array length '\(line)'") }
            if count == -1 { return .array(nil) }
            var items: [RESPValue] = []
            items.reserveCapacity(count)
            for _ in 0..<count {
                guard let item = try parse(&buffer, depth: depth + 1) else { return nil }
                items.append(item)
            }
            return .array(items)
        default:
            throw ProtocolError(description: "unknown reply type \(type)")
        }
    }

    private static func readLine(_ buffer: inout ByteBuffer) -> String? {
        let view = buffer.readableBytesView
        guard let cr = view.firstIndex(of: UInt8(ascii: "\r")), cr + 1 < view.endIndex, view[cr + 1] == UInt8(ascii: "\n") else {
            return nil
        }
        let length = cr - view.startIndex
        let line = buffer.readString(length: length)
        buffer.moveReaderIndex(forwardBy: 2)
        return line
    }
}
