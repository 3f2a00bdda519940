@testable import HTTP1
import NIOCore
import Testing

/// The parser's fast byte tests (token masks, eight-bytes-at-once checks) against their plain definitions.
@Suite("Byte classes")
struct ByteClassTests {
    @Test("the token-character masks hold exactly RFC 9110's tchar set")
    func tokenChars() {
        let tchar = Set("!#$%&'*+-.^_`|~0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ".utf8)
        for byte in UInt8.min...UInt8.max {
            #expect(HTTP1Syntax.isTokenChar(byte) == tchar.contains(byte), "byte \(byte)")
        }
    }

    @Test("word tests agree with byte-by-byte tests, one odd byte at every position")
    func wordTests() {
        // Every byte value at every position of an otherwise plain word, and a few mixed words.
        var words: [[UInt8]] = []
        for position in 0..<8 {
            for byte in UInt8.min...UInt8.max {
                var word = Array("abcdefgh".utf8)
                word[position] = byte
                words.append(word)
            }
        }
        words.append(Array("\r\n\r\nabcd".utf8))
        words.append([0x7F, 0x80, 0x00, 0x0D, 0x0A, 0x09, 0x20, 0xFF])
        for bytes in words {
            let word = bytes.withUnsafeBytes { $0.loadUnaligned(as: UInt64.self) }
            #expect(SWAR.hasCROrLF(word) == bytes.contains { $0 == 0x0D || $0 == 0x0A }, "\(bytes)")
            #expect(SWAR.isPlainText(word) == bytes.allSatisfy { $0 >= 0x20 && $0 < 0x7F }, "\(bytes)")
            #expect(SWAR.hasByteBelow(word, 0x20) == bytes.contains { $0 < 0x20 }, "\(bytes)")
        }
    }

    @Test("word tests agree with byte-by-byte tests on words mixing low, high and plain bytes")
    func mixedWords() {
        // Several odd bytes in one word are where a borrow between bytes could mislead a word test.
        let alphabet: [UInt8] = [0x00, 0x01, 0x09, 0x0A, 0x0D, 0x1F, 0x20, 0x41, 0x7E, 0x7F, 0x80, 0xFF]
        var state: UInt64 = 0x9E37_79B9_7F4A_7C15
        for _ in 0..<20_000 {
            var bytes: [UInt8] = []
            for _ in 0..<8 {
                state ^= state << 13; state ^= state >> 7; state ^= state << 17
                bytes.append(alphabet[Int(state % UInt64(alphabet.count))])
            }
            let word = bytes.withUnsafeBytes { $0.loadUnaligned(as: UInt64.self) }
            #expect(SWAR.hasCROrLF(word) == bytes.contains { $0 == 0x0D || $0 == 0x0A }, "\(bytes)")
            #expect(SWAR.isPlainText(word) == bytes.allSatisfy { $0 >= 0x20 && $0 < 0x7F }, "\(bytes)")
            #expect(SWAR.hasByteBelow(word, 0x20) == bytes.contains { $0 < 0x20 }, "\(bytes)")
        }
    }

    @Test("a bare CR, a bare LF or a control byte is found wherever it sits in a long head")
    func longHeadPositions() throws {
        // Lines long enough that the scans skip whole words; the bad byte at each offset of a value.
        for offset in 0..<24 {
            for bad: UInt8 in [0x0D, 0x0A, 0x00, 0x7F, 0x01] {
                var value = Array("0123456789abcdefghijklmnopqrstuv".utf8)
                value[offset] = bad
                var head = Array("GET / HTTP/1.1\r\nHost: example.com\r\nX-Long: ".utf8)
                head += value
                head += Array("\r\n\r\n".utf8)
                var parser = HTTP1Parser(role: .server)
                var buffer = ByteBuffer(bytes: head)
                #expect(throws: HTTP1ParseError.self, "byte \(bad) at \(offset)") { _ = try parser.next(&buffer) }
            }
        }
    }
}
