/// `compress:` keys; see README.md.
public struct CompressFilterConfig: Sendable, Equatable {
    /// zlib's compression level, 1 (fastest) to 9 (smallest).
    public var level = 5
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

/// Whether an `Accept-Encoding` value (RFC 9110 §12.5.3) accepts gzip: listed (or `*`) with a q-value above 0.
/// An explicit `gzip;q=0` refuses it even when `*` is accepted.
func acceptsGzip(_ acceptEncoding: String) -> Bool {
    var gzip: Bool?
    var any: Bool?
    for item in acceptEncoding.split(separator: ",") {
        let parts = item.split(separator: ";")
        guard let coding = parts.first?.trimmingASCIISpaces().lowercased(), !coding.isEmpty else { continue }
        var accepted = true
        for parameter in parts.dropFirst() {
            let pair = parameter.split(separator: "=", maxSplits: 1).map { $0.trimmingASCIISpaces().lowercased() }
            if pair.count == 2, pair[0] == "q", let q = Double(pair[1]) { accepted = q > 0 }
        }
        if coding == "gzip" || coding == "x-gzip" { gzip = accepted } else if coding == "*" { any = accepted }
    }
    return gzip ?? any ?? false
}

extension Substring {
    func trimmingASCIISpaces() -> Substring {
        var text = self
        while let first = text.first, first == " " || first == "\t" { text = text.dropFirst() }
        while let last = text.last, last == " " || last == "\t" { text = text.dropLast() }
        return text
    }
}
