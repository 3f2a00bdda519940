import NIOCore

/// A content coding made piece by piece: each piece is flushed so the client can decode it at once, and the
/// last call ends the stream. Nil from `encode` means the library failed.
protocol ResponseEncoder: AnyObject {
    func encode(_ input: ByteBuffer, finish: Bool, allocator: ByteBufferAllocator) -> ByteBuffer?
}

extension GzipEncoder: ResponseEncoder {}
extension BrotliEncoder: ResponseEncoder {}
