@testable import CompressFilter
import CBrotli
import CZlib
import NIOCore
import Testing

@Suite("compress filter: negotiation and the gzip and brotli encoders")
struct CompressFilterTests {
    @Test("Accept-Encoding: gzip (or *) with a q-value above 0; an explicit gzip;q=0 wins over *")
    func acceptEncoding() {
        #expect(acceptsGzip("gzip"))
        #expect(acceptsGzip("br, GZIP;q=0.5"))
        #expect(acceptsGzip("deflate, *"))
        #expect(acceptsGzip("x-gzip"))
        #expect(!acceptsGzip("identity"))
        #expect(!acceptsGzip("gzip;q=0"))
        #expect(!acceptsGzip("*, gzip;q=0.0"))
        #expect(!acceptsGzip("*;q=0"))
        #expect(!acceptsGzip(""))
        #expect(acceptsGzip("gzip ; Q=0.001"))
        // Several Accept-Encoding lines read as one list.
        var lines = EncodingAcceptance()
        for line in ["deflate, *", "gzip;q=0"] { var text = line; text.withUTF8 { lines.read(UnsafeRawBufferPointer($0)) } }
        #expect(!lines.accepts(.gzip) && lines.accepts(.br))
    }

    @Test("content types: media type without parameters, any case; type/* entries")
    func contentTypes() {
        var config = CompressFilterConfig()
        #expect(config.compresses(contentType: "text/html; charset=utf-8"))
        #expect(config.compresses(contentType: "Application/JSON"))
        #expect(!config.compresses(contentType: "image/png"))
        #expect(!config.compresses(contentType: "application/octet-stream"))
        config.contentTypes = ["text/*"]
        #expect(config.compresses(contentType: "text/x-anything"))
        #expect(!config.compresses(contentType: "application/json"))
    }

    @Test("pieces compressed one by one decode, each as soon as it is flushed, to the input; the stream ends cleanly")
    func roundTrip() throws {
        let encoder = try #require(GzipEncoder(level: 5, windowBits: 15, memoryLevel: 8))
        let pieces = ["hello ", String(repeating: "gateway ", count: 5000), "", "bye"]
        var compressed = ByteBuffer()
        var decodedSoFar = ""
        for (index, piece) in pieces.enumerated() {
            let out = try #require(encoder.encode(ByteBuffer(string: piece), finish: index == pieces.count - 1, allocator: ByteBufferAllocator()))
            compressed.writeImmutableBuffer(out)
            // A sync flush makes everything so far decodable.
            decodedSoFar = try #require(Self.gunzip(compressed, complete: index == pieces.count - 1))
            #expect(decodedSoFar == pieces[...index].joined())
        }
        #expect(compressed.readableBytes < 200, "\(compressed.readableBytes) bytes")
        #expect(decodedSoFar == pieces.joined())
    }

    /// zlib's inflate, in gzip mode; `complete` demands the stream's end (trailer checked).
    static func gunzip(_ data: ByteBuffer, complete: Bool) -> String? {
        var stream = z_stream()
        guard inflateInit2_(&stream, 15 + 16, zlibVersion(), Int32(MemoryLayout<z_stream>.size)) == Z_OK else { return nil }
        defer { inflateEnd(&stream) }
        var input = Array(data.readableBytesView)
        var output = [UInt8](repeating: 0, count: 1 << 20)
        let status = input.withUnsafeMutableBufferPointer { source in
            output.withUnsafeMutableBufferPointer { target in
                stream.next_in = source.baseAddress
                stream.avail_in = uInt(source.count)
                stream.next_out = target.baseAddress
                stream.avail_out = uInt(target.count)
                return inflate(&stream, Z_SYNC_FLUSH)
            }
        }
        if complete ? status != Z_STREAM_END : (status != Z_OK && status != Z_BUF_ERROR) { return nil }
        return String(decoding: output[0..<(output.count - Int(stream.avail_out))], as: UTF8.self)
    }

    @Test("br and gzip: the config's order picks among the accepted codings; q=0 and absent codings are skipped")
    func choice() {
        let preferBrotli: [ContentCoding] = [.br, .gzip]
        #expect(acceptance("gzip, deflate, br").choose(from: preferBrotli) == .br)
        #expect(acceptance("gzip, br;q=0").choose(from: preferBrotli) == .gzip)
        #expect(acceptance("BR").choose(from: preferBrotli) == .br)
        #expect(acceptance("*").choose(from: preferBrotli) == .br)
        #expect(acceptance("*, br;q=0").choose(from: preferBrotli) == .gzip)
        #expect(acceptance("gzip, br").choose(from: [.gzip]) == .gzip)
        #expect(acceptance("br").choose(from: [.gzip]) == nil)
        #expect(acceptance("deflate").choose(from: preferBrotli) == nil)
    }

    @Test("brotli: pieces compressed one by one decode, each as soon as it is flushed, to the input; the stream ends cleanly")
    func brotliRoundTrip() throws {
        let encoder = try #require(BrotliEncoder(quality: 4, windowBits: 18))
        let pieces = ["hello ", String(repeating: "gateway ", count: 5000), "", "bye"]
        var compressed = ByteBuffer()
        var decodedSoFar = ""
        for (index, piece) in pieces.enumerated() {
            let last = index == pieces.count - 1
            let out = try #require(encoder.encode(ByteBuffer(string: piece), finish: last, allocator: ByteBufferAllocator()))
            compressed.writeImmutableBuffer(out)
            decodedSoFar = try #require(Self.unbrotli(compressed, complete: last))
            #expect(decodedSoFar == pieces[...index].joined())
        }
        #expect(compressed.readableBytes < 200, "\(compressed.readableBytes) bytes")
        #expect(encoder.encode(ByteBuffer(string: "more"), finish: false, allocator: ByteBufferAllocator()) == nil, "the stream has ended")
    }

    /// libbrotlidec over everything so far; `complete` demands the stream's end.
    static func unbrotli(_ data: ByteBuffer, complete: Bool) -> String? {
        guard let decoder = BrotliDecoderCreateInstance(nil, nil, nil) else { return nil }
        defer { BrotliDecoderDestroyInstance(decoder) }
        let input = Array(data.readableBytesView)
        var output = [UInt8](repeating: 0, count: 1 << 20)
        var produced = 0
        let result = input.withUnsafeBufferPointer { source in
            output.withUnsafeMutableBufferPointer { target in
                var availableIn = source.count
                var nextIn = source.baseAddress
                var availableOut = target.count
                var nextOut = target.baseAddress
                let result = BrotliDecoderDecompressStream(decoder, &availableIn, &nextIn, &availableOut, &nextOut, nil)
                produced = target.count - availableOut
                return result
            }
        }
        if complete ? result != BROTLI_DECODER_RESULT_SUCCESS : result != BROTLI_DECODER_RESULT_NEEDS_MORE_INPUT { return nil }
        return String(decoding: output[0..<produced], as: UTF8.self)
    }
}

/// `EncodingAcceptance` of one `Accept-Encoding` value.
private func acceptance(_ acceptEncoding: String) -> EncodingAcceptance {
    var text = acceptEncoding
    var acceptance = EncodingAcceptance()
    text.withUTF8 { acceptance.read(UnsafeRawBufferPointer($0)) }
    return acceptance
}

private func acceptsGzip(_ acceptEncoding: String) -> Bool { acceptance(acceptEncoding).accepts(.gzip) }
