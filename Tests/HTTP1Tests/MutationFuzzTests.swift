import HTTP1
import Testing

/// Seeded mutation fuzzing: random damage to valid messages must never crash the parser, and every way
/// of splitting the bytes across reads must give the same verdict (`parse(bytes:)` checks that). A parser
/// whose answer depends on packet boundaries is a request-smuggling parser.
@Suite("Mutation fuzzing")
struct MutationFuzzTests {
    static let requests: [String] = [
        "GET /a?b=c HTTP/1.1\r\nHost: example.com\r\nAccept: */*\r\n\r\n",
        "POST /p HTTP/1.1\r\nHost: h\r\nContent-Length: 5\r\n\r\nhello",
        "PUT /u HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n3;x=y\r\nabc\r\n0\r\nT: v\r\n\r\n",
        "GET / HTTP/1.0\r\nConnection: keep-alive\r\n\r\nGET /2 HTTP/1.1\r\nHost: h\r\n\r\n",
    ]
    static let responses: [String] = [
        "HTTP/1.1 200 OK\r\nContent-Length: 3\r\nServer: s\r\n\r\nabc",
        "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n2\r\nok\r\n0\r\n\r\n",
        "HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 204 No Content\r\nConnection: close\r\n\r\n",
    ]
    /// Bytes that matter to HTTP/1 framing, favoured by the mutator.
    static let interesting: [UInt8] = Array("\r\n :;,0\t\u{0}9fF-".utf8)

    struct SplitMix64: RandomNumberGenerator {
        var state: UInt64
        mutating func next() -> UInt64 {
            state &+= 0x9E37_79B9_7F4A_7C15
            var z = state
            z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
            z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
            return z ^ (z >> 31)
        }
    }

    static func mutate(_ input: [UInt8], _ rng: inout SplitMix64) -> [UInt8] {
        var bytes = input
        for _ in 0..<Int.random(in: 1...3, using: &rng) where !bytes.isEmpty {
            let index = Int.random(in: 0..<bytes.count, using: &rng)
            let byte = Bool.random(using: &rng) ? interesting.randomElement(using: &rng)! : UInt8.random(in: 0...255, using: &rng)
            switch Int.random(in: 0..<5, using: &rng) {
            case 0: bytes[index] = byte
            case 1: bytes.insert(byte, at: index)
            case 2: bytes.remove(at: index)
            case 3: bytes.removeSubrange(index...)
            default:
                let end = min(bytes.count, index + Int.random(in: 1...8, using: &rng))
                bytes.insert(contentsOf: bytes[index..<end], at: index)
            }
        }
        return bytes
    }

    @Test("damaged requests get the same verdict however the bytes are split", arguments: 0..<4)
    func requests(seed: Int) {
        var rng = SplitMix64(state: UInt64(seed) &* 7919 &+ 1)
        for _ in 0..<200 {
            let base = Array(Self.requests.randomElement(using: &rng)!.utf8)
            parse(bytes: Self.mutate(base, &rng), role: .server, closeAtEnd: Bool.random(using: &rng))
        }
    }

    @Test("damaged responses get the same verdict however the bytes are split", arguments: 0..<3)
    func responses(seed: Int) {
        var rng = SplitMix64(state: UInt64(seed) &* 104_729 &+ 3)
        for _ in 0..<200 {
            let base = Array(Self.responses.randomElement(using: &rng)!.utf8)
            parse(bytes: Self.mutate(base, &rng), role: .client, closeAtEnd: true, prepare: { $0.expectResponse(toHEAD: false) })
        }
    }
}
