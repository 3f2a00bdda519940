import HTTPTypes

extension HTTPFields {
    /// The first value of `name`, without the array and joined string that the subscript builds.
    @inlinable
    public func firstValue(_ name: HTTPField.Name) -> String? {
        for field in self where field.name == name { return field.value }
        return nil
    }
}

/// The connection-specific fields a proxy must not forward (RFC 9110 §7.6.1), plus the fields the
/// `Connection` header nominates.
public enum HopByHop {
    /// Removes hop-by-hop fields in place, in one pass. `Transfer-Encoding` goes too: each hop frames its
    /// own body. `TE: trailers` is the one value that may be forwarded (gRPC needs it); pass
    /// `keepTETrailers` for that.
    public static func strip(_ fields: inout HTTPFields, keepTETrailers: Bool = false) {
        var teTrailers = false
        var nominated: [HTTPField.Name] = []
        var remove: [Int] = []
        for (index, field) in fields.enumerated() {
            let name = field.name.canonicalName
            guard isHopByHop(name) else { continue }
            remove.append(index)
            if name == "connection" {
                // Fields the Connection header names are hop-by-hop too; `close` and `keep-alive` are
                // options, not field names worth a lookup.
                for element in field.value.split(separator: ",") {
                    let token = element.trimmingOWS()
                    if token.caseInsensitiveEquals("close") || token.caseInsensitiveEquals("keep-alive") { continue }
                    // A sender must not be able to make a proxy drop the message's framing: with
                    // `Connection: Content-Length` the body would go upstream undelimited (smuggling).
                    if token.caseInsensitiveEquals("content-length") || token.caseInsensitiveEquals("host") { continue }
                    if let extra = HTTPField.Name(String(token)) { nominated.append(extra) }
                }
            } else if name == "te" && keepTETrailers {
                teTrailers = teTrailers || field.value.split(separator: ",").contains { $0.trimmingOWS().caseInsensitiveEquals("trailers") }
            }
        }
        for index in remove.reversed() { fields.remove(at: index) }
        for name in nominated where fields.contains(name) { fields[name] = nil }
        if teTrailers { fields.append(HTTPField(name: .te, value: "trailers")) }
    }

    /// Whether `Connection` names fields besides `close` and `keep-alive` (they must be removed too).
    public static func connectionNominatesFields(_ fields: HTTPFields) -> Bool {
        var close = false, keepAlive = false, others = false
        for field in fields where field.name == .connection {
            var value = field.value
            value.withUTF8 { HTTP1Syntax.connectionOptions(UnsafeRawBufferPointer($0), close: &close, keepAlive: &keepAlive, others: &others) }
        }
        return others
    }

    /// Whether the request asks for `TE: trailers`, the one TE value a proxy forwards.
    public static func asksForTrailers(_ fields: HTTPFields) -> Bool {
        for field in fields where field.name == .te {
            if field.value.split(separator: ",").contains(where: { $0.trimmingOWS().caseInsensitiveEquals("trailers") }) { return true }
        }
        return false
    }

    /// RFC 9110 §7.6.1's connection-specific fields, by lowercase name.
    @inline(__always)
    public static func isHopByHop(_ canonicalName: String) -> Bool {
        switch canonicalName.utf8.count {
        case 2: return canonicalName == "te"
        case 7: return canonicalName == "upgrade" || canonicalName == "trailer"
        case 10: return canonicalName == "connection" || canonicalName == "keep-alive"
        case 16: return canonicalName == "proxy-connection"
        case 17: return canonicalName == "transfer-encoding"
        default: return false
        }
    }
}
