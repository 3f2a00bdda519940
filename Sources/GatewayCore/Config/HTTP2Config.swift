/// A listener's HTTP/2 settings and abuse limits (`http2:` in YAML). HTTP/2 is negotiated with ALPN
/// `h2` on TLS listeners; on plaintext listeners it is served with prior knowledge only when `cleartext`
/// is set (h2c), next to HTTP/1.1 on the same port.
public struct HTTP2Config: Sendable, Equatable {
    /// Accept h2c with prior knowledge on a plaintext listener (the client's first bytes are the preface).
    public var cleartext = false
    /// SETTINGS_MAX_CONCURRENT_STREAMS: streams a client may have open at once; beyond, REFUSED_STREAM.
    public var maxConcurrentStreams = 100
    /// SETTINGS_MAX_HEADER_LIST_SIZE (decoded, RFC 9113 §6.5.2 accounting); beyond it the stream gets 431.
    /// Defaults to the listener's `limits.max_header_bytes`.
    public var maxHeaderListBytes: Int?
    /// SETTINGS_MAX_FRAME_SIZE the gateway accepts.
    public var maxFrameSize = 16 * 1024
    /// SETTINGS_INITIAL_WINDOW_SIZE: request-body bytes a client may send on one stream before the
    /// gateway has passed them upstream. Bounds what one slow upstream makes the gateway hold.
    public var initialStreamWindow = 256 * 1024
    /// The connection-level receive window: bounds request-body bytes held for all streams together.
    public var connectionWindow = 1024 * 1024
    /// CONTINUATION frames allowed after one HEADERS frame (CVE-2024-27316 defence).
    public var maxContinuationFrames = 8
    /// Streams the client may reset (or that end in a protocol error) per second, with the same burst;
    /// beyond, GOAWAY ENHANCE_YOUR_CALM (rapid reset, CVE-2023-44487).
    public var maxResetsPerSecond = 100
    /// SETTINGS, PING, PRIORITY and WINDOW_UPDATE frames per second (floods); same burst.
    public var maxControlFramesPerSecond = 500
    /// DATA frames with no payload and no END_STREAM per second (empty-frame flood).
    public var maxEmptyDataFramesPerSecond = 100

    public init() {}
}

extension ConfigDecoder {
    static let http2Keys = ["cleartext", "max_concurrent_streams", "max_header_list_size", "max_frame_size",
                            "initial_stream_window", "connection_window", "max_continuation_frames",
                            "max_resets_per_second", "max_control_frames_per_second", "max_empty_data_frames_per_second"]

    func decodeHTTP2(_ value: ConfigValue) -> HTTP2Config {
        var config = HTTP2Config()
        guard let map = value.mapping(allowed: Self.http2Keys) else { return config }
        if let v = map["cleartext"]?.bool() { config.cleartext = v }
        if let v = map["max_concurrent_streams"]?.int(min: 1, max: 10_000) { config.maxConcurrentStreams = v }
        if let v = map["max_header_list_size"]?.byteSize() {
            if v < 1024 || v > 1 << 24 { map["max_header_list_size"]?.fail("must be between 1k and 16m") } else { config.maxHeaderListBytes = Int(v) }
        }
        if let v = map["max_frame_size"]?.byteSize() {
            // RFC 9113 §6.5.2: between the initial 2^14 and 2^24-1.
            if v < 16384 || v > 16_777_215 { map["max_frame_size"]?.fail("must be between 16k and 16777215 (RFC 9113)") } else { config.maxFrameSize = Int(v) }
        }
        if let v = map["initial_stream_window"]?.byteSize() {
            if v < 1024 || v > Int64(Int32.max) { map["initial_stream_window"]?.fail("must be between 1k and 2147483647") } else { config.initialStreamWindow = Int(v) }
        }
        if let v = map["connection_window"]?.byteSize() {
            if v < 65535 || v > Int64(Int32.max) { map["connection_window"]?.fail("must be between 65535 and 2147483647") } else { config.connectionWindow = Int(v) }
        }
        if let v = map["max_continuation_frames"]?.int(min: 0, max: 1000) { config.maxContinuationFrames = v }
        if let v = map["max_resets_per_second"]?.int(min: 1, max: 1_000_000) { config.maxResetsPerSecond = v }
        if let v = map["max_control_frames_per_second"]?.int(min: 1, max: 1_000_000) { config.maxControlFramesPerSecond = v }
        if let v = map["max_empty_data_frames_per_second"]?.int(min: 1, max: 1_000_000) { config.maxEmptyDataFramesPerSecond = v }
        return config
    }
}
