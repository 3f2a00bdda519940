/// A span for a filter's own asynchronous work (a call to Redis, a key fetch): a child of the request's
/// server span, written as one JSON line when it ends, in the OpenTelemetry data model. Name it and give it
/// attributes with the OTel semantic-convention names (`db.system`, `server.address`, `url.full`, ...).
///
/// When the request is not sampled (or tracing is off) the span is inert: starting it allocates nothing,
/// `setAttribute` and `end` do nothing, so filters call them unconditionally. `traceparent` is valid either
/// way (trace context is always propagated), so a call made under the span can carry it to the service it
/// calls.
///
/// ```swift
/// let span = ctx.startSpan(name: "EVALSHA", kind: .client)
/// span.setAttribute("db.system", "redis")
/// span.setAttribute("server.address", "10.0.0.5")
/// span.setAttribute("server.port", 6379)
/// return .suspend(redis.send(...).map { reply in
///     span.end()
///     return .proceed
/// })
/// ```
///
/// Use it on the stream's event loop (in hooks and in callbacks of futures of `ctx.eventLoop`). `end` may
/// be called once; later calls are ignored. A span that is never ended is never written.
public struct FilterSpan: Sendable {
    /// OpenTelemetry span kinds a filter's span may have.
    public enum Kind: Sendable {
        /// A call to another service (HTTP, Redis): the callee may continue the trace.
        case client
        /// Work inside the gateway that is worth seeing on its own (a wait, a computation).
        case `internal`
    }

    /// The gateway's recorder of a sampled span; nil for an inert one.
    private let recorder: (any FilterSpanRecorder)?
    public let traceHigh: UInt64
    public let traceLow: UInt64
    /// This span's id (the parent of whatever a call made under it does).
    public let spanID: UInt64
    public let sampled: Bool

    /// For `FilterContext` implementations; filters get spans from `ctx.startSpan`.
    public init(recorder: (any FilterSpanRecorder)?, traceHigh: UInt64, traceLow: UInt64, spanID: UInt64, sampled: Bool) {
        self.recorder = recorder
        self.traceHigh = traceHigh
        self.traceLow = traceLow
        self.spanID = spanID
        self.sampled = sampled
    }

    /// A span that records nothing and belongs to no trace (test doubles, contexts without tracing).
    public static let inert = FilterSpan(recorder: nil, traceHigh: 0, traceLow: 0, spanID: 0, sampled: false)

    /// Whether the span will be written: skip computing costly attributes when it is not.
    public var isRecording: Bool { recorder != nil }

    public func setAttribute(_ key: String, _ value: String) { recorder?.setAttribute(key, .string(value)) }
    public func setAttribute(_ key: String, _ value: Int) { recorder?.setAttribute(key, .int(Int64(value))) }
    public func setAttribute(_ key: String, _ value: Bool) { recorder?.setAttribute(key, .bool(value)) }

    /// Ends the span now: status OK, or ERROR with `error` as its message (and `error.type` unless set).
    public func end(error: String? = nil) { recorder?.end(error: error) }

    /// The W3C `traceparent` value for a request made under this span (this span as the callee's parent);
    /// nil when the context has no trace (`inert`).
    public var traceparent: String? {
        guard traceHigh != 0 || traceLow != 0 else { return nil }
        return "00-" + Self.hex16(traceHigh) + Self.hex16(traceLow) + "-" + Self.hex16(spanID) + (sampled ? "-01" : "-00")
    }

    private static func hex16(_ value: UInt64) -> String {
        String(unsafeUninitializedCapacity: 16) { bytes in
            let digits: StaticString = "0123456789abcdef"
            for index in 0..<16 { bytes[index] = digits.utf8Start[Int((value >> UInt64(60 - 4 * index)) & 0xF)] }
            return 16
        }
    }
}

/// An attribute value of a `FilterSpan`.
public enum FilterSpanValue: Sendable {
    case string(String)
    case int(Int64)
    case bool(Bool)
}

/// What records a sampled `FilterSpan`: implemented by the gateway, not by filters.
public protocol FilterSpanRecorder: AnyObject, Sendable {
    func setAttribute(_ key: String, _ value: FilterSpanValue)
    func end(error: String?)
}
