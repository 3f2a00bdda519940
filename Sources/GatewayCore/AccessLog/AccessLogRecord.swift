import NIOCore

/// The facts of one finished request, as one JSON access-log line reports them.
public struct AccessLogRecord {
    /// Wall-clock start, nanoseconds since the Unix epoch.
    public var startUnixNanos: Int64
    public var requestID: String?
    public var listener: String
    public var downstreamAddress: String
    /// The connection's own peer when a PROXY protocol header named another client (the L4 tier).
    public var downstreamL4Address: String?
    /// The verified TLS client certificate's subject (mTLS).
    public var tlsClientSubject: String?
    /// The W3C trace id the request belongs to, as two words (written as 32 hex digits).
    public var traceID: (high: UInt64, low: UInt64)?
    /// The verified client certificate's SANs, comma-separated.
    public var tlsClientSANs: String?
    public var method: String?
    public var authority: String?
    public var path: String?
    public var protocolName: String
    public var status: Int
    public var bytesIn: Int64 = 0
    public var bytesOut: Int64 = 0
    public var durationNanos: Int64 = 0
    public var upstreamCluster: String?
    public var upstreamAddress: String?
    public var upstreamNanos: Int64?
    /// Upstream attempts made: 1, or more when the request was retried; 0 when none was.
    public var upstreamAttempts = 0
    public var errorSource: ErrorSource?
    public var error: String?
    /// The filter that answered the request itself (`.respond`), if one did.
    public var localReplyFilter: String?
    /// `access_log.metadata` names and their values for this request; empty when none are configured.
    public var metadataNames: [String] = []
    public var metadataValues: [String?] = []

    public init(startUnixNanos: Int64, listener: String, downstreamAddress: String, protocolName: String, status: Int) {
        self.startUnixNanos = startUnixNanos
        self.listener = listener
        self.downstreamAddress = downstreamAddress
        self.protocolName = protocolName
        self.status = status
    }

    /// An upper bound on the line's length: every string escaped at worst 6 bytes per byte (`\u00XX`).
    var maximumSize: Int {
        func size(_ text: String?) -> Int { text?.utf8.count ?? 0 }
        let strings = size(requestID) + size(listener) + size(downstreamAddress) + size(method) + size(authority)
            + size(path) + size(protocolName) + size(downstreamL4Address) + size(tlsClientSubject) + 34 + size(tlsClientSANs) + size(upstreamCluster) + size(upstreamAddress) + size(error) + size(localReplyFilter)
        var metadata = 0
        if !metadataNames.isEmpty {
            metadata = 16 + metadataNames.reduce(0) { $0 + 8 + $1.utf8.count } + metadataValues.reduce(0) { $0 + size($1) }
        }
        return 512 + 6 * (strings + metadata)
    }

    /// Appends the record as one JSON object and a newline.
    public func write(to buffer: inout ByteBuffer) {
        buffer.writeWithUnsafeMutableBytes(minimumWritableBytes: maximumSize) { bytes in
            var json = JSONLineWriter(into: bytes)
            json.begin()
            json.field("time", rfc3339: startUnixNanos)
            json.field("request_id", requestID)
            json.field("trace_id", hex: traceID)
            json.field("listener", listener)
            json.field("downstream_addr", downstreamAddress)
            json.field("downstream_l4_addr", downstreamL4Address)
            json.field("method", method)
            json.field("authority", authority)
            json.field("path", path)
            json.field("protocol", protocolName)
            json.field("tls_client_subject", tlsClientSubject)
            json.field("tls_client_san", tlsClientSANs)
            json.field("status", Int64(status))
            json.field("bytes_in", bytesIn)
            json.field("bytes_out", bytesOut)
            json.field("duration_ms", milliseconds: durationNanos)
            json.field("upstream_cluster", upstreamCluster)
            json.field("upstream_addr", upstreamAddress)
            if let upstreamNanos { json.field("upstream_ms", milliseconds: upstreamNanos) } else { json.field("upstream_ms", nil as String?) }
            if upstreamAttempts > 0 { json.field("upstream_attempts", Int64(upstreamAttempts)) } else { json.field("upstream_attempts", nil as String?) }
            json.field("error_source", errorSource?.rawValue)
            json.field("error", error)
            json.field("local_reply_filter", localReplyFilter)
            if !metadataNames.isEmpty { json.field("metadata", names: metadataNames, values: metadataValues) }
            json.end()
            return json.count
        }
    }
}
