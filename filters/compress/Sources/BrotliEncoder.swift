import CBrotli
import NIOCore

/// A brotli stream (RFC 7932) made piece by piece with the system libbrotlienc. Each piece is flushed
/// (`BROTLI_OPERATION_FLUSH`) so that a streamed response is not held back; the last call ends the stream.
final class BrotliEncoder {
    private let state: OpaquePointer
    private var open = true

    /// `quality` 0...11 and `windowBits` 10...24 (the state held while the response lasts grows with both:
    /// about 2^windowBits bytes of window plus the quality's hash tables).
    init?(quality: Int, windowBits: Int) {
        guard let state = BrotliEncoderCreateInstance(nil, nil, nil) else { return nil }
        self.state = state
        guard BrotliEncoderSetParameter(state, BROTLI_PARAM_QUALITY, UInt32(quality)) == BROTLI_TRUE,
              BrotliEncoderSetParameter(state, BROTLI_PARAM_LGWIN, UInt32(windowBits)) == BROTLI_TRUE else {
            BrotliEncoderDestroyInstance(state)
            return nil
        }
    }

    deinit { BrotliEncoderDestroyInstance(state) }

    /// Compresses `input`; with `finish`, also ends the stream. Nil if brotli failed.
    func encode(_ input: ByteBuffer, finish: Bool, allocator: ByteBufferAllocator) -> ByteBuffer? {
        guard open else { return nil }
        var output = allocator.buffer(capacity: Int(BrotliEncoderMaxCompressedSize(input.readableBytes)) + 16)
        let operation = finish ? BROTLI_OPERATION_FINISH : BROTLI_OPERATION_FLUSH
        let ok = input.withUnsafeReadableBytes { (source: UnsafeRawBufferPointer) -> Bool in
            var availableIn = source.count
            var nextIn = source.bindMemory(to: UInt8.self).baseAddress
            while true {
                if output.writableBytes < 64 { output.reserveCapacity(minimumWritableBytes: max(4096, output.capacity)) }
                var failed = false
                output.writeWithUnsafeMutableBytes(minimumWritableBytes: 0) { target -> Int in
                    var availableOut = target.count
                    var nextOut = target.bindMemory(to: UInt8.self).baseAddress
                    failed = BrotliEncoderCompressStream(state, operation, &availableIn, &nextIn, &availableOut, &nextOut, nil) != BROTLI_TRUE
                    return target.count - availableOut
                }
                if failed { return false }
                // Done when every byte went in and the encoder holds no more output for this operation.
                if availableIn == 0 && BrotliEncoderHasMoreOutput(state) == BROTLI_FALSE {
                    return !finish || BrotliEncoderIsFinished(state) == BROTLI_TRUE
                }
            }
        }
        if finish { open = false }
        return ok ? output : nil
    }
}
