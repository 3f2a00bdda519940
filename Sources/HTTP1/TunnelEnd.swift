import NIOCore

/// One side of a byte tunnel: an HTTP/1.1 connection after a 101 (Switching Protocols) answer to an
/// `Upgrade` request (WebSocket), when its bytes are no longer HTTP. The other side writes into it and
/// tells it when it may read again or has gone. Both sides live on the same event loop.
public protocol TunnelEnd: AnyObject {
    /// Bytes from the other side, to send on this side's connection.
    func tunnelWrite(_ bytes: ByteBuffer)
    func tunnelFlush()
    /// Whether this side's connection can take more; when not, the other side stops reading.
    var tunnelIsWritable: Bool { get }
    /// The other side's connection drained: this side may read again.
    func tunnelResume()
    /// The other side closed: close this one once what it sent has gone out.
    func tunnelClose()
}
