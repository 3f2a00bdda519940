import GatewayFilterAPI
import NIOCore

/// A sampled filter span (or a filter `httpCall`'s span) until it ends, then one span line in the loop's
/// access-log batch. Made only for sampled requests: an unsampled stream hands out inert `FilterSpan`s.
///
/// `@unchecked Sendable`: filters capture spans in future callbacks of the stream's loop; the state is
/// touched on `eventLoop` only (an `end` from elsewhere hops there).
final class FilterSpanRecording: FilterSpanRecorder, @unchecked Sendable {
    private let eventLoop: EventLoop
    private let sink: AccessLogBuffer
    private var record: SpanRecord
    private var ended = false

    init(loop: LoopContext, trace: TraceContext, spanID: UInt64, parentSpanID: UInt64, name: String, kind: SpanRecord.Kind) {
        eventLoop = loop.eventLoop
        sink = loop.accessLog
        record = SpanRecord(trace: trace, spanID: spanID, parentSpanID: parentSpanID, name: name, kind: kind,
                            startUnixNanos: ProxyStream.unixNanosNow(), endUnixNanos: 0, error: nil, attributes: [])
        record.attributes.reserveCapacity(6)
    }

    func setAttribute(_ key: String, _ value: FilterSpanValue) {
        eventLoop.assertInEventLoop()
        guard !ended else { return }
        if let index = record.attributes.firstIndex(where: { $0.0 == key }) {
            record.attributes[index].1 = value
        } else {
            record.attributes.append((key, value))
        }
    }

    func end(error: String?) {
        guard eventLoop.inEventLoop else {
            eventLoop.execute { self.end(error: error) }
            return
        }
        guard !ended else { return }
        ended = true
        record.endUnixNanos = ProxyStream.unixNanosNow()
        if let error {
            record.error = error
            if !record.attributes.contains(where: { $0.0 == "error.type" }) { record.attributes.append(("error.type", .string(error))) }
        }
        sink.append(record)
    }
}

extension ProxyStream {
    /// Inert unless the request is sampled; the span id is drawn either way (it is the parent a call made
    /// under the span names in its `traceparent`).
    public func startSpan(name: String, kind: FilterSpan.Kind) -> FilterSpan {
        startSpan(name: name, kind: kind, parent: nil)
    }

    /// A child of `parent` when that is a span of this request's trace, else of the server span.
    public func startSpan(name: String, kind: FilterSpan.Kind, parent: FilterSpan?) -> FilterSpan {
        let spanID = loop.random.next()
        let context = tracing.context
        guard tracing.recording else {
            return FilterSpan(recorder: nil, traceHigh: context.traceHigh, traceLow: context.traceLow, spanID: spanID, sampled: context.sampled)
        }
        var parentSpanID = tracing.serverSpanID
        if let parent, parent.traceHigh == context.traceHigh, parent.traceLow == context.traceLow, parent.spanID != 0 {
            parentSpanID = parent.spanID
        }
        let recorder = FilterSpanRecording(loop: loop, trace: context, spanID: spanID, parentSpanID: parentSpanID,
                                           name: name, kind: kind == .client ? .client : .internal)
        return FilterSpan(recorder: recorder, traceHigh: context.traceHigh, traceLow: context.traceLow, spanID: spanID, sampled: context.sampled)
    }
}
