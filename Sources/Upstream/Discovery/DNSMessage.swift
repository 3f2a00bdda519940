import NIOCore

/// The few parts of the DNS wire format (RFC 1035) that endpoint discovery needs: one question for A or
/// AAAA records, and the addresses in the answer. Anything it does not understand is skipped, never
/// trusted: names are followed through compression pointers with a hop limit, lengths are checked
/// against the message.
public enum DNSMessage {
    public enum RecordType: UInt16, Sendable {
        case a = 1
        case aaaa = 28
    }

    public struct Answer: Sendable, Equatable {
        /// Dotted IPv4 or colon-separated IPv6 text, as `SocketAddress` parses it.
        public var address: String
        public var ttlSeconds: UInt32

        public init(address: String, ttlSeconds: UInt32) {
            self.address = address
            self.ttlSeconds = ttlSeconds
        }
    }

    public enum ParseError: Error, Equatable, CustomStringConvertible {
        case truncatedMessage
        case notAResponse
        case idMismatch
        /// RCODE other than NOERROR (0) or NXDOMAIN (3), e.g. SERVFAIL.
        case serverError(rcode: UInt8)
        case badName

        public var description: String {
            switch self {
            case .truncatedMessage: return "truncated DNS message"
            case .notAResponse: return "not a DNS response"
            case .idMismatch: return "DNS response for another query"
            case .serverError(let rcode): return "DNS server error (rcode \(rcode))"
            case .badName: return "malformed name in DNS response"
            }
        }
    }

    /// A recursive query for `name`'s records of `type`.
    public static func query(id: UInt16, name: String, type: RecordType) -> ByteBuffer {
        var buffer = ByteBuffer()
        buffer.writeInteger(id)
        buffer.writeInteger(UInt16(0x0100))  // standard query, recursion desired
        buffer.writeInteger(UInt16(1))       // one question
        buffer.writeInteger(UInt16(0))
        buffer.writeInteger(UInt16(0))
        buffer.writeInteger(UInt16(0))
        for label in name.split(separator: ".", omittingEmptySubsequences: true) {
            let bytes = Array(label.utf8.prefix(63))
            buffer.writeInteger(UInt8(bytes.count))
            buffer.writeBytes(bytes)
        }
        buffer.writeInteger(UInt8(0))
        buffer.writeInteger(type.rawValue)
        buffer.writeInteger(UInt16(1))  // class IN
        return buffer
    }

    /// The addresses of `type` in a response to query `id`. NXDOMAIN is an empty answer, not an error:
    /// the name has no addresses (any more).
    public static func parseAnswers(_ message: ByteBuffer, id: UInt16, type: RecordType) throws(ParseError) -> [Answer] {
        let bytes = message.readableBytesView
        var reader = Reader(bytes: Array(bytes))
        guard let responseID = reader.u16(), let flags = reader.u16(), let questions = reader.u16(),
              let answers = reader.u16(), reader.u16() != nil, reader.u16() != nil else { throw .truncatedMessage }
        guard flags & 0x8000 != 0 else { throw .notAResponse }
        guard responseID == id else { throw .idMismatch }
        let rcode = UInt8(flags & 0x000F)
        if rcode == 3 { return [] }
        guard rcode == 0 else { throw .serverError(rcode: rcode) }
        for _ in 0..<questions {
            try reader.skipName()
            guard reader.skip(4) else { throw .truncatedMessage }
        }
        var result: [Answer] = []
        for _ in 0..<answers {
            try reader.skipName()
            guard let recordType = reader.u16(), reader.u16() != nil, let ttl = reader.u32(), let length = reader.u16() else { throw .truncatedMessage }
            guard let data = reader.take(Int(length)) else { throw .truncatedMessage }
            // CNAME records lead to the A/AAAA records that follow them in the same answer; only those count.
            guard recordType == type.rawValue else { continue }
            switch type {
            case .a where data.count == 4:
                result.append(Answer(address: data.map(String.init).joined(separator: "."), ttlSeconds: ttl))
            case .aaaa where data.count == 16:
                result.append(Answer(address: ipv6Text(data), ttlSeconds: ttl))
            default:
                continue
            }
        }
        return result
    }

    private static func ipv6Text(_ bytes: ArraySlice<UInt8>) -> String {
        let start = bytes.startIndex
        return stride(from: 0, to: 16, by: 2).map { offset in
            String(UInt16(bytes[start + offset]) << 8 | UInt16(bytes[start + offset + 1]), radix: 16)
        }.joined(separator: ":")
    }

    private struct Reader {
        let bytes: [UInt8]
        var position = 0

        mutating func u16() -> UInt16? {
            guard position + 2 <= bytes.count else { return nil }
            defer { position += 2 }
            return UInt16(bytes[position]) << 8 | UInt16(bytes[position + 1])
        }

        mutating func u32() -> UInt32? {
            guard let high = u16(), let low = u16() else { return nil }
            return UInt32(high) << 16 | UInt32(low)
        }

        mutating func skip(_ count: Int) -> Bool {
            guard position + count <= bytes.count else { return false }
            position += count
            return true
        }

        mutating func take(_ count: Int) -> ArraySlice<UInt8>? {
            guard position + count <= bytes.count else { return nil }
            defer { position += count }
            return bytes[position..<position + count]
        }

        /// Moves past a name in place: labels up to a zero byte, or up to and including a compression
        /// pointer (whose target needs no reading here).
        mutating func skipName() throws(ParseError) {
            var labels = 0
            while true {
                guard position < bytes.count else { throw .truncatedMessage }
                let length = bytes[position]
                if length == 0 {
                    position += 1
                    return
                }
                if length & 0xC0 == 0xC0 {
                    guard skip(2) else { throw .truncatedMessage }
                    return
                }
                guard length & 0xC0 == 0 else { throw .badName }
                labels += 1
                guard labels <= 127, skip(1 + Int(length)) else { throw .badName }
            }
        }
    }
}
