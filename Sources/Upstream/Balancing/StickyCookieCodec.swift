import CGatewayShims
import COpenSSL

/// Signs and checks sticky-session values with HMAC-SHA256 under a key from the config, so that every
/// instance with the same key honours every other's cookies, across restarts, reloads and reorderings
/// of the endpoint list.
///
/// A cookie value is base64url (no padding) of 29 bytes: version (1), endpoint id (8), expiry in Unix
/// seconds (4, 0 = none), then the first 16 bytes of HMAC-SHA256(key, the 13 bytes before). An endpoint
/// id is the first 8 bytes of HMAC-SHA256(key, cluster name + address): opaque to clients (they cannot
/// compute one for an address they want), stable for as long as the key and the address are.
public struct StickyCookieCodec: Sendable {
    /// The key's prepared HMAC state (`pc_hmac_sha256_prepare`), shared read-only by every loop.
    private let state: [UInt8]
    static let version: UInt8 = 1
    static let payloadBytes = 13
    static let macBytes = 16
    /// Length of an encoded value: base64url of 29 bytes.
    public static let encodedLength = 39
    /// Length of an encoded endpoint id (the app-cookie prefix, before its `~`).
    public static let encodedIDLength = 11

    public init(key: [UInt8]) {
        precondition(!key.isEmpty, "a sticky key must not be empty")
        var state = [UInt8](repeating: 0, count: Int(PC_HMAC_SHA256_STATE_BYTES))
        precondition(pc_hmac_sha256_prepare(&state, key, key.count) == 1, "SHA-256 failed")
        self.state = state
    }

    public func endpointID(cluster: String, address: String) -> UInt64 {
        let mac = hmac(Array("portcullis-sticky-endpoint\0\(cluster)\0\(address)".utf8))
        return mac.prefix(8).reduce(0) { $0 << 8 | UInt64($1) }
    }

    /// The signed value naming `id`, valid until `expiry` (Unix seconds; 0: no expiry).
    public func encode(id: UInt64, expiry: UInt32) -> String {
        var bytes = [UInt8](repeating: 0, count: Self.payloadBytes)
        bytes[0] = Self.version
        for i in 0..<8 { bytes[1 + i] = UInt8(truncatingIfNeeded: id >> (56 - 8 * UInt64(i))) }
        for i in 0..<4 { bytes[9 + i] = UInt8(truncatingIfNeeded: expiry >> (24 - 8 * UInt32(i))) }
        bytes += hmac(bytes).prefix(Self.macBytes)
        return Base64URL.encode(bytes)
    }

    /// The endpoint id a value names, or nil when it was not signed with this key, was altered, or
    /// expired at or before `now`. Allocates nothing: this runs for every request that carries a cookie.
    public func decode<Bytes: Collection>(_ value: Bytes, now: UInt32) -> UInt64? where Bytes.Element == UInt8 {
        guard value.count == Self.encodedLength else { return nil }
        let total = Self.payloadBytes + Self.macBytes
        return withUnsafeTemporaryAllocation(of: UInt8.self, capacity: total + 32) { buffer -> UInt64? in
            let bytes = UnsafeMutableBufferPointer(rebasing: buffer[0..<total])
            guard Base64URL.decode(value, into: bytes) == total, bytes[0] == Self.version else { return nil }
            let mac = UnsafeMutableBufferPointer(rebasing: buffer[total...])
            state.withUnsafeBufferPointer { pc_hmac_sha256($0.baseAddress, bytes.baseAddress, Self.payloadBytes, mac.baseAddress) }
            guard CRYPTO_memcmp(mac.baseAddress, bytes.baseAddress! + Self.payloadBytes, Self.macBytes) == 0 else { return nil }
            let expiry = bytes[9..<13].reduce(UInt32(0)) { $0 << 8 | UInt32($1) }
            guard expiry == 0 || now < expiry else { return nil }
            return bytes[1..<9].reduce(UInt64(0)) { $0 << 8 | UInt64($1) }
        }
    }

    private func hmac(_ message: [UInt8]) -> [UInt8] {
        var mac = [UInt8](repeating: 0, count: 32)
        state.withUnsafeBufferPointer { pc_hmac_sha256($0.baseAddress, message, message.count, &mac) }
        return mac
    }

    /// HMAC-SHA256 through the prepared-state path, for tests against known vectors.
    public static func hmacSHA256(key: [UInt8], message: [UInt8]) -> [UInt8] { StickyCookieCodec(key: key).hmac(message) }

    /// 32 bytes from OpenSSL's generator, for a runtime without a configured key.
    public static func randomKey() -> [UInt8] {
        var key = [UInt8](repeating: 0, count: 32)
        precondition(RAND_bytes(&key, 32) == 1, "RAND_bytes failed")
        return key
    }
}

/// base64url without padding (RFC 4648 §5): cookie-safe, no quoting needed.
public enum Base64URL {
    private static let alphabet = Array("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_".utf8)

    public static func encode(_ bytes: [UInt8]) -> String {
        var out = [UInt8]()
        out.reserveCapacity((bytes.count * 4 + 2) / 3)
        var i = 0
        while i + 2 < bytes.count {
            let n = UInt32(bytes[i]) << 16 | UInt32(bytes[i + 1]) << 8 | UInt32(bytes[i + 2])
            out += [alphabet[Int(n >> 18 & 63)], alphabet[Int(n >> 12 & 63)], alphabet[Int(n >> 6 & 63)], alphabet[Int(n & 63)]]
            i += 3
        }
        let rest = bytes.count - i
        if rest == 1 {
            let n = UInt32(bytes[i]) << 16
            out += [alphabet[Int(n >> 18 & 63)], alphabet[Int(n >> 12 & 63)]]
        } else if rest == 2 {
            let n = UInt32(bytes[i]) << 16 | UInt32(bytes[i + 1]) << 8
            out += [alphabet[Int(n >> 18 & 63)], alphabet[Int(n >> 12 & 63)], alphabet[Int(n >> 6 & 63)]]
        }
        return String(decoding: out, as: UTF8.self)
    }

    private static func value(_ c: UInt8) -> UInt32? {
        switch c {
        case UInt8(ascii: "A")...UInt8(ascii: "Z"): UInt32(c - UInt8(ascii: "A"))
        case UInt8(ascii: "a")...UInt8(ascii: "z"): UInt32(c - UInt8(ascii: "a") + 26)
        case UInt8(ascii: "0")...UInt8(ascii: "9"): UInt32(c - UInt8(ascii: "0") + 52)
        case UInt8(ascii: "-"): 62
        case UInt8(ascii: "_"): 63
        default: nil
        }
    }

    /// nil for a character outside the alphabet, a length no encoding has, or non-zero padding bits
    /// (so that each byte string has exactly one accepted spelling).
    public static func decode<Bytes: Collection>(_ text: Bytes) -> [UInt8]? where Bytes.Element == UInt8 {
        var out = [UInt8](repeating: 0, count: text.count * 3 / 4)
        let count = out.withUnsafeMutableBufferPointer { decode(text, into: $0) }
        return count == out.count ? out : nil
    }

    /// Decodes into `out` (which must hold `text.count * 3 / 4` bytes); the number of bytes written, or -1
    /// for input `decode` rejects.
    public static func decode<Bytes: Collection>(_ text: Bytes, into out: UnsafeMutableBufferPointer<UInt8>) -> Int where Bytes.Element == UInt8 {
        guard text.count % 4 != 1, out.count >= text.count * 3 / 4 else { return -1 }
        var written = 0
        var accumulator: UInt32 = 0
        var bits = 0
        for c in text {
            guard let v = value(c) else { return -1 }
            accumulator = accumulator << 6 | v
            bits += 6
            if bits >= 8 {
                bits -= 8
                out[written] = UInt8(truncatingIfNeeded: accumulator >> UInt32(bits))
                written += 1
                accumulator &= (1 << UInt32(bits)) - 1
            }
        }
        return accumulator == 0 ? written : -1
    }
}
