import HTTPTypes

/// Finding credentials in a request head, and removing them before it goes upstream.
enum RequestCredentials {
    /// The value of `name` in the query string, percent-decoded.
    static func queryValue(_ name: String, in path: String?) -> String? {
        guard let path, let question = path.firstIndex(of: "?") else { return nil }
        for pair in path[path.index(after: question)...].split(separator: "&") {
            let parts = pair.split(separator: "=", maxSplits: 1, omittingEmptySubsequences: false)
            if percentDecode(parts[0]) == name { return parts.count == 2 ? percentDecode(parts[1]) : "" }
        }
        return nil
    }

    /// The path without any `name=` parameter (and without a `?` left empty).
    static func removingQueryParameter(_ name: String, from path: String) -> String {
        guard let question = path.firstIndex(of: "?") else { return path }
        let kept = path[path.index(after: question)...].split(separator: "&").filter { pair in
            let key = pair.split(separator: "=", maxSplits: 1, omittingEmptySubsequences: false)[0]
            return percentDecode(key) != name
        }
        let base = String(path[..<question])
        return kept.isEmpty ? base : base + "?" + kept.joined(separator: "&")
    }

    /// The value of cookie `name` in the request's `Cookie` fields.
    static func cookieValue(_ name: String, in fields: HTTPFields) -> String? {
        for field in fields[values: .cookie] {
            for item in field.split(separator: ";") {
                let pair = item.drop { $0 == " " }
                guard let equals = pair.firstIndex(of: "="), pair[..<equals] == name else { continue }
                var value = pair[pair.index(after: equals)...]
                if value.hasPrefix("\""), value.hasSuffix("\""), value.count >= 2 { value = value.dropFirst().dropLast() }
                return String(value)
            }
        }
        return nil
    }

    /// The credentials of an `Authorization: <scheme> <credentials>` field (scheme matched case-insensitively).
    static func authorization(scheme: String, in fields: HTTPFields, field: HTTPField.Name = .authorization) -> Substring? {
        guard let value = fields[field] else { return nil }
        guard value.count > scheme.count, value.prefix(scheme.count).lowercased() == scheme.lowercased(),
              value[value.index(value.startIndex, offsetBy: scheme.count)] == " " else { return nil }
        let credentials = value.dropFirst(scheme.count + 1).drop { $0 == " " }
        return credentials.isEmpty ? nil : credentials
    }

    private static func percentDecode(_ text: Substring) -> String? {
        guard text.contains("%") || text.contains("+") else { return String(text) }
        var bytes: [UInt8] = []
        var utf8 = text.utf8.makeIterator()
        while let byte = utf8.next() {
            switch byte {
            case UInt8(ascii: "+"): bytes.append(UInt8(ascii: " "))
            case UInt8(ascii: "%"):
                guard let high = utf8.next().flatMap(hexValue), let low = utf8.next().flatMap(hexValue) else { return nil }
                bytes.append(high << 4 | low)
            default: bytes.append(byte)
            }
        }
        return String(validating: bytes, as: UTF8.self)
    }

    private static func hexValue(_ byte: UInt8) -> UInt8? {
        switch byte {
        case UInt8(ascii: "0")...UInt8(ascii: "9"): byte - UInt8(ascii: "0")
        case UInt8(ascii: "a")...UInt8(ascii: "f"): byte - UInt8(ascii: "a") + 10
        case UInt8(ascii: "A")...UInt8(ascii: "F"): byte - UInt8(ascii: "A") + 10
        default: nil
        }
    }
}
