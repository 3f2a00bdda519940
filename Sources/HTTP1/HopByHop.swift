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
    static let names: [HTTPField.Name] = [.connection, .keepAlive, .proxyConnection, .te, .transferEncoding, .upgrade, .trailer]

    /// Removes hop-by-hop fields in place. `Transfer-Encoding` goes too: each hop frames its own body.
    /// `TE: trailers` is the one value that may be forwarded (gRPC needs it); pass `keepTETrailers` for that.
    public static func strip(_ fields: inout HTTPFields, keepTETrailers: Bool = false) {
        var teTrailers = false
        if keepTETrailers, let te = fields[.te] {
            teTrailers = te.split(separator: ",").contains { $0.trimmingOWS().caseInsensitiveEquals("trailers") }
        }
        let hasConnection = fields.contains(.connection)
        for value in hasConnection ? fields[values: .connection] : [] {
            for element in value.split(separator: ",") {
                let token = element.trimmingOWS()
                if let name = HTTPField.Name(String(token)) { fields[name] = nil }
            }
        }
        // Fast path: most messages carry none of these.
        for name in names where fields.contains(name) { fields[name] = nil }
        if teTrailers { fields[.te] = "trailers" }
    }
}
