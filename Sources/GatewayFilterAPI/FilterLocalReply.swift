import HTTPTypes
import NIOCore

/// A response produced by a filter instead of the upstream.
///
/// ```swift
/// return .respond(.text(.forbidden, "address not allowed"))
/// return .respond(FilterLocalReply(status: .noContent, headerFields: [.accessControlAllowOrigin: "*"]))
/// ```
public struct FilterLocalReply: Sendable {
    public var status: HTTPResponse.Status
    public var headerFields: HTTPFields
    public var body: ByteBuffer?

    public init(status: HTTPResponse.Status, headerFields: HTTPFields = [:], body: ByteBuffer? = nil) {
        self.status = status
        self.headerFields = headerFields
        self.body = body
    }

    /// A plain-text reply in the gateway's own style: `403 Forbidden: <message>`.
    public static func text(_ status: HTTPResponse.Status, _ message: String) -> FilterLocalReply {
        FilterLocalReply(status: status, headerFields: [.contentType: "text/plain; charset=utf-8"],
                         body: ByteBuffer(string: "\(status.code) \(status.reasonPhrase): \(message)\n"))
    }
}
