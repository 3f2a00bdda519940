import NIOCore
@testable import RateLimitFilter
import Testing

@Suite("RESP")
struct RESPDecoderTests {
    func decodeAll(_ text: String) throws -> [RESPValue] {
        var decoder = RESPDecoder()
        var buffer = ByteBuffer(string: text)
        var values: [RESPValue] = []
        while let value = try decoder.decode(buffer: &buffer) { values.append(value) }
        return values
    }

    @Test("every reply type parses; a pipelined stream gives replies in order")
    func types() throws {
        let values = try decodeAll("+OK\r\n-NOSCRIPT No matching script\r\n:42\r\n$3\r\nabc\r\n$-1\r\n*3\r\n:1\r\n:0\r\n:1500\r\n*-1\r\n")
        #expect(values == [.simpleString("OK"), .error("NOSCRIPT No matching script"), .integer(42),
                           .bulkString(ByteBuffer(string: "abc")), .bulkString(nil),
                           .array([.integer(1), .integer(0), .integer(1500)]), .array(nil)])
    }

    @Test("a reply split anywhere waits for the rest")
    func partial() throws {
        let whole = "*3\r\n:1\r\n$2\r\n17\r\n:9\r\n"
        for cut in 1..<whole.utf8.count {
            var decoder = RESPDecoder()
            // Bytes, not characters: "\r\n" is one Character.
            var buffer = ByteBuffer(bytes: Array(whole.utf8.prefix(cut)))
            #expect(try decoder.decode(buffer: &buffer) == nil, "cut at \(cut)")
        }
    }

    @Test("commands are arrays of bulk strings")
    func encode() {
        var buffer = ByteBuffer()
        RESPEncoder.encode(["EVALSHA", "ab", "1", "k"], into: &buffer)
        #expect(String(buffer: buffer) == "*4\r\n$7\r\nEVALSHA\r\n$2\r\nab\r\n$1\r\n1\r\n$1\r\nk\r\n")
    }

    @Test("the script's reply maps to a step; anything else is a server error")
    func scriptReply() throws {
        #expect(try GlobalRateLimiter.step(from: .array([.integer(1), .integer(7), .integer(30_000)]))
                == .allowed(newTAT: 0, remaining: 7, resetNanos: 30_000_000))
        #expect(try GlobalRateLimiter.step(from: .array([.integer(0), .integer(10_000), .integer(990_000)]))
                == .limited(retryAfterNanos: 10_000_000, resetNanos: 990_000_000))
        #expect(throws: RedisClientError.self) { try GlobalRateLimiter.step(from: .error("ERR boom")) }
        #expect(throws: RedisClientError.self) { try GlobalRateLimiter.step(from: .simpleString("OK")) }
    }

    @Test("RateLimit fields follow draft-ietf-httpapi-ratelimit-headers-10")
    func headers() {
        let gcra = GCRA(rate: RateSpec(count: 10, periodNanos: 60_000_000_000), burst: 10)
        #expect(RateLimitHeaders.policyValue(name: "per-ip", gcra: gcra) == "\"per-ip\";q=10;w=60")
        #expect(RateLimitHeaders.quoted("a\"b\\c") == "\"a\\\"b\\\\c\"")
    }
}
