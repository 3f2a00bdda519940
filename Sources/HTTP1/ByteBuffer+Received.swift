import NIOCore

extension Optional where Wrapped == ByteBuffer {
    /// Appends newly read bytes to what is still unparsed. With nothing left over, the new buffer is
    /// taken as is; otherwise the pending buffer is released from `self` first, so appending to it does
    /// not copy it.
    public mutating func appendReceived(_ bytes: ByteBuffer) {
        switch self {
        case .some(var pending) where pending.readableBytes > 0:
            self = nil
            var bytes = bytes
            pending.writeBuffer(&bytes)
            self = pending
        default:
            self = bytes
        }
    }
}
