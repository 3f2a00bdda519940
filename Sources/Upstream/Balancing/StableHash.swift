/// Deterministic 64-bit hashing for consistent-hash tables and request keys. Swift's `Hasher` is seeded
/// per process, so two gateway instances would map one key to different endpoints; this is FNV-1a with
/// fixed seeds, finished with murmur3's `fmix64` (FNV alone has weak low bits, and tables index by
/// `hash % size`). Clients may pick any key they like, so collision resistance buys nothing here.
public enum StableHash {
    /// The seed for request keys and ring points.
    public static let defaultSeed: UInt64 = 0xcbf2_9ce4_8422_2325
    /// Maglev's two permutation hashes need independent seeds.
    public static let offsetSeed: UInt64 = 0x9e37_79b9_7f4a_7c15
    public static let skipSeed: UInt64 = 0xc2b2_ae3d_27d4_eb4f

    @inlinable
    public static func hash<Bytes: Sequence>(_ bytes: Bytes, seed: UInt64 = defaultSeed) -> UInt64 where Bytes.Element == UInt8 {
        var h = seed
        for byte in bytes {
            h ^= UInt64(byte)
            h &*= 0x0000_0100_0000_01b3
        }
        return mix(h)
    }

    @inlinable
    public static func hash(_ text: String, seed: UInt64 = defaultSeed) -> UInt64 { hash(text.utf8, seed: seed) }

    /// murmur3's 64-bit finaliser: every input bit affects every output bit.
    @inlinable
    public static func mix(_ value: UInt64) -> UInt64 {
        var k = value
        k ^= k >> 33
        k &*= 0xff51_afd7_ed55_8ccd
        k ^= k >> 33
        k &*= 0xc4ce_b9fe_1a85_ec53
        k ^= k >> 33
        return k
    }
}
