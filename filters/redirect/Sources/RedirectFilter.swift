import GatewayFilterAPI
import HTTPTypes

/// Answers every request it sees with a redirect; no per-stream state, so one instance serves all.
final class RedirectFilter: HTTPFilter, Sendable {
    private let config: RedirectFilterConfig

    init(config: RedirectFilterConfig) {
        self.config = config
    }

    func onRequestHead(_ head: inout HTTPRequest, endStream: Bool, _ ctx: FilterContext) throws -> FilterVerdict {
        .respond(reply(head, ctx))
    }

    func onRequestHead(_ head: inout HTTPRequest, receivedFields: ReceivedRequestFields, endStream: Bool, _ ctx: FilterContext) throws -> FilterVerdict {
        // Method, authority and path are all it reads: the fields are never built.
        .respond(reply(head, ctx))
    }

    private func reply(_ head: HTTPRequest, _ ctx: FilterContext) -> FilterLocalReply {
        guard let location = config.location(requestScheme: ctx.tls == nil ? "http" : "https", authority: head.authority, path: head.path ?? "/") else {
            return .text(.badRequest, "the request names no host to redirect to (send a Host header)")
        }
        let status = HTTPResponse.Status(code: config.status)
        var reply = FilterLocalReply.text(status, "see \(location)")
        reply.headerFields[.location] = location
        return reply
    }
}
