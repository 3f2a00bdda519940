/// An htpasswd file with bcrypt (`$2y$`, `$2b$`, `$2a$`) and `{SHA}` entries, the two schemes that are
/// still defensible; MD5 (`$apr1$`), crypt and plain entries are refused at load.
struct Htpasswd: Sendable {
    enum Entry: Sendable {
        case bcrypt(Bcrypt.Hash)
        /// Unsalted SHA-1 (`htpasswd -s`): kept for compatibility, cheap, so checked on the event loop.
        case sha1([UInt8])
    }

    private let entries: [String: Entry]

    var count: Int { entries.count }

    static func parse(_ bytes: [UInt8], file: String) throws(KeyError) -> Htpasswd {
        var entries: [String: Entry] = [:]
        for (number, line) in meaningfulLines(bytes) {
            guard let colon = line.firstIndex(of: ":") else { throw KeyError("\(file):\(number): expected 'user:hash'") }
            let user = String(line[..<colon])
            let hash = String(line[line.index(after: colon)...])
            guard !user.isEmpty else { throw KeyError("\(file):\(number): empty user name") }
            guard entries[user] == nil else { throw KeyError("\(file):\(number): user '\(user)' listed twice") }
            if hash.hasPrefix("{SHA}") {
                guard let digest = Base64URL.decode(String(hash.dropFirst(5))), digest.count == 20 else {
                    throw KeyError("\(file):\(number): malformed {SHA} hash for '\(user)'")
                }
                entries[user] = .sha1(digest)
            } else if hash.hasPrefix("$2") {
                guard let parsed = Bcrypt.Hash(hash) else { throw KeyError("\(file):\(number): malformed bcrypt hash for '\(user)'") }
                entries[user] = .bcrypt(parsed)
            } else {
                throw KeyError("\(file):\(number): unsupported hash for '\(user)' (use bcrypt: htpasswd -B)")
            }
        }
        guard !entries.isEmpty else { throw KeyError("\(file): no users") }
        return Htpasswd(entries: entries)
    }

    func entry(for user: String) -> Entry? { entries[user] }

    var users: Dictionary<String, Entry>.Keys { entries.keys }
}
