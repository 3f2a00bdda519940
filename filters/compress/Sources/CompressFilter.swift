import GatewayFilterAPI
import HTTPTypes
import NIOCore

/// Per stream: remembers which coding the client accepts (brotli or gzip, in the config's order), decides at
/// the response head whether this response is worth compressing, and then compresses each body part as it
/// passes (no buffering).
final class CompressFilter: HTTPFilter {
    private let config: CompressFilterConfig
    private var coding: ContentCoding?
    private var requestIsHEAD = false
    private var encoder: (any ResponseEncoder)?
    private let allocator = ByteBufferAllocator()

    init(config: CompressFilterConfig) {
        self.config = config
    }

    func onRequestHead(_ head: inout HTTPRequest, endStream: Bool, _ ctx: FilterContext) throws -> FilterVerdict {
        requestIsHEAD = head.method == .head
        var acceptance = EncodingAcceptance()
        for var value in head.headerFields[values: .acceptEncoding] {
            value.withUTF8 { acceptance.read(UnsafeRawBufferPointer($0)) }
        }
        coding = acceptance.choose(from: config.encodings)
        return .proceed
    }

    func onRequestHead(_ head: inout HTTPRequest, receivedFields: ReceivedRequestFields, endStream: Bool, _ ctx: FilterContext) throws -> FilterVerdict {
        // One field read, on its bytes: the request's other fields stay as received.
        var acceptance = EncodingAcceptance()
        guard receivedFields.forEachValue(of: .acceptEncoding, { acceptance.read($0) }) else {
            head.headerFields = receivedFields.takeFields()
            return try onRequestHead(&head, endStream: endStream, ctx)
        }
        requestIsHEAD = head.method == .head
        coding = acceptance.choose(from: config.encodings)
        return .proceed
    }

    func onResponseHead(_ head: inout HTTPResponse, endStream: Bool, _ ctx: FilterContext) throws -> FilterVerdict {
        guard let coding, !endStream, !requestIsHEAD, shouldCompress(head) else { return .proceed }
        let encoder: (any ResponseEncoder)? = switch coding {
        case .gzip: GzipEncoder(level: config.level, windowBits: config.windowBits, memoryLevel: config.memoryLevel)
        case .br: BrotliEncoder(quality: config.brotliQuality, windowBits: config.brotliWindowBits)
        }
        guard let encoder else { return .proceed }
        self.encoder = encoder
        var fields = head.headerFields
        fields[.contentEncoding] = coding.rawValue
        // The length is the compressed one, unknown until the end: HTTP/1.1 sends it chunked.
        fields[.contentLength] = nil
        fields[.acceptRanges] = nil
        // Caches must keep the two forms apart, and the compressed one is not byte-identical (RFC 9110 §8.8.1).
        let vary = fields[values: .vary]
        if !vary.contains(where: { $0.split(separator: ",").contains { $0.trimmingASCIISpaces().lowercased() == "accept-encoding" || $0.trimmingASCIISpaces() == "*" } }) {
            fields.append(HTTPField(name: .vary, value: "Accept-Encoding"))
        }
        if let etag = fields[.eTag], etag.hasPrefix("\"") { fields[.eTag] = "W/" + etag }
        head.headerFields = fields
        return .proceed
    }

    private func shouldCompress(_ head: HTTPResponse) -> Bool {
        let code = head.status.code
        guard code >= 200, code != 204, code != 206, code != 304 else { return false }
        let fields = head.headerFields
        if let encoding = fields[.contentEncoding], encoding.lowercased() != "identity" { return false }
        guard let contentType = fields[.contentType], config.compresses(contentType: contentType) else { return false }
        if let length = fields[.contentLength].flatMap(Int64.init), length < config.minLength { return false }
        if let cacheControl = fields[.cacheControl], cacheControl.lowercased().contains("no-transform") { return false }
        if fields[.contentRange] != nil { return false }
        return true
    }

    func onResponseBody(_ chunk: inout ByteBuffer, endStream: Bool, _ ctx: FilterContext) throws -> FilterVerdict {
        guard let encoder else { return .proceed }
        guard let compressed = encoder.encode(chunk, finish: endStream, allocator: allocator) else {
            // The head has gone out naming the coding: a body that is not in it cannot follow.
            throw CompressError.encoderFailed
        }
        chunk = compressed
        if endStream { self.encoder = nil }
        return .proceed
    }

    func onComplete(_ outcome: StreamOutcome, _ ctx: FilterContext) {
        encoder = nil
    }
}

enum CompressError: Error, CustomStringConvertible {
    case encoderFailed
    var description: String { "zlib or brotli could not compress the response body" }
}
