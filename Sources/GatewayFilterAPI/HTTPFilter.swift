import HTTPTypes
import NIOCore

/// What a filter hook tells the chain to do next.
///
/// ```swift
/// func onRequestHead(_ head: inout HTTPRequest, endStream: Bool, _ ctx: FilterContext) throws -> FilterVerdict {
///     guard head.headerFields[.authorization] != nil else { return .respond(LocalReply(status: .unauthorized)) }
///     return .proceed
/// }
/// ```
public enum FilterVerdict {
    /// Go on down the chain.
    case proceed
    /// Answer now; the request never reaches an upstream.
    case respond(FilterLocalReply)
    /// Wait for asynchronous work (a key fetch, Redis, a Lua yield, a tarpit timer), then continue with its verdict.
    case suspend(EventLoopFuture<FilterVerdict>)
    /// Deliver the whole body (bounded by the route's limit) to the body hook at end of stream.
    case bufferBody
}

/// A response produced by a filter instead of the upstream.
public struct FilterLocalReply: Sendable {
    public var status: HTTPResponse.Status
    public var headerFields: HTTPFields
    public var body: ByteBuffer?

    public init(status: HTTPResponse.Status, headerFields: HTTPFields = [:], body: ByteBuffer? = nil) {
        self.status = status
        self.headerFields = headerFields
        self.body = body
    }
}

/// How a stream ended, as the final hook sees it.
public struct StreamOutcome: Sendable {
    public var status: Int
    public var errorReason: String?

    public init(status: Int, errorReason: String?) {
        self.status = status
        self.errorReason = errorReason
    }
}

/// What a filter may ask of the gateway about the current stream. Filters never see channels or sockets.
public protocol FilterContext: AnyObject {
    var eventLoop: EventLoop { get }
    /// The client's address after PROXY protocol decoding, as `ip:port`.
    var downstreamAddress: String { get }
    var requestID: String { get }
}

/// One filter instance per stream, running on the stream's event loop. Every hook defaults to pass-through.
/// Request hooks run in config order, response hooks in reverse.
public protocol HTTPFilter: AnyObject {
    func onRequestHead(_ head: inout HTTPRequest, endStream: Bool, _ ctx: FilterContext) throws -> FilterVerdict
    func onRequestBody(_ chunk: inout ByteBuffer, endStream: Bool, _ ctx: FilterContext) throws -> FilterVerdict
    func onRequestTrailers(_ trailers: inout HTTPFields, _ ctx: FilterContext) throws -> FilterVerdict
    func onResponseHead(_ head: inout HTTPResponse, endStream: Bool, _ ctx: FilterContext) throws -> FilterVerdict
    func onResponseBody(_ chunk: inout ByteBuffer, endStream: Bool, _ ctx: FilterContext) throws -> FilterVerdict
    func onResponseTrailers(_ trailers: inout HTTPFields, _ ctx: FilterContext) throws -> FilterVerdict
    /// Called exactly once per stream, also when it failed.
    func onComplete(_ outcome: StreamOutcome, _ ctx: FilterContext)
}

extension HTTPFilter {
    public func onRequestHead(_ head: inout HTTPRequest, endStream: Bool, _ ctx: FilterContext) throws -> FilterVerdict { .proceed }
    public func onRequestBody(_ chunk: inout ByteBuffer, endStream: Bool, _ ctx: FilterContext) throws -> FilterVerdict { .proceed }
    public func onRequestTrailers(_ trailers: inout HTTPFields, _ ctx: FilterContext) throws -> FilterVerdict { .proceed }
    public func onResponseHead(_ head: inout HTTPResponse, endStream: Bool, _ ctx: FilterContext) throws -> FilterVerdict { .proceed }
    public func onResponseBody(_ chunk: inout ByteBuffer, endStream: Bool, _ ctx: FilterContext) throws -> FilterVerdict { .proceed }
    public func onResponseTrailers(_ trailers: inout HTTPFields, _ ctx: FilterContext) throws -> FilterVerdict { .proceed }
    public func onComplete(_ outcome: StreamOutcome, _ ctx: FilterContext) {}
}

/// Built once from config and shared by all event loops; makes the cheap per-stream filter.
public protocol HTTPFilterFactory: Sendable {
    associatedtype Config: Decodable & Sendable
    /// The YAML key that names this filter.
    static var name: String { get }
    init(config: Config) throws
    func makeFilter(on eventLoop: EventLoop) -> any HTTPFilter
}
