/// bcrypt (Provos and Mazières, 1999): the EksBlowfish key schedule, repeated 2^cost times, then
/// "OrpheanBeholderScryDoubt" encrypted 64 times. OpenSSL has no bcrypt, so this is ours, checked
/// against the OpenBSD/jBCrypt vectors and htpasswd output in the tests.
///
/// Deliberately slow (cost 10 is ~50-100 ms of CPU): never call it on an event loop.
enum Bcrypt {
    /// A parsed `$2y$10$<22 salt chars><31 hash chars>` entry.
    struct Hash: Sendable, Equatable {
        var variant: String
        var cost: Int
        var salt: [UInt8]      // 16 bytes
        var digest: [UInt8]    // the 31 encoded characters, as stored

        init?(_ text: String) {
            let bytes = Array(text.utf8)
            guard bytes.count == 60, bytes[0] == UInt8(ascii: "$"), bytes[1] == UInt8(ascii: "2"),
                  [UInt8(ascii: "a"), UInt8(ascii: "b"), UInt8(ascii: "y")].contains(bytes[2]),
                  bytes[3] == UInt8(ascii: "$"), bytes[6] == UInt8(ascii: "$"),
                  let tens = Bcrypt.digit(bytes[4]), let ones = Bcrypt.digit(bytes[5]) else { return nil }
            cost = tens * 10 + ones
            guard (4...31).contains(cost), let salt = Bcrypt.decode(bytes[7..<29], count: 16),
                  Bcrypt.decode(bytes[29..<60], count: 23) != nil else { return nil }
            variant = String(decoding: bytes[0..<4], as: UTF8.self)
            self.salt = salt
            digest = Array(bytes[29..<60])
        }
    }

    /// Whether `password` matches `hash`, compared in constant time.
    static func verify(_ password: [UInt8], against hash: Hash) -> Bool {
        constantTimeEquals(encode(digest(password: password, salt: hash.salt, cost: hash.cost)), hash.digest)
    }

    /// A full `$2b$` string, for tests and tooling.
    static func hash(_ password: [UInt8], salt: [UInt8], cost: Int) -> String {
        let costText = cost < 10 ? "0\(cost)" : "\(cost)"
        let encoded = encode(digest(password: password, salt: salt, cost: cost))
        return "$2b$\(costText)$" + String(decoding: encode(salt).prefix(22), as: UTF8.self) + String(decoding: encoded, as: UTF8.self)
    }

    /// The 23 bytes of a bcrypt digest.
    static func digest(password: [UInt8], salt: [UInt8], cost: Int) -> [UInt8] {
        precondition(salt.count == 16 && (4...31).contains(cost))
        // The key is the password with its C terminator, cut at 72 bytes (as every bcrypt does).
        var key = Array(password.prefix(72))
        if key.count < 72 { key.append(0) }
        var state = EksBlowfish()
        state.expand(key: key, salt: salt)
        for _ in 0..<(1 << cost) {
            state.expand(key: key, salt: nil)
            state.expand(key: salt, salt: nil)
        }
        var text: [UInt32] = [0x4f72_7068, 0x6561_6e42, 0x6568_6f6c, 0x6465_7253, 0x6372_7944, 0x6f75_6274]
        for _ in 0..<64 {
            for index in stride(from: 0, to: 6, by: 2) {
                (text[index], text[index + 1]) = state.encrypt(text[index], text[index + 1])
            }
        }
        var output: [UInt8] = []
        for word in text { output += [UInt8(word >> 24), UInt8(word >> 16 & 0xFF), UInt8(word >> 8 & 0xFF), UInt8(word & 0xFF)] }
        return Array(output.prefix(23))
    }

    // MARK: - bcrypt's own base64 ("./A-Za-z0-9", no padding)

    private static let alphabet = Array("./ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789".utf8)
    private static let table: [UInt8] = {
        var table = [UInt8](repeating: 255, count: 256)
        for (index, byte) in alphabet.enumerated() { table[Int(byte)] = UInt8(index) }
        return table
    }()

    static func encode(_ bytes: [UInt8]) -> [UInt8] {
        var output: [UInt8] = []
        var index = 0
        while index < bytes.count {
            let b0 = bytes[index]
            output.append(alphabet[Int(b0 >> 2)])
            guard index + 1 < bytes.count else { output.append(alphabet[Int((b0 & 3) << 4)]); break }
            let b1 = bytes[index + 1]
            output.append(alphabet[Int((b0 & 3) << 4 | b1 >> 4)])
            guard index + 2 < bytes.count else { output.append(alphabet[Int((b1 & 0x0F) << 2)]); break }
            let b2 = bytes[index + 2]
            output.append(alphabet[Int((b1 & 0x0F) << 2 | b2 >> 6)])
            output.append(alphabet[Int(b2 & 0x3F)])
            index += 3
        }
        return output
    }

    static func decode(_ text: ArraySlice<UInt8>, count: Int) -> [UInt8]? {
        var output: [UInt8] = []
        var accumulator: UInt32 = 0
        var bits = 0
        for byte in text {
            let value = table[Int(byte)]
            guard value != 255 else { return nil }
            accumulator = accumulator << 6 | UInt32(value)
            bits += 6
            if bits >= 8 {
                bits -= 8
                output.append(UInt8(truncatingIfNeeded: accumulator >> UInt32(bits)))
                if output.count == count { return output }
            }
        }
        return nil
    }

    private static func digit(_ byte: UInt8) -> Int? {
        (UInt8(ascii: "0")...UInt8(ascii: "9")).contains(byte) ? Int(byte - UInt8(ascii: "0")) : nil
    }
}

/// Blowfish's state with bcrypt's expensive key schedule. Works on one heap block through unsafe
/// pointers: the checked-array version is several times slower in the 2^cost loop.
struct EksBlowfish: ~Copyable {
    /// 18 P-array words, then the four 256-word S-boxes.
    private let words: UnsafeMutablePointer<UInt32>

    init() {
        words = .allocate(capacity: 18 + 1024)
        BlowfishTables.p.withUnsafeBufferPointer { words.initialize(from: $0.baseAddress!, count: 18) }
        BlowfishTables.s.withUnsafeBufferPointer { (words + 18).initialize(from: $0.baseAddress!, count: 1024) }
    }

    deinit { words.deallocate() }

    @inline(__always)
    private func f(_ x: UInt32) -> UInt32 {
        let s = words + 18
        let a = s[Int(x >> 24)], b = s[256 + Int(x >> 16 & 0xFF)]
        let c = s[512 + Int(x >> 8 & 0xFF)], d = s[768 + Int(x & 0xFF)]
        return ((a &+ b) ^ c) &+ d
    }

    @inline(__always)
    func encrypt(_ left: UInt32, _ right: UInt32) -> (UInt32, UInt32) {
        var l = left ^ words[0], r = right
        var round = 1
        while round < 17 {
            r ^= f(l) ^ words[round]
            l ^= f(r) ^ words[round + 1]
            round += 2
        }
        return (r ^ words[17], l)
    }

    /// ExpandKey(state, salt, key); with a nil salt it is bcrypt's Expand0State.
    mutating func expand(key: [UInt8], salt: [UInt8]?) {
        var keyIndex = 0
        for index in 0..<18 { words[index] ^= Self.nextWord(key, &keyIndex) }
        var saltIndex = 0
        var l: UInt32 = 0, r: UInt32 = 0
        var index = 0
        while index < 18 + 1024 {
            if let salt {
                l ^= Self.nextWord(salt, &saltIndex)
                r ^= Self.nextWord(salt, &saltIndex)
            }
            (l, r) = encrypt(l, r)
            words[index] = l
            words[index + 1] = r
            index += 2
        }
    }

    /// The next four bytes of `data`, big-endian, wrapping around (Blowfish's stream2word).
    @inline(__always)
    private static func nextWord(_ data: [UInt8], _ position: inout Int) -> UInt32 {
        var word: UInt32 = 0
        for _ in 0..<4 {
            word = word << 8 | UInt32(data[position])
            position += 1
            if position == data.count { position = 0 }
        }
        return word
    }
}
