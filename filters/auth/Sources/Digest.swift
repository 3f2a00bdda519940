import COpenSSL

/// A SHA-256 digest as four words: a cheap, hashable dictionary key for API keys and cache entries.
struct SHA256Digest: Hashable, Sendable {
    var a: UInt64, b: UInt64, c: UInt64, d: UInt64

    init(of input: UnsafeRawBufferPointer) {
        var out = (UInt64(0), UInt64(0), UInt64(0), UInt64(0))
        withUnsafeMutableBytes(of: &out) { output in
            _ = SHA256(input.baseAddress?.assumingMemoryBound(to: UInt8.self), input.count,
                       output.baseAddress!.assumingMemoryBound(to: UInt8.self))
        }
        (a, b, c, d) = out
    }

    init(of bytes: [UInt8]) {
        self = bytes.withUnsafeBytes { SHA256Digest(of: $0) }
    }

    init(of text: String) {
        var copy = text
        self = copy.withUTF8 { SHA256Digest(of: UnsafeRawBufferPointer($0)) }
    }

    var bytes: [UInt8] { withUnsafeBytes(of: (a, b, c, d)) { Array($0) } }
}

/// One-shot SHA-1, for htpasswd `{SHA}` entries only.
func sha1(_ bytes: [UInt8]) -> [UInt8] {
    var out = [UInt8](repeating: 0, count: 20)
    bytes.withUnsafeBytes { input in
        _ = SHA1(input.baseAddress?.assumingMemoryBound(to: UInt8.self), input.count, &out)
    }
    return out
}

/// Equal-length comparison that takes the same time wherever the first difference is (CRYPTO_memcmp).
func constantTimeEquals(_ lhs: [UInt8], _ rhs: [UInt8]) -> Bool {
    guard lhs.count == rhs.count else { return false }
    if lhs.isEmpty { return true }
    return lhs.withUnsafeBytes { l in rhs.withUnsafeBytes { r in CRYPTO_memcmp(l.baseAddress, r.baseAddress, l.count) == 0 } }
}
