import GatewayFilterAPI
import HTTPTypes
import NIOCore

/// Cross-origin resource sharing as Envoy's and Kong's CORS filters do it: answers preflight requests
/// from allowed origins itself (204), and decorates the responses to actual cross-origin requests.
/// Requests without `Origin`, and origins not allowed, pass untouched (a browser then refuses the response).
final class CORSFilter: HTTPFilter {
    private let shared: CORSFilterFactory.Shared
    /// The `Access-Control-Allow-Origin` value for this stream's response; nil when not a CORS response.
    private var allowOrigin: String?

    init(shared: CORSFilterFactory.Shared) { self.shared = shared }

    func onRequestHead(_ head: inout HTTPRequest, endStream: Bool, _ ctx: FilterContext) throws -> FilterVerdict {
        guard let origin = head.headerFields[.origin] else { return .proceed }
        let config = shared.config
        guard config.allows(origin: origin) else { return .proceed }
        if head.method == .options, let requestedMethod = head.headerFields[.accessControlRequestMethod], !requestedMethod.isEmpty {
            return .respond(preflightReply(origin: origin, requestedHeaders: head.headerFields[.accessControlRequestHeaders]))
        }
        allowOrigin = config.allowOriginValue(for: origin)
        return .proceed
    }

    func onResponseHead(_ head: inout HTTPResponse, endStream: Bool, _ ctx: FilterContext) throws -> FilterVerdict {
        guard let allowOrigin else { return .proceed }
        // The upstream may do CORS itself: the gateway's answer replaces its headers rather than doubling them.
        head.headerFields[.accessControlAllowOrigin] = allowOrigin
        if shared.config.allowCredentials { head.headerFields[.accessControlAllowCredentials] = "true" }
        if let expose = shared.exposeHeaders { head.headerFields[.accessControlExposeHeaders] = expose }
        if allowOrigin != "*" { head.headerFields.append(HTTPField(name: .vary, value: "Origin")) }
        return .proceed
    }

    private func preflightReply(origin: String, requestedHeaders: String?) -> FilterLocalReply {
        let config = shared.config
        var fields = HTTPFields()
        let allowOrigin = config.allowOriginValue(for: origin)
        fields[.accessControlAllowOrigin] = allowOrigin
        fields[.accessControlAllowMethods] = shared.allowMethods
        if let allowHeaders = shared.allowHeaders {
            fields[.accessControlAllowHeaders] = allowHeaders
        } else if let requestedHeaders, !requestedHeaders.isEmpty {
            fields[.accessControlAllowHeaders] = requestedHeaders
        }
        if config.allowCredentials { fields[.accessControlAllowCredentials] = "true" }
        if let maxAge = config.maxAgeSeconds { fields[.accessControlMaxAge] = String(maxAge) }
        if allowOrigin != "*" { fields[.vary] = "Origin" }
        return FilterLocalReply(status: .noContent, headerFields: fields)
    }
}
