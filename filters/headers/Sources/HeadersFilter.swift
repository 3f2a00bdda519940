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
        rewriteTarget(&head)
        return .proceed
    }

    /// The edits go to the received lines (no `HTTPFields` built, the request forwarded as bytes) for as long
    /// as each name allows it; from the first that does not (Cookie, the proxy's own fields) on, the fields
    /// are taken and the remaining edits applied to them, which gives the same result.
    func onRequestHead(_ head: inout HTTPRequest, receivedFields: ReceivedRequestFields, endStream: Bool, _ ctx: FilterContext) throws -> FilterVerdict {
        let edits = config.request
        var taken: HTTPFields?
        func edit(_ onReceived: () -> Bool, _ onFields: (inout HTTPFields) -> Void) {
            if taken == nil {
                if onReceived() { return }
                taken = receivedFields.takeFields()
            }
            onFields(&taken!)
        }
        for name in edits.remove { edit({ receivedFields.remove(name) }, { $0[name] = nil }) }
        for field in edits.set { edit({ receivedFields.replace(with: field) }, { $0[field.name] = field.value }) }
        for field in edits.add { edit({ receivedFields.append(field) }, { $0.append(field) }) }
        if let taken { head.headerFields = taken }
        rewriteTarget(&head)
        return .proceed
    }

    private func rewriteTarget(_ head: inout HTTPRequest) {
        if let path = head.path, let rewritten = config.rewrittenPath(path) { head.path = rewritten }
        if let host = config.hostRewrite { head.authority = host }
    }

    func onResponseHead(_ head: inout HTTPResponse, endStream: Bool, _ ctx: FilterContext) throws -> FilterVerdict {
        config.response.apply(to: &head.headerFields)
        return .proceed
    }
}
