import NIOCore

/// One field of the access-log line; the raw value is its JSON key (and `$name` in the text format).
public enum AccessLogField: String, CaseIterable, Sendable {
    case time, request_id, trace_id, listener, downstream_addr, downstream_l4_addr, method, authority, path
    case `protocol`, tls_client_subject, tls_client_san, status, bytes_in, bytes_out, duration_ms
    case upstream_cluster, upstream_addr, upstream_ms, upstream_attempts, error_source, error, local_reply_filter, metadata
}

/// How access-log lines are written: every field as JSON (the default), chosen fields as JSON, or a
/// text line from a template like nginx's `log_format`.
public enum AccessLogFormat: Sendable, Equatable {
    case json([AccessLogField])
    case text([Segment])

    public enum Segment: Sendable, Equatable {
        case literal(String)
        case field(AccessLogField)
    }

    public static let allJSON = AccessLogFormat.json(AccessLogField.allCases)

    /// `$name` (or `${name}`) are fields, everything else is literal. Returns the unknown names, if any.
    public static func parseTemplate(_ template: String) -> (segments: [Segment], unknown: [String]) {
        var segments: [Segment] = []
        var unknown: [String] = []
        var literal = ""
        var characters = template[...]
        while let character = characters.first {
            characters = characters.dropFirst()
            guard character == "$" else { literal.append(character); continue }
            var name = ""
            if characters.first == "{" {
                characters = characters.dropFirst()
                while let next = characters.first, next != "}" { name.append(next); characters = characters.dropFirst() }
                characters = characters.dropFirst()
            } else {
                while let next = characters.first, next.isLetter || next.isNumber || next == "_" { name.append(next); characters = characters.dropFirst() }
            }
            if name.isEmpty { literal.append("$"); continue }
            guard let field = AccessLogField(rawValue: name) else { unknown.append(name); continue }
            if !literal.isEmpty { segments.append(.literal(literal)); literal = "" }
            segments.append(.field(field))
        }
        if !literal.isEmpty { segments.append(.literal(literal)) }
        return (segments, unknown)
    }
}

extension AccessLogRecord {
    /// Writes the record in `format` (the default all-fields JSON takes the fast path).
    public func write(_ format: AccessLogFormat, to buffer: inout ByteBuffer) {
        switch format {
        case .json(let fields) where fields.count == AccessLogField.allCases.count:
            write(to: &buffer)
        case .json(let fields):
            buffer.writeWithUnsafeMutableBytes(minimumWritableBytes: maximumSize) { bytes in
                var json = JSONLineWriter(into: bytes)
                json.begin()
                for field in fields { writeField(field, into: &json) }
                json.end()
                return json.count
            }
        case .text(let segments):
            for segment in segments {
                switch segment {
                case .literal(let text): buffer.writeString(text)
                case .field(let field): writeText(field, into: &buffer)
                }
            }
            buffer.writeInteger(UInt8(ascii: "\n"))
        }
    }

    func writeField(_ field: AccessLogField, into json: inout JSONLineWriter) {
        switch field {
        case .time: json.field("time", rfc3339: startUnixNanos)
        case .request_id: json.field("request_id", requestID)
        case .trace_id: json.field("trace_id", hex: traceID)
        case .listener: json.field("listener", listener)
        case .downstream_addr: json.field("downstream_addr", downstreamAddress)
        case .downstream_l4_addr: json.field("downstream_l4_addr", downstreamL4Address)
        case .method: json.field("method", method)
        case .authority: json.field("authority", authority)
        case .path: json.field("path", path)
        case .protocol: json.field("protocol", protocolName)
        case .tls_client_subject: json.field("tls_client_subject", tlsClientSubject)
        case .tls_client_san: json.field("tls_client_san", tlsClientSANs)
        case .status: json.field("status", Int64(status))
        case .bytes_in: json.field("bytes_in", bytesIn)
        case .bytes_out: json.field("bytes_out", bytesOut)
        case .duration_ms: json.field("duration_ms", milliseconds: durationNanos)
        case .upstream_cluster: json.field("upstream_cluster", upstreamCluster)
        case .upstream_addr: json.field("upstream_addr", upstreamAddress)
        case .upstream_ms:
            if let upstreamNanos { json.field("upstream_ms", milliseconds: upstreamNanos) } else { json.field("upstream_ms", nil as String?) }
        case .upstream_attempts:
            if upstreamAttempts > 0 { json.field("upstream_attempts", Int64(upstreamAttempts)) } else { json.field("upstream_attempts", nil as String?) }
        case .error_source: json.field("error_source", errorSource?.rawValue)
        case .error: json.field("error", error)
        case .local_reply_filter: json.field("local_reply_filter", localReplyFilter)
        case .metadata: if !metadataNames.isEmpty { json.field("metadata", names: metadataNames, values: metadataValues) }
        }
    }

    /// A text value: `-` for none; quotes, backslashes and control bytes escaped as `\xHH` (as nginx does).
    func writeText(_ field: AccessLogField, into buffer: inout ByteBuffer) {
        func text(_ value: String?) {
            guard let value, !value.isEmpty else { buffer.writeInteger(UInt8(ascii: "-")); return }
            for byte in value.utf8 {
                if byte < 0x20 || byte == 0x7F || byte == UInt8(ascii: "\"") || byte == UInt8(ascii: "\\") {
                    let digits: StaticString = "0123456789ABCDEF"
                    buffer.writeInteger(UInt8(ascii: "\\")); buffer.writeInteger(UInt8(ascii: "x"))
                    buffer.writeInteger(digits.utf8Start[Int(byte >> 4)]); buffer.writeInteger(digits.utf8Start[Int(byte & 0xF)])
                } else {
                    buffer.writeInteger(byte)
                }
            }
        }
        func millis(_ nanos: Int64) -> String {
            let micros = max(0, nanos / 1000)
            let fraction = micros % 1000
            return "\(micros / 1000)." + (fraction < 10 ? "00" : fraction < 100 ? "0" : "") + "\(fraction)"
        }
        switch field {
        case .time: text(RFC3339.format(unixNanos: startUnixNanos))
        case .request_id: text(requestID)
        case .trace_id: text(traceID.map { TraceContext.hex16($0.high) + TraceContext.hex16($0.low) })
        case .listener: text(listener)
        case .downstream_addr: text(downstreamAddress)
        case .downstream_l4_addr: text(downstreamL4Address)
        case .method: text(method)
        case .authority: text(authority)
        case .path: text(path)
        case .protocol: text(protocolName)
        case .tls_client_subject: text(tlsClientSubject)
        case .tls_client_san: text(tlsClientSANs)
        case .status: text(String(status))
        case .bytes_in: text(String(bytesIn))
        case .bytes_out: text(String(bytesOut))
        case .duration_ms: text(millis(durationNanos))
        case .upstream_cluster: text(upstreamCluster)
        case .upstream_addr: text(upstreamAddress)
        case .upstream_ms: text(upstreamNanos.map(millis))
        case .upstream_attempts: text(upstreamAttempts > 0 ? String(upstreamAttempts) : nil)
        case .error_source: text(errorSource?.rawValue)
        case .error: text(error)
        case .local_reply_filter: text(localReplyFilter)
        case .metadata: text(zip(metadataNames, metadataValues).map { "\($0)=\($1 ?? "-")" }.joined(separator: ","))
        }
    }
}
