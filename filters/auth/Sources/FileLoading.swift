#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Reads a small config file whole (keys, JWKS, htpasswd) at load time; bounded so a wrong path to a
/// huge file fails fast instead of eating memory.
func readSmallFile(_ path: String, limit: Int = 8 << 20) throws(KeyError) -> [UInt8] {
    guard let file = fopen(path, "rb") else { throw KeyError("cannot read '\(path)': \(String(cString: strerror(errno)))") }
    defer { fclose(file) }
    var bytes: [UInt8] = []
    var chunk = [UInt8](repeating: 0, count: 16 * 1024)
    while true {
        let count = fread(&chunk, 1, chunk.count, file)
        if count > 0 { bytes += chunk[0..<count] }
        if bytes.count > limit { throw KeyError("'\(path)' is larger than \(limit) bytes") }
        if count < chunk.count {
            if ferror(file) != 0 { throw KeyError("cannot read '\(path)'") }
            return bytes
        }
    }
}

/// The non-empty, non-comment (`#`) lines of a text file with their 1-based line numbers, trimmed.
func meaningfulLines(_ bytes: [UInt8]) -> [(number: Int, text: Substring)] {
    let text = String(decoding: bytes, as: UTF8.self)
    var result: [(Int, Substring)] = []
    for (index, raw) in text.split(separator: "\n", omittingEmptySubsequences: false).enumerated() {
        let line = raw.drop { $0 == " " || $0 == "\t" }.reversed().drop { $0 == " " || $0 == "\t" || $0 == "\r" }
        let trimmed = Substring(String(line.reversed()))
        if trimmed.isEmpty || trimmed.hasPrefix("#") { continue }
        result.append((index + 1, trimmed))
    }
    return result
}
