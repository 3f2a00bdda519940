import HTTP1
import HTTPTypes
import NIOCore

/// What the proxy knows about the length of a response body before it starts sending.
public enum ResponseBodyLength: Sendable, Equatable {
    /// No body follows (HEAD, 204, 304). A Content-Length field, if present, is kept as is.
    case none
    case known(Int64)
    /// Streamed; the protocol layer frames it (chunked for HTTP/1.1, DATA frames for HTTP/2).
    case unknown
}

/// The client side of one stream, implemented once per protocol (HTTP/1.1 connection, HTTP/2 stream).
/// The proxy calls it on the connection's event loop only.
public protocol DownstreamResponder: AnyObject {
    func sendResponseHead(_ response: HTTPResponse, bodyLength: ResponseBodyLength)
    /// An upstream HTTP/1 response head forwarded as received, minus its hop-by-hop lines (the responder
    /// skips them while writing). Never called when `Connection` names other fields to drop.
    func sendUpstreamResponseHead(_ head: HTTP1ResponseHead, bodyLength: ResponseBodyLength)
    func sendResponseBody(_ body: ByteBuffer)
    func sendResponseEnd(_ trailers: HTTPFields?)
    func flush()
    var isWritable: Bool { get }
    /// Stop delivering request body bytes until `resumeRequestBody()`: the upstream cannot take them yet.
    func pauseRequestBody()
    func resumeRequestBody()
    /// The response was started but cannot be completed: the client must learn it is truncated
    /// (HTTP/1.1 closes the connection, HTTP/2 resets the stream).
    func abortResponse()
    /// The stream is over. `closeConnection` asks HTTP/1.1 to close after what was written.
    func streamFinished(closeConnection: Bool)
    /// The backend accepted a WebSocket handshake: send its 101 head, then carry bytes both ways with
    /// `upstream` (`upstreamLeftover` first). Returns this connection's end of the tunnel, nil if it cannot.
    func startTunnel(_ head: HTTP1ResponseHead, upstream: TunnelEnd, upstreamLeftover: ByteBuffer) -> TunnelEnd?
}

extension DownstreamResponder {
    /// Only HTTP/1.1 connections switch protocols (HTTP/2 has no `Upgrade`).
    public func startTunnel(_ head: HTTP1ResponseHead, upstream: TunnelEnd, upstreamLeftover: ByteBuffer) -> TunnelEnd? { nil }
}
