/// base64url without padding (RFC 4648 §5), as JWS and JWK use it. Standard base64 (with `+`, `/` and `=`)
/// is also accepted when decoding, because htpasswd `{SHA}` entries and some JWKS publishers use it.
enum Base64URL {
    private static let alphabet = Array("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_".utf8)

    /// 255 marks a byte outside both alphabets.
    private static let decodeTable: [UInt8] = {
        var table = [UInt8](repeating: 255, count: 256)
        for (index, byte) in alphabet.enumerated() { table[Int(byte)] = UInt8(index) }
        table[Int(UInt8(ascii: "+"))] = 62
        table[Int(UInt8(ascii: "/"))] = 63
        return table
    }()

    /// Decodes, ignoring trailing `=` padding; nil for any other byte outside the alphabets or an impossible length.
    static func decode<Bytes: Collection>(_ text: Bytes) -> [UInt8]? where Bytes.Element == UInt8 {
        var end = text.endIndex
        var count = text.count
        // Drop padding from the end (at most two).
        while count > 0 {
            let last = text.index(text.startIndex, offsetBy: count - 1)
            guard text[last] == UInt8(ascii: "=") else { break }
            end = last
            count -= 1
        }
        if count % 4 == 1 { return nil }
        var output: [UInt8] = []
        output.reserveCapacity(count * 3 / 4)
        var accumulator: UInt32 = 0
        var bits = 0
        for byte in text[text.startIndex..<end] {
            let value = decodeTable[Int(byte)]
            if value == 255 { return nil }
            accumulator = (accumulator << 6) | UInt32(value)
            bits += 6
            if bits >= 8 {
                bits -= 8
                output.append(UInt8(truncatingIfNeeded: accumulator >> UInt32(bits)))
            }
        }
        // Leftover bits must be zero, or two texts would decode to the same bytes.
        if bits > 0 && accumulator & ((1 << UInt32(bits)) - 1) != 0 { return nil }
        return output
    }

    static func decode(_ text: String) -> [UInt8]? { decode(Array(text.utf8)) }

    /// Encodes without padding.
    static func encode<Bytes: Collection>(_ bytes: Bytes) -> String where Bytes.Element == UInt8 {
        var output: [UInt8] = []
        output.reserveCapacity((bytes.count * 4 + 2) / 3)
        var accumulator: UInt32 = 0
        var bits = 0
        for byte in bytes {
            accumulator = (accumulator << 8) | UInt32(byte)
            bits += 8
            while bits >= 6 {
                bits -= 6
                output.append(alphabet[Int((accumulator >> UInt32(bits)) & 63)])
            }
        }
        if bits > 0 { output.append(alphabet[Int((accumulator << UInt32(6 - bits)) & 63)]) }
        return String(decoding: output, as: UTF8.self)
    }

    /// Standard base64 with padding (for `{SHA}` htpasswd entries).
    static func encodeStandard<Bytes: Collection>(_ bytes: Bytes) -> String where Bytes.Element == UInt8 {
        var text = encode(bytes)
        text = String(text.map { $0 == "-" ? "+" : ($0 == "_" ? "/" : $0) })
        while text.utf8.count % 4 != 0 { text += "=" }
        return text
    }
}
