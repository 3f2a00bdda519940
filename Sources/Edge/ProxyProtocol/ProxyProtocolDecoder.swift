import NIOCore

/// Decodes the PROXY protocol header (HAProxy's spec, versions 1 and 2) at the start of a connection.
/// Pure and incremental: `decode` looks at the bytes received so far and answers "need more", a header,
/// or an error. TLVs of v2 are skipped (bounded by the header's own length), never interpreted.
public struct ProxyProtocolDecoder: Sendable {
    public enum Accepts: Sendable { case v1, v2, any }

    public enum Result: Equatable, Sendable {
        case needMoreData
        case header(ProxyProtocolHeader)
    }

    /// v1 lines are at most 107 bytes including CRLF.
    static let maxV1Length = 107
    /// v2 headers carry a 16-bit length; more than this much TLV data is refused rather than buffered.
    static let maxV2Length = 16 + 4096
    static let v2Signature: [UInt8] = [0x0D, 0x0A, 0x0D, 0x0A, 0x00, 0x0D, 0x0A, 0x51, 0x55, 0x49, 0x54, 0x0A]

    public let accepts: Accepts

    public init(accepts: Accepts) { self.accepts = accepts }

    public func decode(_ buffer: ByteBuffer) throws(ProxyProtocolError) -> Result {
        guard let first = buffer.getInteger(at: buffer.readerIndex, as: UInt8.self) else { return .needMoreData }
        if first == UInt8(ascii: "P") {
            guard accepts != .v2 else { throw ProxyProtocolError("PROXY protocol v1 header where v2 is required") }
            return try decodeV1(buffer)
        }
        if first == 0x0D {
            guard accepts != .v1 else { throw ProxyProtocolError("PROXY protocol v2 header where v1 is required") }
            return try decodeV2(buffer)
        }
        throw ProxyProtocolError("missing PROXY protocol header")
    }

    // MARK: - v1: "PROXY TCP4 192.0.2.1 198.51.100.2 56324 443\r\n"

    private func decodeV1(_ buffer: ByteBuffer) throws(ProxyProtocolError) -> Result {
        let available = min(buffer.readableBytes, Self.maxV1Length)
        let bytes = buffer.getBytes(at: buffer.readerIndex, length: available)!
        let prefix = Array("PROXY ".utf8)
        for (index, byte) in bytes.prefix(prefix.count).enumerated() where byte != prefix[index] {
            throw ProxyProtocolError("malformed PROXY v1 header")
        }
        guard let lf = bytes.firstIndex(of: 0x0A) else {
            if buffer.readableBytes >= Self.maxV1Length { throw ProxyProtocolError("PROXY v1 header too long") }
            return .needMoreData
        }
        guard lf > 0, bytes[lf - 1] == 0x0D else { throw ProxyProtocolError("PROXY v1 header without CRLF") }
        let line = String(decoding: bytes[0..<(lf - 1)], as: UTF8.self)
        let parts = line.split(separator: " ", omittingEmptySubsequences: false)
        if parts.count >= 2 && parts[1] == "UNKNOWN" {
            return .header(ProxyProtocolHeader(version: .v1, source: nil, destination: nil, length: lf + 1))
        }
        guard parts.count == 6, parts[1] == "TCP4" || parts[1] == "TCP6" else { throw ProxyProtocolError("malformed PROXY v1 header") }
        let v6 = parts[1] == "TCP6"
        guard let source = Self.validIP(String(parts[2]), v6: v6), let destination = Self.validIP(String(parts[3]), v6: v6),
              let sourcePort = Self.port(parts[4]), let destinationPort = Self.port(parts[5])
        else { throw ProxyProtocolError("malformed PROXY v1 addresses") }
        return .header(ProxyProtocolHeader(version: .v1, source: Self.join(source, sourcePort, v6: v6),
                                           destination: Self.join(destination, destinationPort, v6: v6), length: lf + 1))
    }

    static func port(_ text: Substring) -> Int? {
        // No sign, no leading zeros (the spec's 0..65535 in decimal).
        guard !text.isEmpty, text.count <= 5, text.allSatisfy({ $0.isASCII && $0.isNumber }),
              text == "0" || !text.hasPrefix("0"), let value = Int(text), value <= 65535 else { return nil }
        return value
    }

    static func validIP(_ text: String, v6: Bool) -> String? {
        if v6 {
            guard (try? SocketAddress(ipAddress: text, port: 0)).map({ if case .v6 = $0 { true } else { false } }) == true else { return nil }
        } else {
            let octets = text.split(separator: ".", omittingEmptySubsequences: false)
            guard octets.count == 4, octets.allSatisfy({ octet in
                !octet.isEmpty && octet.count <= 3 && octet.allSatisfy { $0.isASCII && $0.isNumber } && Int(octet)! <= 255
            }) else { return nil }
        }
        return text
    }

    static func join(_ ip: String, _ port: Int, v6: Bool) -> String { v6 ? "[\(ip)]:\(port)" : "\(ip):\(port)" }

    // MARK: - v2: binary

    private func decodeV2(_ buffer: ByteBuffer) throws(ProxyProtocolError) -> Result {
        let start = buffer.readerIndex
        let signatureBytes = min(buffer.readableBytes, 12)
        for index in 0..<signatureBytes where buffer.getInteger(at: start + index, as: UInt8.self)! != Self.v2Signature[index] {
            throw ProxyProtocolError("malformed PROXY v2 signature")
        }
        guard buffer.readableBytes >= 16 else { return .needMoreData }
        let versionCommand = buffer.getInteger(at: start + 12, as: UInt8.self)!
        let familyProtocol = buffer.getInteger(at: start + 13, as: UInt8.self)!
        let length = Int(buffer.getInteger(at: start + 14, as: UInt16.self)!)
        guard versionCommand >> 4 == 2 else { throw ProxyProtocolError("unsupported PROXY v2 version") }
        let command = versionCommand & 0x0F
        guard command <= 1 else { throw ProxyProtocolError("unsupported PROXY v2 command") }
        guard 16 + length <= Self.maxV2Length else { throw ProxyProtocolError("PROXY v2 header too long") }
        guard buffer.readableBytes >= 16 + length else { return .needMoreData }
        let total = 16 + length
        // LOCAL (health checks from the L4 tier itself): the connection's own addresses stand.
        if command == 0 { return .header(ProxyProtocolHeader(version: .v2, source: nil, destination: nil, length: total)) }
        let address = start + 16
        switch familyProtocol {
        case 0x11, 0x12:  // TCP or UDP over IPv4: 4 + 4 + 2 + 2 bytes
            guard length >= 12 else { throw ProxyProtocolError("PROXY v2 IPv4 address block too short") }
            let source = Self.ipv4(buffer, at: address), destination = Self.ipv4(buffer, at: address + 4)
            let sourcePort = Int(buffer.getInteger(at: address + 8, as: UInt16.self)!)
            let destinationPort = Int(buffer.getInteger(at: address + 10, as: UInt16.self)!)
            return .header(ProxyProtocolHeader(version: .v2, source: Self.join(source, sourcePort, v6: false),
                                               destination: Self.join(destination, destinationPort, v6: false), length: total))
        case 0x21, 0x22:  // over IPv6: 16 + 16 + 2 + 2 bytes
            guard length >= 36 else { throw ProxyProtocolError("PROXY v2 IPv6 address block too short") }
            let source = Self.ipv6(buffer, at: address), destination = Self.ipv6(buffer, at: address + 16)
            let sourcePort = Int(buffer.getInteger(at: address + 32, as: UInt16.self)!)
            let destinationPort = Int(buffer.getInteger(at: address + 34, as: UInt16.self)!)
            return .header(ProxyProtocolHeader(version: .v2, source: Self.join(source, sourcePort, v6: true),
                                               destination: Self.join(destination, destinationPort, v6: true), length: total))
        default:
            // UNSPEC or UNIX sockets: accepted, addresses not usable; the connection's own stand.
            return .header(ProxyProtocolHeader(version: .v2, source: nil, destination: nil, length: total))
        }
    }

    static func ipv4(_ buffer: ByteBuffer, at index: Int) -> String {
        (0..<4).map { String(buffer.getInteger(at: index + $0, as: UInt8.self)!) }.joined(separator: ".")
    }

    static func ipv6(_ buffer: ByteBuffer, at index: Int) -> String {
        var bytes: [UInt8] = (0..<16).map { buffer.getInteger(at: index + $0, as: UInt8.self)! }
        let address = bytes.withUnsafeMutableBytes { raw -> String in
            var storage = in6_addr()
            withUnsafeMutableBytes(of: &storage) { $0.copyMemory(from: UnsafeRawBufferPointer(raw)) }
            var text = [UInt8](repeating: 0, count: Int(INET6_ADDRSTRLEN))
            text.withUnsafeMutableBufferPointer { out in
                _ = out.withMemoryRebound(to: CChar.self) { inet_ntop(AF_INET6, &storage, $0.baseAddress, socklen_t($0.count)) }
            }
            return String(decoding: text.prefix { $0 != 0 }, as: UTF8.self)
        }
        return address
    }
}

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
