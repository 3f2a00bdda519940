import HTTP1
import HTTPTypes
import NIOCore

/// One request/response exchange on some upstream connection: an HTTP/1.1 connection (which is its own
/// exchange, one at a time) or one stream of a multiplexed HTTP/2 connection. The pool hands them out;
/// the proxy drives them without knowing the protocol. Every call happens on the pool's event loop.
///
/// A class-bound protocol: the existential is a reference plus a witness table, so handing an HTTP/1
/// connection out through it allocates nothing.
public protocol UpstreamExchange: AnyObject {
    var endpoint: Endpoint { get }
    /// The request body may be sent now; false pauses it until `upstreamWritabilityChanged(true)`.
    var isWritable: Bool { get }
    /// A reset before any response byte may be retried once on a fresh connection, whatever the policy:
    /// an HTTP/1 keep-alive connection the server had just closed (a race, RFC 9110 §9.2.2), or an
    /// HTTP/2 stream the server refused unprocessed (REFUSED_STREAM, or above a GOAWAY's last stream id).
    var resetIsSafeToRetry: Bool { get }

    /// Starts the exchange. `framing` says how the request body is delimited (HTTP/1 writes it as such;
    /// HTTP/2 sends DATA frames and keeps a Content-Length only when one is known).
    func sendRequestHead(_ request: HTTPRequest, edits: ForwardingEdits, framing: HTTP1BodyFraming, delegate: UpstreamResponseDelegate)
    /// The same, for a request whose fields were kept as received: `request.headerFields` is empty and
    /// `rawFields` holds them. HTTP/1 copies the lines as bytes; others build the fields first.
    func sendRequestHead(_ request: HTTPRequest, rawFields: HTTP1RawRequestFields, edits: ForwardingEdits, framing: HTTP1BodyFraming,
                         delegate: UpstreamResponseDelegate)
    func sendBody(_ body: ByteBuffer)
    func sendEnd(trailers: HTTPFields?)
    func flush()
    /// The downstream cannot take more of the response yet.
    func pauseReading()
    func resumeReading()
    /// Ends the exchange without reuse: the request could not be completed or is no longer wanted.
    func abort()
    /// The exchange was acquired but never started (its stream ended while it was set up): give it back.
    func returnUnused()
}

extension UpstreamExchange {
    public func sendRequestHead(_ request: HTTPRequest, rawFields: HTTP1RawRequestFields, edits: ForwardingEdits, framing: HTTP1BodyFraming,
                                delegate: UpstreamResponseDelegate) {
        var request = request
        request.headerFields = rawFields.materialize()
        sendRequestHead(request, edits: edits, framing: framing, delegate: delegate)
    }
}
