import HTTP1
import HTTPTypes
import NIOCore

/// Receives one upstream exchange's response. Every call happens on the connection's event loop.
/// Exactly one of `upstreamResponseEnd` or `upstreamFailed` ends the exchange.
public protocol UpstreamResponseDelegate: AnyObject {
    func upstreamResponseHead(_ head: HTTP1ResponseHead)
    func upstreamResponseBody(_ body: ByteBuffer)
    func upstreamResponseEnd(_ trailers: HTTPFields?)
    /// A batch of reads is done: a good moment to flush downstream.
    func upstreamReadComplete()
    func upstreamFailed(_ error: UpstreamError)
    /// The upstream socket's send buffer filled up (false) or drained (true): pause or resume the request body.
    func upstreamWritabilityChanged(_ isWritable: Bool)
    /// The upstream answered 101 to a request that asked to switch protocols (WebSocket): the exchange is
    /// over and the connection becomes one end of a tunnel. Returns the other end (the client's
    /// connection), which gets `leftover` (bytes that followed the head); nil closes the upstream.
    func upstreamSwitchedProtocols(_ head: HTTP1ResponseHead, upstream: TunnelEnd, leftover: ByteBuffer) -> TunnelEnd?
}

extension UpstreamResponseDelegate {
    /// Only the proxy asks to switch protocols.
    public func upstreamSwitchedProtocols(_ head: HTTP1ResponseHead, upstream: TunnelEnd, leftover: ByteBuffer) -> TunnelEnd? { nil }
}
