import HTTPTypes

/// Field names the framing and forwarding logic must notice while a head is parsed.
enum KnownField: UInt8 {
    case other
    case host
    case contentLength
    case transferEncoding
    case connection
    case expect
    /// Hop-by-hop fields other than Connection and Transfer-Encoding (RFC 9110 §7.6.1).
    case otherHopByHop
}

/// Interns the field names nearly every message carries, so parsing them allocates nothing, and
/// classifies the ones framing depends on so the parser never searches the fields afterwards.
enum HTTP1FieldNames {
    private struct Entry {
        let name: HTTPField.Name
        let known: KnownField
        let lowercase: [UInt8]
        let raw: [UInt8]
    }

    private static let entries: [Entry] = {
        let table: [(HTTPField.Name, KnownField)] = [
            (.hostField, .host), (.contentLength, .contentLength), (.transferEncoding, .transferEncoding),
            (.connection, .connection), (.expect, .expect), (.keepAlive, .otherHopByHop), (.proxyConnection, .otherHopByHop),
            (.te, .otherHopByHop), (.upgrade, .otherHopByHop), (.trailer, .otherHopByHop),
            (.userAgent, .other), (.accept, .other), (.acceptEncoding, .other), (.acceptLanguage, .other), (.contentType, .other),
            (.cookie, .other), (.authorization, .other), (.cacheControl, .other), (.date, .other), (.server, .other),
            (.setCookie, .other), (.location, .other), (.xForwardedFor, .other), (.xForwardedProto, .other), (.xRequestID, .other),
            (.origin, .other), (.referer, .other), (.ifNoneMatch, .other), (.ifModifiedSince, .other), (.eTag, .other),
            (.lastModified, .other), (.vary, .other), (.contentEncoding, .other), (.acceptRanges, .other),
        ]
        return table.map { Entry(name: $0.0, known: $0.1, lowercase: Array($0.0.canonicalName.utf8), raw: Array($0.0.rawName.utf8)) }
    }()

    /// Entry indexes by name length, so a lookup compares against two or three candidates at most.
    private static let byLength: [[Int]] = {
        var buckets = Array(repeating: [Int](), count: 33)
        for (index, entry) in entries.enumerated() where entry.lowercase.count < 33 { buckets[entry.lowercase.count].append(index) }
        return buckets
    }()

    static func name(_ bytes: UnsafeRawBufferPointer) -> (HTTPField.Name, KnownField) {
        if bytes.count < 33 {
            for index in byLength[bytes.count] {
                let entry = entries[index]
                if equalsIgnoringASCIICase(bytes, entry.lowercase) {
                    let name = bytes.elementsEqual(entry.raw) ? entry.name : HTTPField.Name(String(decoding: bytes, as: UTF8.self))!
                    return (name, entry.known)
                }
            }
        }
        // The parser has checked the bytes are a token, which is all the initializer requires.
        return (HTTPField.Name(String(decoding: bytes, as: UTF8.self))!, .other)
    }

    @inline(__always)
    private static func equalsIgnoringASCIICase(_ bytes: UnsafeRawBufferPointer, _ lowercase: [UInt8]) -> Bool {
        for index in 0..<bytes.count {
            var byte = bytes[index]
            if byte >= 65 && byte <= 90 { byte += 32 }
            if byte != lowercase[index] { return false }
        }
        return true
    }
}

extension HTTPField.Name {
    public static let xForwardedFor = HTTPField.Name("X-Forwarded-For")!
    public static let xForwardedProto = HTTPField.Name("X-Forwarded-Proto")!
    public static let xRequestID = HTTPField.Name("X-Request-Id")!
    public static let keepAlive = HTTPField.Name("Keep-Alive")!
    public static let proxyConnection = HTTPField.Name("Proxy-Connection")!
}

extension HTTPField.Name {
    /// `Host` as a plain field: HTTPTypes hides it because it belongs in `authority`, but the HTTP/1
    /// parser has to find it among the fields first.
    public static let hostField = HTTPField.Name("Host")!
}
