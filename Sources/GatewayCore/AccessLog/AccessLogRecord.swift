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
    public var errorSource: ErrorSource?
    public var error: String?

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
            + size(path) + size(protocolName) + size(downstreamL4Address) + size(tlsClientSubject) + size(upstreamCluster) + size(upstreamAddress) + size(error)
        return 512 + 6 * strings
    }

    /// Appends the record as one JSON object and a newline.
    public func write(to buffer: inout ByteBuffer) {
        buffer.writeWithUnsafeMutableBytes(minimumWritableBytes: maximumSize) { bytes in
            var json = JSONLineWriter(into: bytes)
            json.begin()
            json.field("time", rfc3339: startUnixNanos)
            json.field("request_id", requestID)
            json.field("listener", listener)
            json.field("downstream_addr", downstreamAddress)
            json.field("downstream_l4_addr", downstreamL4Address)
            json.field("method", method)
            json.field("authority", authority)
            json.field("path", path)
            json.field("protocol", protocolName)
            json.field("tls_client_subject", tlsClientSubject)
            json.field("status", Int64(status))
            json.field("bytes_in", bytesIn)
            json.field("bytes_out", bytesOut)
            json.field("duration_ms", milliseconds: durationNanos)
            json.field("upstream_cluster", upstreamCluster)
            json.field("upstream_addr", upstreamAddress)
            if let upstreamNanos { json.field("upstream_ms", milliseconds: upstreamNanos) } else { json.field("upstream_ms", nil as String?) }
            json.field("error_source", errorSource?.rawValue)
            json.field("error", error)
            json.end()
            return json.count
        }
    }
}
