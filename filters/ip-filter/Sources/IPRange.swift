/// A CIDR block, `10.0.0.0/8` or `2001:db8::/32`; a bare address is a /32 or /128.
public struct IPRange: Sendable, Equatable, CustomStringConvertible {
    let network: IPAddressBits
    /// Prefix length over all 128 bits (an IPv4 /8 is /104 here).
    let bits: Int
    public let description: String

    public init?(parsing text: String) {
        let parts = text.split(separator: "/", maxSplits: 1, omittingEmptySubsequences: false)
        guard let address = IPAddressBits(parsing: parts[0]) else { return nil }
        let width = address.isV4 ? 32 : 128
        var prefix = width
        if parts.count == 2 {
            guard let value = Int(parts[1]), (0...width).contains(value) else { return nil }
            prefix = value
        }
        bits = prefix + (address.isV4 ? 96 : 0)
        let (maskHigh, maskLow) = Self.mask(bits)
        network = IPAddressBits(high: address.high & maskHigh, low: address.low & maskLow, isV4: address.isV4)
        description = text
    }

    public func contains(_ text: String) -> Bool {
        IPAddressBits.parse(socketAddress: text).map(contains) ?? false
    }

    func contains(_ address: IPAddressBits) -> Bool {
        let (maskHigh, maskLow) = Self.mask(bits)
        return address.high & maskHigh == network.high && address.low & maskLow == network.low
    }

    private static func mask(_ bits: Int) -> (UInt64, UInt64) {
        let high: UInt64 = bits >= 64 ? .max : (bits == 0 ? 0 : ~UInt64(0) << (64 - bits))
        let low: UInt64 = bits <= 64 ? 0 : (bits >= 128 ? .max : ~UInt64(0) << (128 - bits))
        return (high, low)
    }
}
