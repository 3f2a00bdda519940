import HTTP1
import HTTPTypes
import Upstream

/// Which side of the gateway a failure came from, as the access log's `error_source` reports it.
public enum ErrorSource: String, Sendable {
    case downstream
    case upstream
    case `internal`
}

/// The one error type of a proxied exchange. Each knows its status, its source, a short stable reason
/// for the access log, and whether the client connection must be closed afterwards.
/// Errors become responses in one place: `ProxyStream.fail(_:)`.
public struct GatewayError: Error, Sendable, CustomStringConvertible {
    public var status: HTTPResponse.Status
    public var source: ErrorSource
    public var reason: String
    public var closeConnection: Bool
    /// What the client is told in place of `reason` (upstream trouble: internal addresses and errno
    /// texts stay in the log); nil: the reason itself.
    public var publicText: String?

    public init(status: HTTPResponse.Status, source: ErrorSource, reason: String, closeConnection: Bool = false, publicText: String? = nil) {
        self.status = status
        self.source = source
        self.reason = reason
        self.closeConnection = closeConnection
        self.publicText = publicText
    }

    public var description: String { "\(status.code) \(reason) (\(source.rawValue))" }

    /// The plain-text body a client gets: specific for its own mistakes, generic for upstream trouble,
    /// so that internal addresses and errno texts stay in the log.
    public var publicMessage: String {
        "\(status.code) \(status.reasonPhrase): \(publicText ?? reason)\n"
    }

    public static let noRoute = GatewayError(status: .notFound, source: .downstream, reason: "no route matched")
    public static let bodyTooLarge = GatewayError(status: .contentTooLarge, source: .downstream, reason: "request body too large", closeConnection: true)
    public static let bodyReadTimeout = GatewayError(status: .requestTimeout, source: .downstream, reason: "request body read timeout", closeConnection: true)
    public static let headerReadTimeout = GatewayError(status: .requestTimeout, source: .downstream, reason: "request header read timeout", closeConnection: true)
    public static let requestTimeout = GatewayError(status: .gatewayTimeout, source: .upstream, reason: "request timeout", publicText: "upstream request timeout")
    /// nginx's 499: the client went away before the response was complete. Never sent, only logged.
    public static let downstreamClosed = GatewayError(status: .init(code: 499, reasonPhrase: "Client Closed Request"), source: .downstream, reason: "client closed connection", closeConnection: true)

    public static func malformed(_ error: HTTP1ParseError) -> GatewayError {
        GatewayError(status: .init(code: error.status), source: .downstream, reason: error.reason, closeConnection: true)
    }

    public static func upstream(_ error: UpstreamError) -> GatewayError {
        switch error {
        case .noHealthyEndpoint:
            return GatewayError(status: .serviceUnavailable, source: .upstream, reason: error.description, publicText: "no healthy upstream")
        case .overflow:
            return GatewayError(status: .serviceUnavailable, source: .upstream, reason: error.description, publicText: "upstream overflow")
        case .stickyEndpointUnavailable:
            // The precise reason stays in the log; the client hears that its session's server is away.
            return GatewayError(status: .serviceUnavailable, source: .upstream, reason: error.description,
                                publicText: "the server holding this session is unavailable")
        case .connectTimeout:
            return GatewayError(status: .gatewayTimeout, source: .upstream, reason: error.description, publicText: "upstream connect timeout")
        case .perTryTimeout:
            return GatewayError(status: .gatewayTimeout, source: .upstream, reason: error.description, publicText: "upstream request timeout")
        case .connectFailed, .connectionReset, .protocolError:
            return GatewayError(status: .badGateway, source: .upstream, reason: error.description,
                                publicText: "upstream connect error or disconnect/reset before headers")
        }
    }
}
