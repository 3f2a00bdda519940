/// JWS carries an ES256 signature as raw `r || s` (32 bytes each, RFC 7518 §3.4); OpenSSL verifies the
/// DER `ECDSA-Sig-Value` (SEQUENCE of two INTEGERs). These convert between the two.
enum ECDSASignature {
    /// DER from raw `r || s`; nil unless the input is exactly `2 * coordinateSize` bytes.
    static func der(fromRaw raw: [UInt8], coordinateSize: Int = 32) -> [UInt8]? {
        guard raw.count == 2 * coordinateSize else { return nil }
        let r = integer(raw[0..<coordinateSize])
        let s = integer(raw[coordinateSize...])
        return [0x30] + length(r.count + s.count) + r + s
    }

    /// Raw `r || s` from DER, each left-padded to `coordinateSize` bytes; nil for malformed DER.
    static func raw(fromDER der: [UInt8], coordinateSize: Int = 32) -> [UInt8]? {
        var index = 0
        func readLength() -> Int? {
            guard index < der.count else { return nil }
            let first = der[index]; index += 1
            if first < 0x80 { return Int(first) }
            let count = Int(first & 0x7F)
            guard count > 0, count <= 2, index + count <= der.count else { return nil }
            var value = 0
            for _ in 0..<count { value = value << 8 | Int(der[index]); index += 1 }
            return value
        }
        func readInteger() -> [UInt8]? {
            guard index < der.count, der[index] == 0x02 else { return nil }
            index += 1
            guard let count = readLength(), count > 0, index + count <= der.count else { return nil }
            var bytes = Array(der[index..<index + count])
            index += count
            while bytes.count > coordinateSize, bytes.first == 0 { bytes.removeFirst() }
            guard bytes.count <= coordinateSize else { return nil }
            return [UInt8](repeating: 0, count: coordinateSize - bytes.count) + bytes
        }
        guard der.first == 0x30 else { return nil }
        index = 1
        guard let total = readLength(), index + total == der.count,
              let r = readInteger(), let s = readInteger(), index == der.count else { return nil }
        return r + s
    }

    /// A minimal DER INTEGER for an unsigned big-endian number.
    private static func integer(_ bytes: ArraySlice<UInt8>) -> [UInt8] {
        var value = Array(bytes.drop { $0 == 0 })
        if value.isEmpty { value = [0] }
        if value[0] & 0x80 != 0 { value.insert(0, at: 0) }   // keep it positive
        return [0x02] + length(value.count) + value
    }

    private static func length(_ count: Int) -> [UInt8] {
        count < 0x80 ? [UInt8(count)] : (count < 0x100 ? [0x81, UInt8(count)] : [0x82, UInt8(count >> 8), UInt8(count & 0xFF)])
    }
}
