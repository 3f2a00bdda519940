/// Tests on eight bytes at once (SIMD within a register), for the scans over a head's bytes, where most
/// words hold no byte of interest and one test replaces eight. Each answers only whether such a byte is
/// present (exactly: no false positives or negatives); the caller then looks byte by byte.
enum SWAR {
    private static let ones: UInt64 = 0x0101_0101_0101_0101
    private static let highBits: UInt64 = 0x8080_8080_8080_8080

    /// Some byte of `word` is zero.
    @inline(__always)
    static func hasZeroByte(_ word: UInt64) -> Bool {
        (word &- ones) & ~word & highBits != 0
    }

    /// Some byte of `word` equals `byte`.
    @inline(__always)
    static func hasByte(_ word: UInt64, _ byte: UInt8) -> Bool {
        hasZeroByte(word ^ (ones &* UInt64(byte)))
    }

    /// Some byte of `word` is a CR or an LF.
    @inline(__always)
    static func hasCROrLF(_ word: UInt64) -> Bool {
        hasByte(word, 0x0D) || hasByte(word, 0x0A)
    }

    /// Some byte of `word` is below `limit` (at most 128).
    @inline(__always)
    static func hasByteBelow(_ word: UInt64, _ limit: UInt8) -> Bool {
        (word &- ones &* UInt64(limit)) & ~word & highBits != 0
    }

    /// Every byte of `word` is a visible ASCII character or a space: nothing a field value check would
    /// stop at (controls, DEL, bytes ≥ 0x80).
    @inline(__always)
    static func isPlainText(_ word: UInt64) -> Bool {
        word & highBits == 0 && !hasByteBelow(word, 0x20) && !hasByte(word, 0x7F)
    }
}
