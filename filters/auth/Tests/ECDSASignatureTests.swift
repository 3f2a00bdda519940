@testable import AuthFilter
import Testing

@Suite("ES256 signature conversion")
struct ECDSASignatureTests {
    @Test("raw r||s becomes minimal DER: leading zeros dropped, a 0x00 added when the high bit is set")
    func rawToDER() throws {
        let r = [UInt8](repeating: 0, count: 31) + [0x01]
        let s = [0x80] + [UInt8](repeating: 0x11, count: 31)
        let der = try #require(ECDSASignature.der(fromRaw: r + s))
        #expect(der == [0x30, 0x26, 0x02, 0x01, 0x01, 0x02, 0x21, 0x00, 0x80] + [UInt8](repeating: 0x11, count: 31))
        #expect(ECDSASignature.raw(fromDER: der) == r + s)
        #expect(ECDSASignature.der(fromRaw: [UInt8](repeating: 1, count: 63)) == nil)
    }

    @Test("round trip for many values, and malformed DER is refused")
    func roundTrip() throws {
        for seed in 0..<50 {
            let raw = (0..<64).map { UInt8(truncatingIfNeeded: ($0 * 7 + seed * 13) ^ (seed << 3)) }
            let der = try #require(ECDSASignature.der(fromRaw: raw))
            #expect(ECDSASignature.raw(fromDER: der) == raw)
        }
        #expect(ECDSASignature.raw(fromDER: [0x30, 0x03, 0x02, 0x01]) == nil)
        #expect(ECDSASignature.raw(fromDER: [0x31, 0x06, 0x02, 0x01, 0x01, 0x02, 0x01, 0x01]) == nil)
    }
}
