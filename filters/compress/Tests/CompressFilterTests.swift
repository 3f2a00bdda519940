@testable import CompressFilter
import CZlib
import NIOCore
import Testing

@Suite("compress filter: negotiation and the gzip encoder")
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
        var acceptance = GzipAcceptance()
        for line in ["deflate, *", "gzip;q=0"] { var text = line; text.withUTF8 { acceptance.read(UnsafeRawBufferPointer($0)) } }
        #expect(!acceptance.acceptsGzip)
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
}
