import HTTPTypes

/// The character classes and small grammars of RFC 9110/9112 that the parser checks strictly.
public enum HTTP1Syntax {
    /// tchar (RFC 9110 §5.6.2): ALPHA, DIGIT and `!#$%&'*+-.^_`|~`, as bits of two masks (bytes 0–63 and
    /// 64–127) so that the check is a shift and a test, not a chain of ranges.
    @inline(__always)
    static func isTokenChar(_ byte: UInt8) -> Bool {
        if byte < 64 { return (tokenCharsBelow64 >> UInt64(byte)) & 1 == 1 }
        return byte < 128 && (tokenCharsFrom64 >> UInt64(byte - 64)) & 1 == 1
    }
    static let tokenCharsBelow64: UInt64 = 0x03FF_6CFA_0000_0000
    static let tokenCharsFrom64: UInt64 = 0x57FF_FFFF_C7FF_FFFE

    /// field-vchar, SP or HTAB (RFC 9110 §5.5): no control characters, no NUL, no DEL.
    @inline(__always)
    static func isFieldValueChar(_ byte: UInt8) -> Bool {
        byte == 0x09 || (byte >= 0x20 && byte != 0x7F)
    }

    /// "HTTP/1.1" or "HTTP/1.0" gives the minor version; a higher 1.x is treated as 1.1 (RFC 9110 §6.2);
    /// another major version is 505; anything else is 400.
    static func parseVersion(_ bytes: UnsafeRawBufferPointer) throws(HTTP1ParseError) -> UInt8 {
        guard bytes.count == 8,
              bytes[0] == UInt8(ascii: "H"), bytes[1] == UInt8(ascii: "T"), bytes[2] == UInt8(ascii: "T"),
              bytes[3] == UInt8(ascii: "P"), bytes[4] == UInt8(ascii: "/"), bytes[6] == UInt8(ascii: "."),
              isDigit(bytes[5]), isDigit(bytes[7])
        else { throw .bad("invalid HTTP version") }
        guard bytes[5] == UInt8(ascii: "1") else { throw HTTP1ParseError(.versionNotSupported, "HTTP version not supported") }
        return bytes[7] == UInt8(ascii: "0") ? 0 : 1
    }

    @inline(__always)
    static func isDigit(_ byte: UInt8) -> Bool { byte >= 0x30 && byte <= 0x39 }

    /// field-name ":" OWS field-value OWS (RFC 9112 §5). Whitespace before the colon and obsolete line
    /// folding are refused (§5.1, §5.2).
    static func parseFieldLine(_ line: Slice<UnsafeRawBufferPointer>) throws(HTTP1ParseError) -> (HTTPField, KnownField) {
        makeField(try splitFieldLine(line))
    }

    /// The field of a line `splitFieldLine` has checked.
    static func makeField(_ parts: (name: UnsafeRawBufferPointer, value: UnsafeRawBufferPointer, ascii: Bool)) -> (HTTPField, KnownField) {
        let (name, known) = HTTP1FieldNames.name(parts.name)
        // ASCII values (nearly all) become Strings directly; HTTPTypes' byte initializer re-validates
        // through an unspecialized generic path. Bytes above 0x7F (obs-text) take that path to stay exact.
        if parts.ascii { return (HTTPField(name: name, value: String(decoding: parts.value, as: UTF8.self)), known) }
        return (HTTPField(name: name, value: parts.value), known)
    }

    /// Whether a comma-separated list value holds `lowercaseToken` (any case, optional whitespace).
    static func listContainsToken(_ value: UnsafeRawBufferPointer, _ lowercaseToken: StaticString) -> Bool {
        var found = false
        forEachListElement(value) { element in
            found = equalsIgnoringCase(element, lowercaseToken)
            return !found
        }
        return found
    }

    /// Calls `body` with each element of a comma-separated list value, without its surrounding
    /// whitespace (empty elements included), until `body` returns false.
    static func forEachListElement(_ value: UnsafeRawBufferPointer, _ body: (UnsafeBufferPointer<UInt8>) -> Bool) {
        let bytes = UnsafeBufferPointer(start: value.baseAddress?.assumingMemoryBound(to: UInt8.self), count: value.count)
        var start = 0
        while start <= bytes.count {
            var end = start
            while end < bytes.count && bytes[end] != UInt8(ascii: ",") { end += 1 }
            var first = start, last = end
            while first < last && (bytes[first] == 0x20 || bytes[first] == 0x09) { first += 1 }
            while last > first && (bytes[last - 1] == 0x20 || bytes[last - 1] == 0x09) { last -= 1 }
            if !body(UnsafeBufferPointer(rebasing: bytes[first..<last])) { return }
            start = end + 1
        }
    }

    /// Checks one field line strictly and returns its name and (trimmed) value bytes.
    static func splitFieldLine(_ line: Slice<UnsafeRawBufferPointer>) throws(HTTP1ParseError) -> (name: UnsafeRawBufferPointer, value: UnsafeRawBufferPointer, ascii: Bool) {
        guard let first = line.first else { throw .bad("empty field line") }
        if first == 0x20 || first == 0x09 { throw .bad("obsolete line folding") }
        var colon = line.startIndex
        while colon < line.endIndex && line[colon] != UInt8(ascii: ":") {
            let byte = line[colon]
            if byte == 0x20 || byte == 0x09 { throw .bad("whitespace between field name and colon") }
            guard isTokenChar(byte) else { throw .bad("invalid character in field name") }
            colon += 1
        }
        guard colon < line.endIndex, colon > line.startIndex else { throw .bad("malformed field line") }
        var start = colon + 1
        var end = line.endIndex
        while start < end && (line[start] == 0x20 || line[start] == 0x09) { start += 1 }
        while end > start && (line[end - 1] == 0x20 || line[end - 1] == 0x09) { end -= 1 }
        let value = UnsafeRawBufferPointer(rebasing: line[start..<end])
        var ascii = true
        // Most values are plain visible ASCII: eight bytes at a time while they are, then byte by byte.
        var checked = 0
        while checked + 8 <= value.count && SWAR.isPlainText(value.loadUnaligned(fromByteOffset: checked, as: UInt64.self)) { checked += 8 }
        for byte in value[checked...] {
            guard isFieldValueChar(byte) else { throw .bad("invalid character in field value") }
            if byte >= 0x80 { ascii = false }
        }
        return (UnsafeRawBufferPointer(rebasing: line[line.startIndex..<colon]), value, ascii)
    }

    /// True when a path segment (before any query) is `.` or `..`, also spelled with `%2e`.
    static func hasDotSegment(_ target: UnsafeRawBufferPointer) -> Bool {
        var index = 0
        let end = target.firstIndex(of: UInt8(ascii: "?")) ?? target.count
        while index < end {
            // At a segment start (just after a '/'): count the dots it consists of.
            guard target[index] == UInt8(ascii: "/") else { index += 1; continue }
            index += 1
            var dots = 0
            var onlyDots = true
            while index < end && target[index] != UInt8(ascii: "/") {
                if target[index] == UInt8(ascii: ".") {
                    dots += 1
                    index += 1
                } else if target[index] == UInt8(ascii: "%"), index + 2 < end, target[index + 1] == UInt8(ascii: "2"),
                          target[index + 2] | 0x20 == UInt8(ascii: "e") {
                    dots += 1
                    index += 3
                } else {
                    onlyDots = false
                    index += 1
                }
            }
            if onlyDots && (dots == 1 || dots == 2) { return true }
        }
        return false
    }

    /// Content-Length = 1*DIGIT, at most 18 digits so it fits an Int64.
    static func parseContentLength(_ value: String) throws(HTTP1ParseError) -> Int64 {
        var value = value
        guard let length = value.withUTF8({ contentLength(UnsafeRawBufferPointer($0)) }) else { throw .bad("invalid Content-Length") }
        return length
    }

    /// The value of a Content-Length field (1*DIGIT, at most 18 digits so it fits an Int64), or nil.
    /// Shared by the HTTP/1.1 parser and the HTTP/2 edge.
    public static func contentLength(_ digits: UnsafeRawBufferPointer) -> Int64? {
        guard !digits.isEmpty, digits.count <= 18 else { return nil }
        var result: Int64 = 0
        for byte in digits {
            guard isDigit(byte) else { return nil }
            result = result * 10 + Int64(byte - 0x30)
        }
        return result
    }

    /// chunk-size [ chunk-ext ]: 1 to 15 hex digits, then optional `;`-extensions of visible characters.
    static func parseChunkSize(_ line: UnsafeRawBufferPointer) throws(HTTP1ParseError) -> Int64 {
        var size: Int64 = 0
        var digits = 0
        var index = 0
        while index < line.count {
            let byte = line[index]
            let value: Int64
            switch byte {
            case UInt8(ascii: "0")...UInt8(ascii: "9"): value = Int64(byte - UInt8(ascii: "0"))
            case UInt8(ascii: "a")...UInt8(ascii: "f"): value = Int64(byte - UInt8(ascii: "a") + 10)
            case UInt8(ascii: "A")...UInt8(ascii: "F"): value = Int64(byte - UInt8(ascii: "A") + 10)
            default: value = -1
            }
            if value < 0 { break }
            digits += 1
            if digits > 15 { throw .bad("chunk size too large") }
            size = size * 16 + value
            index += 1
        }
        guard digits > 0 else { throw .bad("invalid chunk size") }
        if index < line.count {
            // chunk-ext = *( BWS ";" BWS ext-name [ BWS "=" BWS ext-val ] ): accepted and ignored.
            var rest = index
            while rest < line.count && (line[rest] == 0x20 || line[rest] == 0x09) { rest += 1 }
            guard rest < line.count, line[rest] == UInt8(ascii: ";") else { throw .bad("invalid chunk size") }
            for i in rest..<line.count where !isFieldValueChar(line[i]) { throw .bad("invalid chunk extension") }
        }
        return size
    }

    /// A comma-separated list of tokens from one or more field lines, lowercased. Empty elements are refused.
    static func tokenList(_ values: [String]) throws(HTTP1ParseError) -> [String] {
        var tokens: [String] = []
        for value in values {
            for element in value.split(separator: ",", omittingEmptySubsequences: false) {
                let token = element.trimmingOWS()
                guard !token.isEmpty, token.utf8.allSatisfy(isTokenChar) else { throw .bad("invalid Transfer-Encoding") }
                tokens.append(token.lowercased())
            }
        }
        return tokens
    }

    /// The options of one Connection value: `close`, `keep-alive`, and whether it names anything else.
    static func connectionOptions(_ value: UnsafeRawBufferPointer, close: inout Bool, keepAlive: inout Bool, others: inout Bool) {
        var sawClose = false, sawKeepAlive = false, sawOthers = false
        forEachListElement(value) { token in
            if equalsIgnoringCase(token, "close") {
                sawClose = true
            } else if equalsIgnoringCase(token, "keep-alive") {
                sawKeepAlive = true
            } else if !token.isEmpty {
                sawOthers = true
            }
            return true
        }
        close = close || sawClose
        keepAlive = keepAlive || sawKeepAlive
        others = others || sawOthers
    }

    static func equalsIgnoringCase(_ bytes: UnsafeBufferPointer<UInt8>, _ lowercase: StaticString) -> Bool {
        guard bytes.count == lowercase.utf8CodeUnitCount else { return false }
        let expected = lowercase.utf8Start
        for index in 0..<bytes.count {
            let byte = bytes[index]
            if (byte >= 65 && byte <= 90 ? byte + 32 : byte) != expected[index] { return false }
        }
        return true
    }

    /// uri-host [ ":" port ] (RFC 9110 §7.2, RFC 3986 §3.2.2): a reg-name or IPv4 address, or an IP literal
    /// in brackets, then an optional port of digits. Anything looser lets two hops disagree on the authority.
    static func isValidHost(_ host: String) -> Bool {
        var host = host
        return host.withUTF8 { isValidHost(UnsafeRawBufferPointer($0)) }
    }

    /// On the bytes: indexing a `String.UTF8View` costs several times more, and this runs per request.
    static func isValidHost(_ bytes: UnsafeRawBufferPointer) -> Bool {
        guard !bytes.isEmpty, bytes.count <= 255 else { return false }
        let portStart: Int?
        if bytes[0] == UInt8(ascii: "[") {
            guard let close = bytes.firstIndex(of: UInt8(ascii: "]")) else { return false }
            // IPv6 (with ":" and an embedded IPv4's "."), a zone ("%25" and a name) or IPvFuture ("v1.x").
            let literal = bytes[1..<close]
            guard !literal.isEmpty, literal.allSatisfy({ isUnreserved($0) || $0 == UInt8(ascii: ":") || $0 == UInt8(ascii: "%") }) else { return false }
            let afterLiteral = close + 1
            if afterLiteral == bytes.count { return true }
            guard bytes[afterLiteral] == UInt8(ascii: ":") else { return false }
            portStart = afterLiteral + 1
        } else {
            let colon = bytes.firstIndex(of: UInt8(ascii: ":"))
            let name = bytes[..<(colon ?? bytes.count)]
            guard !name.isEmpty, name.allSatisfy({ isUnreserved($0) || isSubDelim($0) || $0 == UInt8(ascii: "%") }) else { return false }
            portStart = colon.map { $0 + 1 }
        }
        guard let portStart else { return true }
        return bytes[portStart...].allSatisfy(isDigit)
    }

    /// unreserved (RFC 3986 §2.3).
    private static func isUnreserved(_ byte: UInt8) -> Bool {
        switch byte {
        case UInt8(ascii: "a")...UInt8(ascii: "z"), UInt8(ascii: "A")...UInt8(ascii: "Z"), UInt8(ascii: "0")...UInt8(ascii: "9"),
             UInt8(ascii: "-"), UInt8(ascii: "."), UInt8(ascii: "_"), UInt8(ascii: "~"):
            true
        default:
            false
        }
    }

    /// sub-delims (RFC 3986 §2.2).
    private static func isSubDelim(_ byte: UInt8) -> Bool {
        switch byte {
        case UInt8(ascii: "!"), UInt8(ascii: "$"), UInt8(ascii: "&"), UInt8(ascii: "'"), UInt8(ascii: "("), UInt8(ascii: ")"),
             UInt8(ascii: "*"), UInt8(ascii: "+"), UInt8(ascii: ","), UInt8(ascii: ";"), UInt8(ascii: "="):
            true
        default:
            false
        }
    }

    /// absolute-form: "http://" or "https://" authority [path-abempty] [ "?" query ].
    static func splitAbsoluteForm(_ target: UnsafeRawBufferPointer) -> (scheme: String, authority: String, path: String)? {
        let text = String(decoding: target, as: UTF8.self)
        let lower = text.lowercased()
        let scheme: String
        if lower.hasPrefix("http://") { scheme = "http" } else if lower.hasPrefix("https://") { scheme = "https" } else { return nil }
        let afterScheme = text.dropFirst(scheme.count + 3)
        let authorityEnd = afterScheme.firstIndex(where: { $0 == "/" || $0 == "?" }) ?? afterScheme.endIndex
        let authority = String(afterScheme[afterScheme.startIndex..<authorityEnd])
        guard !authority.contains("@"), isValidHost(authority) else { return nil }
        var path = String(afterScheme[authorityEnd...])
        if path.isEmpty || path.hasPrefix("?") { path = "/" + path }
        return (scheme, authority, path)
    }
}

extension StringProtocol {
    /// Trims optional whitespace (SP and HTAB) from both ends.
    func trimmingOWS() -> Substring {
        var view = Substring(self)
        while let first = view.first, first == " " || first == "\t" { view.removeFirst() }
        while let last = view.last, last == " " || last == "\t" { view.removeLast() }
        return view
    }

    func caseInsensitiveEquals(_ lowercaseASCII: String) -> Bool {
        guard utf8.count == lowercaseASCII.utf8.count else { return false }
        return zip(utf8, lowercaseASCII.utf8).allSatisfy { a, b in (a >= 65 && a <= 90 ? a + 32 : a) == b }
    }
}

extension HTTPRequest.Method {
    /// A method from its bytes: the common ones without building and checking a String. Nil when the bytes
    /// are not a token. Shared by the HTTP/1.1 parser and the HTTP/2 edge.
    public init?(token bytes: UnsafeRawBufferPointer) {
        switch bytes.count {
        case 3:
            if bytes.elementsEqual("GET".utf8) { self = .get; return }
            if bytes.elementsEqual("PUT".utf8) { self = .put; return }
        case 4:
            if bytes.elementsEqual("POST".utf8) { self = .post; return }
            if bytes.elementsEqual("HEAD".utf8) { self = .head; return }
        case 5:
            if bytes.elementsEqual("PATCH".utf8) { self = .patch; return }
        case 6:
            if bytes.elementsEqual("DELETE".utf8) { self = .delete; return }
        case 7:
            if bytes.elementsEqual("OPTIONS".utf8) { self = .options; return }
            if bytes.elementsEqual("CONNECT".utf8) { self = .connect; return }
        default:
            break
        }
        guard let method = HTTPRequest.Method(String(decoding: bytes, as: UTF8.self)) else { return nil }
        self = method
    }
}
