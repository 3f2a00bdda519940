import NIOCore

/// What a filter hook tells the chain to do next.
///
/// ```swift
/// func onRequestHead(_ head: inout HTTPRequest, endStream: Bool, _ ctx: FilterContext) throws -> FilterVerdict {
///     guard head.headerFields[.authorization] != nil else { return .respond(.text(.unauthorized, "token required")) }
///     return .proceed
/// }
/// ```
public enum FilterVerdict: Sendable {
    /// Go on down the chain.
    case proceed
    /// Answer now; the request never reaches an upstream (or, from a response hook, the upstream's response is
    /// dropped). The reply passes the response hooks of the filters that ran before this one.
    case respond(FilterLocalReply)
    /// Wait for asynchronous work (a key fetch, Redis, a Lua yield, a tarpit timer), then go on with the
    /// future's verdict. Make the future on `ctx.eventLoop`: the chain resumes there, and a future of another
    /// loop costs a hop. A failed future counts as a thrown error. The stream may end while it waits (client
    /// gone, timeout): the verdict is then ignored; `onComplete` has already run.
    case suspend(EventLoopFuture<FilterVerdict>)
    /// From `onRequestHead` only: collect the whole request body (bounded by the route's `max_body_bytes`,
    /// else 1 MiB; 413 beyond) and deliver it as one chunk with `endStream` to the body hooks, before anything
    /// is sent upstream. The filter must declare `.requestBody` in its phases. From other hooks it means `.proceed`.
    case bufferBody
}
