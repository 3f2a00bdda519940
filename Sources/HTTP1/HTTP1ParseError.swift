/// Why an incoming HTTP/1.x message was refused. Each case knows the status the peer should get;
/// after any of them the connection is closed, because the framing can no longer be trusted.
public struct HTTP1ParseError: Error, Equatable, Sendable, CustomStringConvertible {
    public enum Kind: Equatable, Sendable {
        case badRequest
        case headerTooLarge
        case tooManyHeaders
        case uriTooLong
        case versionNotSupported
        case methodNotAllowed
        case transferCodingNotImplemented
    }

    public var kind: Kind
    /// A short, stable explanation for logs and the plain-text error body.
    public var reason: String

    public init(_ kind: Kind, _ reason: String) {
        self.kind = kind
        self.reason = reason
    }

    public static func bad(_ reason: String) -> HTTP1ParseError { HTTP1ParseError(.badRequest, reason) }

    /// The HTTP status a server answers with.
    public var status: Int {
        switch kind {
        case .badRequest: 400
        case .headerTooLarge, .tooManyHeaders: 431
        case .uriTooLong: 414
        case .versionNotSupported: 505
        case .methodNotAllowed: 405
        case .transferCodingNotImplemented: 501
        }
    }

    public var description: String { "\(status) \(reason)" }
}
