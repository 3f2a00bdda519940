#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// An IP address as 128 bits; IPv4 addresses are IPv4-mapped (`::ffff:a.b.c.d`), so one comparison
/// serves both families and a v4 client on a dual-stack socket matches v4 ranges.
struct IPAddressBits: Sendable, Equatable {
    var high: UInt64
    var low: UInt64
    /// Whether it was written as IPv4 (prefix lengths then count from bit 96).
    var isV4: Bool

    /// `192.0.2.1`, `2001:db8::1` or `::ffff:192.0.2.1`, parsed by the C library's `inet_pton`.
    init?<S: StringProtocol>(parsing text: S) {
        var bytes = (UInt64(0), UInt64(0))
        var copy = String(text)
        let parsed: Bool? = copy.withUTF8 { utf8 in
            // inet_pton wants a NUL-terminated string; addresses are short, so copy onto the stack.
            guard utf8.count < 64 else { return nil }
            return withUnsafeTemporaryAllocation(of: CChar.self, capacity: utf8.count + 1) { cString in
                for (index, byte) in utf8.enumerated() { cString[index] = CChar(bitPattern: byte) }
                cString[utf8.count] = 0
                return withUnsafeMutableBytes(of: &bytes) { raw -> Bool? in
                    if inet_pton(AF_INET, cString.baseAddress!, raw.baseAddress! + 12) == 1 {
                        raw[10] = 0xFF
                        raw[11] = 0xFF
                        return true
                    }
                    if inet_pton(AF_INET6, cString.baseAddress!, raw.baseAddress!) == 1 { return false }
                    return nil
                }
            }
        }
        guard let parsed else { return nil }
        high = UInt64(bigEndian: bytes.0)
        low = UInt64(bigEndian: bytes.1)
        isV4 = parsed
    }

    init(high: UInt64, low: UInt64, isV4: Bool) {
        self.high = high
        self.low = low
        self.isV4 = isV4
    }

    /// The address part of `ip:port` or `[ipv6]:port` (or a bare address).
    static func parse(socketAddress text: String) -> IPAddressBits? {
        let utf8 = text.utf8
        if utf8.first == UInt8(ascii: "["), let close = utf8.firstIndex(of: UInt8(ascii: "]")) {
            return IPAddressBits(parsing: text[text.index(after: text.startIndex)..<close])
        }
        if let colon = utf8.lastIndex(of: UInt8(ascii: ":")), utf8.firstIndex(of: UInt8(ascii: ":")) == colon {
            return IPAddressBits(parsing: text[..<colon])
        }
        return IPAddressBits(parsing: text)
    }
}
