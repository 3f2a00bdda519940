import CZlib
import NIOCore

/// A gzip stream (RFC 1952) made piece by piece with the system zlib. Each piece is flushed
/// (`Z_SYNC_FLUSH`): what went in can be decoded by the client at once, so a streamed response (server-sent
/// events, long polls) is not held back; the last call ends the stream.
///
/// zlib keeps a pointer to its `z_stream` and checks it, so the stream lives at a fixed heap address.
final class GzipEncoder {
    private let stream: UnsafeMutablePointer<z_stream>
    private var open = false

    /// `level` 1...9, `windowBits` 9...15, `memoryLevel` 1...9 (zlib's defaults: 6, 15, 8; about
    /// `(1 << (windowBits + 2)) + (1 << (memoryLevel + 9))` bytes of state while the response lasts).
    init?(level: Int, windowBits: Int, memoryLevel: Int) {
        stream = .allocate(capacity: 1)
        stream.initialize(to: z_stream())
        // +16: a gzip header and trailer rather than a zlib one.
        let status = deflateInit2_(stream, Int32(level), Z_DEFLATED, Int32(windowBits + 16), Int32(memoryLevel),
                                   Z_DEFAULT_STRATEGY, zlibVersion(), Int32(MemoryLayout<z_stream>.size))
        guard status == Z_OK else {
            stream.deallocate()
            return nil
        }
        open = true
    }

    deinit {
        if open { deflateEnd(stream) }
        stream.deallocate()
    }

    /// Compresses `input`; with `finish`, also ends the gzip stream. Nil if zlib failed.
    func encode(_ input: ByteBuffer, finish: Bool, allocator: ByteBufferAllocator) -> ByteBuffer? {
        guard open else { return nil }
        var output = allocator.buffer(capacity: Int(deflateBound(stream, uLong(input.readableBytes))) + 16)
        let flush = finish ? Z_FINISH : Z_SYNC_FLUSH
        let ok = input.withUnsafeReadableBytes { (source: UnsafeRawBufferPointer) -> Bool in
            // zlib does not write through `next_in`; the cast only satisfies its non-const C signature.
            stream.pointee.next_in = UnsafeMutablePointer(mutating: source.bindMemory(to: Bytef.self).baseAddress)
            stream.pointee.avail_in = uInt(source.count)
            while true {
                if output.writableBytes < 64 { output.reserveCapacity(minimumWritableBytes: max(4096, output.capacity)) }
                var failed = false
                output.writeWithUnsafeMutableBytes(minimumWritableBytes: 0) { target -> Int in
                    stream.pointee.next_out = target.bindMemory(to: Bytef.self).baseAddress
                    stream.pointee.avail_out = uInt(target.count)
                    let status = deflate(stream, flush)
                    failed = !(status == Z_OK || status == Z_STREAM_END || status == Z_BUF_ERROR)
                    return target.count - Int(stream.pointee.avail_out)
                }
                if failed { return false }
                // Done when zlib took all the input and had room to spare for its flush.
                if stream.pointee.avail_in == 0 && stream.pointee.avail_out > 0 { return true }
            }
        }
        stream.pointee.next_in = nil
        stream.pointee.next_out = nil
        if finish {
            deflateEnd(stream)
            open = false
        }
        return ok ? output : nil
    }
}
