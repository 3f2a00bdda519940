import GatewayFilterAPI
import HTTPTypes

/// What a request is counted by: `key: client_ip`, `key: route`, `key: { header: x-api-key }` or
/// `key: { metadata: auth.subject }` (a value an earlier filter set, e.g. a JWT claim).
public enum RateLimitKey: Sendable, Equatable, CustomStringConvertible {
    /// The client's address (after PROXY protocol), without the port.
    case clientIP
    /// One bucket for every request through this filter entry (on a route: the route).
    case route
    case header(HTTPField.Name)
    case metadata(String)

    public var description: String {
        switch self {
        case .clientIP: "client_ip"
        case .route: "route"
        case .header(let name): "header:\(name.canonicalName)"
        case .metadata(let name): "metadata:\(name)"
        }
    }

    /// The request's key, prefixed by its source so that equal values of different sources never share a
    /// bucket; nil when the request has no such value.
    func value(of head: HTTPRequest, _ ctx: FilterContext) -> String? {
        switch self {
        case .clientIP:
            return "ip:" + Self.addressWithoutPort(ctx.downstreamAddress)
        case .route:
            return "route"
        case .header(let name):
            guard let value = head.headerFields[name], !value.isEmpty else { return nil }
            return "h:" + value
        case .metadata(let name):
            guard let value = ctx.metadata.loggableValue(named: name), !value.isEmpty else { return nil }
            return "m:" + value
        }
    }

    static func addressWithoutPort(_ address: String) -> String {
        if address.hasPrefix("["), let close = address.firstIndex(of: "]") {
            return String(address[address.index(after: address.startIndex)..<close])
        }
        if let colon = address.lastIndex(of: ":"), address.firstIndex(of: ":") == colon { return String(address[..<colon]) }
        return address
    }
}
