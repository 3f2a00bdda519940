import NIOCore

/// What a filter may ask of the gateway about the current stream. Filters never see channels, sockets
/// or upstream connections. Use it only inside a hook (or a future's callback on `eventLoop`).
///
/// ```swift
/// func onRequestHead(_ head: inout HTTPRequest, endStream: Bool, _ ctx: FilterContext) throws -> FilterVerdict {
///     if head.headerFields[.init("x-beta")!] == "1" { _ = ctx.setCluster("api-beta") }
///     ctx.metadata[Self.tier] = "beta"
///     return .proceed
/// }
/// ```
public protocol FilterContext: AnyObject {
    /// The loop that owns the stream; every hook runs on it.
    var eventLoop: EventLoop { get }
    /// The client's address after PROXY protocol decoding, as `ip:port` or `[ipv6]:port`.
    var downstreamAddress: String { get }
    /// The client connection's TLS details (SNI, verified client certificate); nil on plaintext listeners.
    var tls: DownstreamTLS? { get }
    /// The request id (received `X-Request-Id` if acceptable, else generated).
    var requestID: String { get }
    /// The listener's name from the config.
    var listenerName: String { get }
    /// The cluster the request will go to; nil until the route is chosen (after the listener's request-head hooks).
    var clusterName: String? { get }
    /// Per-request typed values shared by the filters of this stream; some can be printed in the access log.
    var metadata: FilterMetadata { get set }
    /// Sends the request to another cluster than the route's. Works until the upstream is picked (in
    /// request-head hooks, or body hooks of a buffered body); returns false for an unknown name or when too late.
    func setCluster(_ name: String) -> Bool
}
