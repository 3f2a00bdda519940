/// A content coding the filter produces (`Content-Encoding` value).
public enum ContentCoding: String, Sendable, Equatable, CaseIterable {
    case br
    case gzip
}

/// `compress:` keys; see README.md.
public struct CompressFilterConfig: Sendable, Equatable {
    /// The codings offered, in the order preferred: the first the client accepts is used. gzip alone by
    /// default: brotli holds ~1.1 MiB per compressing response at its defaults, zlib ~256 KiB (see README.md).
    public var encodings: [ContentCoding] = [.gzip]
    /// zlib's compression level, 1 (fastest) to 9 (smallest).
    public var level = 5
    /// brotli's quality, 0 (fastest) to 11 (smallest). Below 5 it compressed no better than gzip's level 5
    /// on flushed parts of text (README.md).
    public var brotliQuality = 5
    /// brotli's window, 10...24 bits: what a compressing response holds grows with it.
    public var brotliWindowBits = 16
    /// Responses whose Content-Length says they are smaller go as they are.
    public var minLength: Int64 = 1024
    /// Media types compressed (lower case); `type/*` matches a whole type.
    public var contentTypes: [String] = CompressFilterConfig.defaultContentTypes
    /// zlib's window (9...15) and memory level (1...9): less memory per compressing response, less compression.
    public var windowBits = 15
    public var memoryLevel = 8

    /// Text formats that compress well; images, video, archives and fonts other than SVG are compressed already.
    public static let defaultContentTypes = [
        "text/html", "text/plain", "text/css", "text/javascript", "text/xml", "text/csv", "text/markdown",
        "application/javascript", "application/json", "application/xml", "application/xhtml+xml", "application/rss+xml",
        "application/atom+xml", "application/ld+json", "application/manifest+json", "application/problem+json",
        "application/wasm", "image/svg+xml",
    ]

    public init() {}

    /// Whether a `Content-Type` value (parameters allowed) is in the list.
    func compresses(contentType value: String) -> Bool {
        let mediaType = value.split(separator: ";", maxSplits: 1).first.map { $0.trimmingASCIISpaces().lowercased() } ?? ""
        guard !mediaType.isEmpty else { return false }
        for entry in contentTypes {
            if entry == mediaType { return true }
            if entry.hasSuffix("/*"), mediaType.hasPrefix(entry.dropLast()) { return true }
        }
        return false
    }
}

/// What the `Accept-Encoding` values (RFC 9110 §12.5.3) of a request say about the codings the filter makes,
/// read on the bytes (one or more field lines; no String per request): a coding is accepted when listed (or
/// `*`) with a q-value above 0. An explicit `gzip;q=0` refuses it even when `*` is accepted.
struct EncodingAcceptance {
    private var gzip: Bool?
    private var br: Bool?
    private var any: Bool?

    func accepts(_ coding: ContentCoding) -> Bool {
        switch coding {
        case .gzip: gzip ?? any ?? false
        case .br: br ?? any ?? false
        }
    }

    /// The first of `preferred` that is accepted. (The server's order decides, not the client's q-values
    /// among accepted codings, as nginx and Envoy do.)
    func choose(from preferred: [ContentCoding]) -> ContentCoding? {
        preferred.first { accepts($0) }
    }

    mutating func read(_ value: UnsafeRawBufferPointer) {
        var start = 0
        while start < value.count {
            var end = start
            while end < value.count && value[end] != UInt8(ascii: ",") { end += 1 }
            readItem(UnsafeRawBufferPointer(rebasing: value[start..<end]))
            start = end + 1
        }
    }

    /// `coding [; q=value]`.
    private mutating func readItem(_ item: UnsafeRawBufferPointer) {
        var parts = item.split(separator: UInt8(ascii: ";"), omittingEmptySubsequences: false).makeIterator()
        guard let codingPart = parts.next() else { return }
        let coding = Self.trimmed(codingPart)
        guard !coding.isEmpty else { return }
        var accepted = true
        while let parameter = parts.next() {
            let text = Self.trimmed(parameter)
            guard text.count > 2, text[text.startIndex] | 0x20 == UInt8(ascii: "q"), text[text.startIndex + 1] == UInt8(ascii: "=") else { continue }
            if let q = Double(String(decoding: text.dropFirst(2), as: UTF8.self)) { accepted = q > 0 }
        }
        if Self.equalsIgnoringCase(coding, "gzip") || Self.equalsIgnoringCase(coding, "x-gzip") {
            gzip = accepted
        } else if Self.equalsIgnoringCase(coding, "br") {
            br = accepted
        } else if coding.count == 1 && coding[coding.startIndex] == UInt8(ascii: "*") {
            any = accepted
        }
    }

    private static func trimmed(_ bytes: Slice<UnsafeRawBufferPointer>) -> Slice<UnsafeRawBufferPointer> {
        var text = bytes
        while let first = text.first, first == 0x20 || first == 0x09 { text = text.dropFirst() }
        while let last = text.last, last == 0x20 || last == 0x09 { text = text.dropLast() }
        return text
    }

    private static func equalsIgnoringCase(_ bytes: Slice<UnsafeRawBufferPointer>, _ lowercase: StaticString) -> Bool {
        guard bytes.count == lowercase.utf8CodeUnitCount else { return false }
        var index = 0
        for byte in bytes {
            let lower = byte >= 65 && byte <= 90 ? byte + 32 : byte
            if lower != lowercase.utf8Start[index] { return false }
            index += 1
        }
        return true
    }
}

extension Substring {
    func trimmingASCIISpaces() -> Substring {
        var text = self
        while let first = text.first, first == " " || first == "\t" { text = text.dropFirst() }
        while let last = text.last, last == " " || last == "\t" { text = text.dropLast() }
        return text
    }
}
