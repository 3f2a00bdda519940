import HTTPTypes
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
    /// The request's W3C trace id (32 lower-case hex digits): continued from its `traceparent`, else
    /// generated; the same id the access-log line and the spans carry. For log lines of a filter's own.
    var traceID: String { get }
    /// The listener's name from the config.
    var listenerName: String { get }
    /// The cluster the request will go to; nil until the route is chosen (after the listener's request-head hooks).
    var clusterName: String? { get }
    /// Per-request typed values shared by the filters of this stream; some can be printed in the access log.
    var metadata: FilterMetadata { get set }
    /// Sends the request to another cluster than the route's. Works until the upstream is picked (in
    /// request-head hooks, or body hooks of a buffered body); returns false for an unknown name or when too late.
    func setCluster(_ name: String) -> Bool
    /// Sets the request's hash key: it replaces the cluster's `hash_on` for `ring_hash` and `maglev`, and
    /// the header of `sticky: { header: ... }`, so the same key reaches the same endpoint on every
    /// instance. Works until the upstream is picked; false when too late.
    ///
    /// ```swift
    /// if let tenant = head.headerFields[.init("x-tenant")!] { ctx.setHashKey("tenant:\(tenant)") }
    /// ```
    @discardableResult
    func setHashKey(_ key: String) -> Bool
    /// The cluster a valid sticky-session cookie in `request` (`clusters[].sticky` cookie or app_cookie) pins
    /// it to, or nil. A weighted split should send the request there when that cluster is one of its
    /// targets, so a session keeps its endpoint across the split (`route_by` does). Pass the hook's `head`.
    func stickyCluster(_ request: HTTPRequest) -> String?
    /// Edits the request head outside the request-head hook's `head` parameter: after the hook suspended (the
    /// edit is what the chain goes on with), or from the body hook of a buffered body. Works until the request
    /// has gone upstream; returns false (and does not call `edit`) when it is too late.
    func modifyRequestHead(_ edit: (inout HTTPRequest) -> Void) -> Bool
    /// Edits the response head while a response-head hook is suspended, before the head is sent; false when too late.
    func modifyResponseHead(_ edit: (inout HTTPResponse) -> Void) -> Bool
    /// Sends a request of the filter's own to a configured cluster through this loop's upstream pool (the
    /// cluster's balancer, pooled keep-alive connections) and collects the response, bounded by
    /// `FilterHTTPResponse.maxBodyBytes`. The future belongs to `eventLoop`; it fails with `FilterHTTPCallError`.
    /// The call carries the stream's `X-Request-Id` and a `traceparent` (the called service continues the
    /// request's trace); when the request is sampled it is a CLIENT span of its own, a child of the request's
    /// server span. It is independent of the stream: it completes even if the client goes away.
    ///
    /// ```swift
    /// let check = HTTPRequest(method: .get, scheme: "http", authority: "auth", path: "/check")
    /// return .suspend(ctx.httpCall(cluster: "auth", request: check, body: nil, timeout: .seconds(1)).map { reply in
    ///     reply.status == .ok ? .proceed : .respond(.text(.forbidden, "denied"))
    /// })
    /// ```
    func httpCall(cluster: String, request: HTTPRequest, body: ByteBuffer?, timeout: TimeAmount) -> EventLoopFuture<FilterHTTPResponse>
    /// `httpCall` made under `parent`, a span the filter started (`startSpan`) and has not ended: the call's
    /// CLIENT span is that span's child rather than the server span's. A span of another request's trace
    /// is ignored.
    func httpCall(cluster: String, request: HTTPRequest, body: ByteBuffer?, timeout: TimeAmount, parent: FilterSpan?) -> EventLoopFuture<FilterHTTPResponse>
    /// The access log shows this query parameter's value as `REDACTED` (a credential in the URL).
    func redactLoggedQueryParameter(_ name: String)
    /// Starts a span for the filter's own asynchronous work (a Redis call, a key fetch), a child of the
    /// request's server span; see `FilterSpan`. Inert (and free) when the request is not sampled.
    func startSpan(name: String, kind: FilterSpan.Kind) -> FilterSpan
    /// `startSpan` as a child of `parent` (a span of this request the filter started); nil or a span of
    /// another trace: a child of the server span.
    func startSpan(name: String, kind: FilterSpan.Kind, parent: FilterSpan?) -> FilterSpan
    /// 64 random bits from the event loop's fast generator: for sampling and splits on the request path
    /// (`UInt64.random` asks the kernel, one system call each). Not for secrets.
    func randomWord() -> UInt64
}

extension FilterContext {
    /// True for about `percent` (0–100, fractions allowed) of the calls: a share of requests to sample,
    /// mirror or fail. Draws from `randomWord()` only when the answer is not fixed.
    public func chance(percent: Double) -> Bool {
        if percent >= 100 { return true }
        if percent <= 0 { return false }
        return FilterChance.happens(percent, random: randomWord())
    }
}

/// The arithmetic of `FilterContext.chance(percent:)`, separate so that it can be tested with chosen words.
public enum FilterChance {
    /// Whether a `percent` (0–100) chance happens for the random word `random` (53 of its bits, as a fraction).
    public static func happens(_ percent: Double, random: UInt64) -> Bool {
        Double(random >> 11) / Double(1 << 53) * 100 < percent
    }
}
