import GatewayFilterAPI
import HTTPTypes
import NIOCore

/// Edits request and response headers, and rewrites the path prefix and the host on the way upstream.
/// Stateless: one shared instance serves every stream.
final class HeadersFilter: HTTPFilter, Sendable {
    let config: HeadersFilterConfig

    init(config: HeadersFilterConfig) { self.config = config }

    func onRequestHead(_ head: inout HTTPRequest, endStream: Bool, _ ctx: FilterContext) throws -> FilterVerdict {
        config.request.apply(to: &head.headerFields)
        if let path = head.path, let rewritten = config.rewrittenPath(path) { head.path = rewritten }
        if let host = config.hostRewrite { head.authority = host }
        return .proceed
    }

    func onResponseHead(_ head: inout HTTPResponse, endStream: Bool, _ ctx: FilterContext) throws -> FilterVerdict {
        config.response.apply(to: &head.headerFields)
        return .proceed
    }
}
