/// The accepted API keys, by the SHA-256 of the key: a lookup hashes what the client presented and
/// probes a dictionary, so neither the time taken nor the memory kept depends on the secret's bytes
/// (no early-exit string comparison against real keys).
struct APIKeyStore: Sendable {
    private let consumers: [SHA256Digest: String]

    var count: Int { consumers.count }

    /// Lines of `key [consumer-name]`; `#` comments and blank lines are skipped. A key without a name is
    /// its own consumer "key-<line>", so logs can tell keys apart without printing them.
    static func parse(_ bytes: [UInt8], file: String) throws(KeyError) -> APIKeyStore {
        var consumers: [SHA256Digest: String] = [:]
        for (number, line) in meaningfulLines(bytes) {
            let fields = line.split(whereSeparator: { $0 == " " || $0 == "\t" })
            guard fields.count <= 2 else { throw KeyError("\(file):\(number): expected 'key [consumer-name]'") }
            let key = String(fields[0])
            guard key.utf8.count >= 16 else { throw KeyError("\(file):\(number): key shorter than 16 characters") }
            let digest = SHA256Digest(of: key)
            guard consumers[digest] == nil else { throw KeyError("\(file):\(number): duplicate key") }
            consumers[digest] = fields.count == 2 ? String(fields[1]) : "key-\(number)"
        }
        guard !consumers.isEmpty else { throw KeyError("\(file): no keys") }
        return APIKeyStore(consumers: consumers)
    }

    /// The consumer name of a valid key.
    func consumer(for presented: Substring) -> String? {
        consumers[SHA256Digest(of: String(presented))]
    }
}
