import HTTP1
import HTTPTypes
import NIOCore
import Upstream

/// Trace context for one stream: continued from the client's `traceparent` or started here, a new
/// span id per upstream attempt sent on as the next hop's parent, and (when sampled) one server span
/// plus one client span per attempt written next to the access-log line.
struct StreamTracing {
    var context: TraceContext
    let serverSpanID: UInt64
    /// Spans are written (tracing configured and the trace sampled).
    let recording: Bool
    var attempt: (spanID: UInt64, endpoint: Endpoint, startUnixNanos: Int64, number: Int)?
    var attempts = 0

    static let traceparent = HTTPField.Name("traceparent")!

    /// `traceparent`: the received header's value, if any.
    init(traceparent: String?, loop: LoopContext) {
        let tracing = loop.runtime.config.tracing
        if let header = traceparent, let received = TraceContext.parse(header) {
            context = received
        } else {
            let sampled = tracing.map { Double(loop.random.next() >> 11) / Double(1 << 53) < $0.sampleRate } ?? false
            context = TraceContext(traceHigh: loop.random.next(), traceLow: loop.random.next(), parentSpanID: nil, sampled: sampled)
        }
        serverSpanID = loop.random.next()
        recording = tracing != nil && context.sampled
    }
}

extension ProxyStream {
    /// A new upstream attempt: ends the previous attempt's span (it failed, or this is a retry) and
    /// returns the `traceparent` for the request it sends.
    func beginAttemptSpan(endpoint: Endpoint) -> ForwardingEdits.Traceparent {
        if tracing.attempt != nil { endAttemptSpan(status: nil, error: "retried") }
        let spanID = loop.random.next()
        tracing.attempts += 1
        tracing.attempt = (spanID, endpoint, Self.unixNanosNow(), tracing.attempts)
        return ForwardingEdits.Traceparent(traceHigh: tracing.context.traceHigh, traceLow: tracing.context.traceLow,
                                           spanID: spanID, sampled: tracing.context.sampled)
    }

    func endAttemptSpan(status: Int?, error: String?) {
        guard let attempt = tracing.attempt else { return }
        tracing.attempt = nil
        guard tracing.recording else { return }
        let (host, port) = Endpoint.hostAndPort(attempt.endpoint.label)
        var attributes: [(String, SpanRecord.SpanValue)] = [
            ("http.request.method", .string(record.method ?? "")),
            ("server.address", .string(host)),
            ("portcullis.cluster", .string(record.upstreamCluster ?? "")),
        ]
        if let port { attributes.append(("server.port", .int(Int64(port)))) }
        if let status { attributes.append(("http.response.status_code", .int(Int64(status)))) }
        if attempt.number > 1 { attributes.append(("http.request.resend_count", .int(Int64(attempt.number - 1)))) }
        if let error { attributes.append(("error.type", .string(error))) }
        loop.accessLog.append(SpanRecord(trace: tracing.context, spanID: attempt.spanID, parentSpanID: tracing.serverSpanID,
                                         name: record.method ?? "HTTP", kind: .client, startUnixNanos: attempt.startUnixNanos,
                                         endUnixNanos: Self.unixNanosNow(), error: error ?? (status.map { $0 >= 500 } == true ? "status \(status!)" : nil),
                                         attributes: attributes))
    }

    /// The server span for the whole stream (called once, at the end).
    func writeServerSpan() {
        let upstreamStatus = record.errorSource == .upstream ? nil : record.status
        if tracing.attempt != nil { endAttemptSpan(status: upstreamStatus, error: record.errorSource == .upstream ? record.error : nil) }
        guard tracing.recording else { return }
        let path = record.path ?? "/"
        let query = path.firstIndex(of: "?")
        var attributes: [(String, SpanRecord.SpanValue)] = [
            ("http.request.method", .string(record.method ?? "")),
            ("url.path", .string(query.map { String(path[..<$0]) } ?? path)),
            ("url.scheme", .string(listener.scheme)),
            ("server.address", .string(record.authority ?? "")),
            ("client.address", .string(downstreamIP)),
            ("network.protocol.version", .string(record.protocolName == "HTTP/2" ? "2" : (record.protocolName == "HTTP/1.0" ? "1.0" : "1.1"))),
            ("http.response.status_code", .int(Int64(record.status))),
            ("portcullis.listener", .string(listener.name)),
            ("portcullis.request_id", .string(record.requestID ?? "")),
        ]
        if let query { attributes.append(("url.query", .string(String(path[path.index(after: query)...])))) }
        if let route { attributes.append(("portcullis.route", .int(Int64(route.index)))) }
        if let error = record.error { attributes.append(("error.type", .string(error))) }
        let end = record.startUnixNanos + record.durationNanos
        loop.accessLog.append(SpanRecord(trace: tracing.context, spanID: tracing.serverSpanID, parentSpanID: tracing.context.parentSpanID,
                                         name: record.method ?? "HTTP", kind: .server, startUnixNanos: record.startUnixNanos, endUnixNanos: end,
                                         error: record.status >= 500 ? (record.error ?? "status \(record.status)") : nil, attributes: attributes))
    }
}

extension Endpoint {
    /// `server.address` and `server.port` (OTel) from a `host:port` / `[v6]:port` label.
    static func hostAndPort(_ label: String) -> (host: String, port: Int?) {
        guard let colon = label.lastIndex(of: ":"), let port = Int(label[label.index(after: colon)...]) else { return (label, nil) }
        var host = label[..<colon]
        if host.hasPrefix("["), host.hasSuffix("]") { host = host.dropFirst().dropLast() }
        return (String(host), port)
    }
}
