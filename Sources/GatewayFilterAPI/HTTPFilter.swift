import HTTPTypes
import NIOCore

/// One filter instance per stream, running on the stream's event loop: no locks, no `Sendable` state.
/// Every hook defaults to pass-through; implement the ones you need and declare them in the factory's
/// `phases`, since the chain skips hooks a filter did not declare.
///
/// Request hooks run in config order (listener filters, then route filters), response hooks in reverse.
/// Body and trailer hooks see each part as it passes; trailers hooks run only when there are trailers.
///
/// ```swift
/// final class ServerHeaderFilter: HTTPFilter {
///     func onResponseHead(_ head: inout HTTPResponse, endStream: Bool, _ ctx: FilterContext) throws -> FilterVerdict {
///         head.headerFields[.server] = "portcullis"
///         return .proceed
///     }
/// }
/// ```
public protocol HTTPFilter: AnyObject {
    func onRequestHead(_ head: inout HTTPRequest, endStream: Bool, _ ctx: FilterContext) throws -> FilterVerdict
    /// The request-head hook for a request whose fields are still the lines received (HTTP/1.1):
    /// `head.headerFields` is empty and `receivedFields` reads and edits them, so the head can go upstream
    /// as those bytes. The default takes the fields into `head` and calls `onRequestHead(_:endStream:_:)`;
    /// implement it only if the hook touches a few fields and it matters what building them costs.
    func onRequestHead(_ head: inout HTTPRequest, receivedFields: ReceivedRequestFields, endStream: Bool, _ ctx: FilterContext) throws -> FilterVerdict
    func onRequestBody(_ chunk: inout ByteBuffer, endStream: Bool, _ ctx: FilterContext) throws -> FilterVerdict
    func onRequestTrailers(_ trailers: inout HTTPFields, _ ctx: FilterContext) throws -> FilterVerdict
    func onResponseHead(_ head: inout HTTPResponse, endStream: Bool, _ ctx: FilterContext) throws -> FilterVerdict
    func onResponseBody(_ chunk: inout ByteBuffer, endStream: Bool, _ ctx: FilterContext) throws -> FilterVerdict
    func onResponseTrailers(_ trailers: inout HTTPFields, _ ctx: FilterContext) throws -> FilterVerdict
    /// Called exactly once per stream, however it ended (also on errors and client aborts), before the
    /// access-log line is written: metadata set here is logged.
    func onComplete(_ outcome: StreamOutcome, _ ctx: FilterContext)
}

extension HTTPFilter {
    public func onRequestHead(_ head: inout HTTPRequest, endStream: Bool, _ ctx: FilterContext) throws -> FilterVerdict { .proceed }
    public func onRequestHead(_ head: inout HTTPRequest, receivedFields: ReceivedRequestFields, endStream: Bool, _ ctx: FilterContext) throws -> FilterVerdict {
        head.headerFields = receivedFields.takeFields()
        return try onRequestHead(&head, endStream: endStream, ctx)
    }
    public func onRequestBody(_ chunk: inout ByteBuffer, endStream: Bool, _ ctx: FilterContext) throws -> FilterVerdict { .proceed }
    public func onRequestTrailers(_ trailers: inout HTTPFields, _ ctx: FilterContext) throws -> FilterVerdict { .proceed }
    public func onResponseHead(_ head: inout HTTPResponse, endStream: Bool, _ ctx: FilterContext) throws -> FilterVerdict { .proceed }
    public func onResponseBody(_ chunk: inout ByteBuffer, endStream: Bool, _ ctx: FilterContext) throws -> FilterVerdict { .proceed }
    public func onResponseTrailers(_ trailers: inout HTTPFields, _ ctx: FilterContext) throws -> FilterVerdict { .proceed }
    public func onComplete(_ outcome: StreamOutcome, _ ctx: FilterContext) {}
}
