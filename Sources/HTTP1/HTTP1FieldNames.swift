import HTTPTypes

/// Field names the framing and forwarding logic must notice while a head is parsed.
public enum KnownField: UInt8, Sendable {
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
/// A switch on the length, then byte comparisons against static strings: no retains, no hashing.
enum HTTP1FieldNames {
    static func name(_ bytes: UnsafeRawBufferPointer) -> (HTTPField.Name, KnownField) {
        switch bytes.count {
        case 2:
            if let hit = match(bytes, "te", "TE", .te, .otherHopByHop) { return hit }
        case 4:
            if let hit = match(bytes, "host", "Host", .hostField, .host) { return hit }
            if let hit = match(bytes, "date", "Date", .date, .other) { return hit }
            if let hit = match(bytes, "vary", "Vary", .vary, .other) { return hit }
            if let hit = match(bytes, "etag", "ETag", .eTag, .other) { return hit }
        case 6:
            if let hit = match(bytes, "accept", "Accept", .accept, .other) { return hit }
            if let hit = match(bytes, "cookie", "Cookie", .cookie, .other) { return hit }
            if let hit = match(bytes, "server", "Server", .server, .other) { return hit }
            if let hit = match(bytes, "expect", "Expect", .expect, .expect) { return hit }
            if let hit = match(bytes, "origin", "Origin", .origin, .other) { return hit }
        case 7:
            if let hit = match(bytes, "upgrade", "Upgrade", .upgrade, .otherHopByHop) { return hit }
            if let hit = match(bytes, "referer", "Referer", .referer, .other) { return hit }
            if let hit = match(bytes, "trailer", "Trailer", .trailer, .otherHopByHop) { return hit }
        case 8:
            if let hit = match(bytes, "location", "Location", .location, .other) { return hit }
        case 10:
            if let hit = match(bytes, "connection", "Connection", .connection, .connection) { return hit }
            if let hit = match(bytes, "user-agent", "User-Agent", .userAgent, .other) { return hit }
            if let hit = match(bytes, "keep-alive", "Keep-Alive", .keepAlive, .otherHopByHop) { return hit }
            if let hit = match(bytes, "set-cookie", "Set-Cookie", .setCookie, .other) { return hit }
        case 12:
            if let hit = match(bytes, "content-type", "Content-Type", .contentType, .other) { return hit }
            if let hit = match(bytes, "x-request-id", "X-Request-Id", .xRequestID, .other) { return hit }
        case 13:
            if let hit = match(bytes, "cache-control", "Cache-Control", .cacheControl, .other) { return hit }
            if let hit = match(bytes, "authorization", "Authorization", .authorization, .other) { return hit }
            if let hit = match(bytes, "last-modified", "Last-Modified", .lastModified, .other) { return hit }
            if let hit = match(bytes, "if-none-match", "If-None-Match", .ifNoneMatch, .other) { return hit }
            if let hit = match(bytes, "accept-ranges", "Accept-Ranges", .acceptRanges, .other) { return hit }
        case 14:
            if let hit = match(bytes, "content-length", "Content-Length", .contentLength, .contentLength) { return hit }
        case 15:
            if let hit = match(bytes, "accept-encoding", "Accept-Encoding", .acceptEncoding, .other) { return hit }
            if let hit = match(bytes, "accept-language", "Accept-Language", .acceptLanguage, .other) { return hit }
            if let hit = match(bytes, "x-forwarded-for", "X-Forwarded-For", .xForwardedFor, .other) { return hit }
        case 16:
            if let hit = match(bytes, "content-encoding", "Content-Encoding", .contentEncoding, .other) { return hit }
            if let hit = match(bytes, "proxy-connection", "Proxy-Connection", .proxyConnection, .otherHopByHop) { return hit }
        case 17:
            if let hit = match(bytes, "transfer-encoding", "Transfer-Encoding", .transferEncoding, .transferEncoding) { return hit }
            if let hit = match(bytes, "if-modified-since", "If-Modified-Since", .ifModifiedSince, .other) { return hit }
            if let hit = match(bytes, "x-forwarded-proto", "X-Forwarded-Proto", .xForwardedProto, .other) { return hit }
        default:
            break
        }
        // The parser has checked the bytes are a token, which is all the initializer requires.
        return (HTTPField.Name(String(decoding: bytes, as: UTF8.self))!, .other)
    }

    /// Only the classification, without making a name: for heads that are forwarded as bytes.
    static func classify(_ bytes: UnsafeRawBufferPointer) -> KnownField {
        switch bytes.count {
        case 2: return same(bytes, "te") ? .otherHopByHop : .other
        case 4: return same(bytes, "host") ? .host : .other
        case 6: return same(bytes, "expect") ? .expect : .other
        case 7: return same(bytes, "upgrade") || same(bytes, "trailer") ? .otherHopByHop : .other
        case 10:
            if same(bytes, "connection") { return .connection }
            return same(bytes, "keep-alive") ? .otherHopByHop : .other
        case 14: return same(bytes, "content-length") ? .contentLength : .other
        case 16: return same(bytes, "proxy-connection") ? .otherHopByHop : .other
        case 17: return same(bytes, "transfer-encoding") ? .transferEncoding : .other
        default: return .other
        }
    }

    @inline(__always)
    static func same(_ bytes: UnsafeRawBufferPointer, _ lowercase: StaticString) -> Bool {
        let expected = lowercase.utf8Start
        for index in 0..<bytes.count {
            let byte = bytes[index]
            if (byte >= 65 && byte <= 90 ? byte + 32 : byte) != expected[index] { return false }
        }
        return true
    }

    /// When `bytes` spell `lowercase` in any case: the interned name if they are in its usual
    /// spelling `canonical`, else a new name keeping the sender's spelling.
    @inline(__always)
    private static func match(_ bytes: UnsafeRawBufferPointer, _ lowercase: StaticString, _ canonical: StaticString,
                              _ name: @autoclosure () -> HTTPField.Name, _ known: KnownField) -> (HTTPField.Name, KnownField)? {
        let expected = UnsafeRawBufferPointer(start: lowercase.utf8Start, count: lowercase.utf8CodeUnitCount)
        let spelled = UnsafeRawBufferPointer(start: canonical.utf8Start, count: canonical.utf8CodeUnitCount)
        var exact = true
        for index in 0..<bytes.count {
            let byte = bytes[index]
            let folded = byte >= 65 && byte <= 90 ? byte + 32 : byte
            if folded != expected[index] { return nil }
            if byte != spelled[index] { exact = false }
        }
        return (exact ? name() : HTTPField.Name(String(decoding: bytes, as: UTF8.self))!, known)
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
