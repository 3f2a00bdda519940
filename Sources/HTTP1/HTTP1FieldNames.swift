import HTTPTypes

/// Interns the field names nearly every message carries, so parsing them allocates nothing.
enum HTTP1FieldNames {
    private static let common: [HTTPField.Name] = [
        .hostField, .userAgent, .accept, .acceptEncoding, .acceptLanguage, .connection, .contentLength, .contentType,
        .transferEncoding, .cookie, .authorization, .cacheControl, .date, .server, .setCookie, .location,
        .xForwardedFor, .xForwardedProto, .xRequestID, .expect, .upgrade, .keepAlive, .proxyConnection, .te, .trailer,
        .origin, .referer, .ifNoneMatch, .ifModifiedSince, .eTag, .lastModified, .vary, .contentEncoding,
    ]

    static func name(_ bytes: UnsafeRawBufferPointer) -> HTTPField.Name {
        for candidate in common where candidate.canonicalName.utf8.count == bytes.count {
            if equalsIgnoringASCIICase(bytes, candidate.canonicalName) {
                return candidate.rawName.utf8.elementsEqual(bytes) ? candidate : HTTPField.Name(String(decoding: bytes, as: UTF8.self))!
            }
        }
        // The parser has checked the bytes are a token, which is all the initializer requires.
        return HTTPField.Name(String(decoding: bytes, as: UTF8.self))!
    }

    @inline(__always)
    private static func equalsIgnoringASCIICase(_ bytes: UnsafeRawBufferPointer, _ lowercase: String) -> Bool {
        var index = 0
        for expected in lowercase.utf8 {
            var byte = bytes[index]
            if byte >= 65 && byte <= 90 { byte += 32 }
            if byte != expected { return false }
            index += 1
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
