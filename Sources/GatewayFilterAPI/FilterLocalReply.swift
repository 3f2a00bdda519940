import HTTPTypes
import NIOCore

/// A response produced by a filter instead of the upstream.
///
/// ```swift
/// return .respond(.text(.forbidden, "address not allowed"))
/// return .respond(FilterLocalReply(status: .noContent, headerFields: [.accessControlAllowOrigin: "*"]))
/// var slow = FilterLocalReply.text(.tooManyRequests, "slow down")
/// slow.drip = .init(bytes: 1, interval: .milliseconds(500))        // the body trickles out
/// return .respond(slow)
/// ```
public struct FilterLocalReply: Sendable {
    public var status: HTTPResponse.Status
    public var headerFields: HTTPFields
    public var body: ByteBuffer?
    /// Send the body a few bytes at a time instead of at once (a tarpit): the head goes out as usual,
    /// with the body's full `Content-Length`, then `bytes` bytes every `interval`, each flushed, on a
    /// timer of the stream's event loop. The stream stays open meanwhile, so the route's request timeout
    /// bounds the whole; if the client leaves, the dripping stops. nil (the default): all at once.
    public var drip: Drip?

    public init(status: HTTPResponse.Status, headerFields: HTTPFields = [:], body: ByteBuffer? = nil, drip: Drip? = nil) {
        self.status = status
        self.headerFields = headerFields
        self.body = body
        self.drip = drip
    }

    /// How a dripped body trickles out: `bytes` (at least 1) every `interval`.
    public struct Drip: Sendable, Equatable {
        public var bytes: Int
        public var interval: TimeAmount

        public init(bytes: Int, interval: TimeAmount) {
            self.bytes = max(1, bytes)
            self.interval = interval
        }
    }

    /// A plain-text reply in the gateway's own style: `403 Forbidden: <message>`.
    public static func text(_ status: HTTPResponse.Status, _ message: String) -> FilterLocalReply {
        FilterLocalReply(status: status, headerFields: [.contentType: "text/plain; charset=utf-8"],
                         body: ByteBuffer(string: "\(status.code) \(status.reasonPhrase): \(message)\n"))
    }
}
