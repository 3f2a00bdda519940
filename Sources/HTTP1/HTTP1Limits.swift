/// Bounds on what the parser accepts before it refuses a message. Every buffer the parser keeps is
/// bounded by one of these.
public struct HTTP1Limits: Sendable, Equatable {
    /// Bytes of a whole head: start line, fields and the empty line (431 beyond it).
    public var maxHeadBytes: Int
    /// Field lines in one head or trailer section (431 beyond it).
    public var maxHeaderCount: Int
    /// Bytes of the request target (414 beyond it).
    public var maxURIBytes: Int
    /// Bytes of one chunk-size line including extensions (400 beyond it).
    public var maxChunkLineBytes: Int

    public init(maxHeadBytes: Int = 32 * 1024, maxHeaderCount: Int = 100, maxURIBytes: Int = 8 * 1024, maxChunkLineBytes: Int = 4096) {
        self.maxHeadBytes = maxHeadBytes
        self.maxHeaderCount = maxHeaderCount
        self.maxURIBytes = maxURIBytes
        self.maxChunkLineBytes = maxChunkLineBytes
    }
}
