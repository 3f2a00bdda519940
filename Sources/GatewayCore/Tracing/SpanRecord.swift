import GatewayFilterAPI
import NIOCore

/// One finished span in the OpenTelemetry data model, written as a JSON line next to the access log
/// (same stdout stream, same batching). Attribute names follow the OTel semantic conventions for HTTP.
public struct SpanRecord {
    public enum Kind: String { case server = "SERVER", client = "CLIENT", `internal` = "INTERNAL" }

    public var trace: TraceContext
    public var spanID: UInt64
    public var parentSpanID: UInt64?
    public var name: String
    public var kind: Kind
    public var startUnixNanos: Int64
    public var endUnixNanos: Int64
    /// nil: OK; else the error text (status ERROR).
    public var error: String?
    /// Attribute name and value (string or integer), in order.
    public var attributes: [(String, SpanValue)]

    public typealias SpanValue = FilterSpanValue

    var maximumSize: Int {
        var size = 400 + name.utf8.count * 6 + (error?.utf8.count ?? 0) * 6
        for (key, value) in attributes {
            // Keys may come from filters (`FilterSpan.setAttribute`): escaping can grow them six-fold too.
            size += key.utf8.count * 6 + 8
            if case .string(let text) = value { size += text.utf8.count * 6 + 2 } else { size += 24 }
        }
        return size
    }

    public func write(to buffer: inout ByteBuffer) {
        buffer.writeWithUnsafeMutableBytes(minimumWritableBytes: maximumSize) { bytes in
            var json = JSONLineWriter(into: bytes)
            json.begin()
            // Ids as hex straight into the line: no strings per span.
            json.field("trace_id", hex: (trace.traceHigh, trace.traceLow))
            json.field("span_id", hex64: spanID)
            json.field("parent_span_id", hex64: parentSpanID)
            json.field("name", name)
            json.field("kind", kind.rawValue)
            json.field("start_time_unix_nano", startUnixNanos)
            json.field("end_time_unix_nano", endUnixNanos)
            json.beginObject("status")
            json.field("code", error == nil ? "OK" : "ERROR")
            if let error { json.field("message", error) }
            json.endObject()
            json.beginObject("attributes")
            for (key, value) in attributes {
                switch value {
                case .string(let text): json.field(dynamic: key, text)
                case .int(let number): json.field(dynamic: key, number)
                case .bool(let flag): json.field(dynamic: key, flag)
                }
            }
            json.endObject()
            json.beginObject("resource")
            json.field("service.name", "portcullis")
            json.endObject()
            json.end()
            return json.count
        }
    }
}
