/// W3C Trace Context (`traceparent`): the trace a request belongs to, continued when the client sent a
/// valid header and started here otherwise. Ids are kept as integers and formatted only when written.
public struct TraceContext: Sendable, Equatable {
    public var traceHigh: UInt64
    public var traceLow: UInt64
    /// The caller's span (the parent of the gateway's server span); nil when the trace starts here.
    public var parentSpanID: UInt64?
    /// Whether spans of this trace are recorded (the `sampled` flag).
    public var sampled: Bool

    public init(traceHigh: UInt64, traceLow: UInt64, parentSpanID: UInt64?, sampled: Bool) {
        self.traceHigh = traceHigh
        self.traceLow = traceLow
        self.parentSpanID = parentSpanID
        self.sampled = sampled
    }

    /// `version-traceid-parentid-flags`. Versions other than 00 are read by their first four fields, as
    /// the spec asks; all-zero ids and version ff are invalid (then a new trace starts).
    public static func parse(_ header: String) -> TraceContext? {
        let utf8 = Array(header.utf8)
        guard utf8.count >= 55, utf8[2] == 0x2D, utf8[35] == 0x2D, utf8[52] == 0x2D else { return nil }
        guard let version = hex(utf8[0..<2]), version != 0xff, version == 0 ? utf8.count == 55 : (utf8.count == 55 || utf8[55] == 0x2D) else { return nil }
        guard let high = hex(utf8[3..<19]), let low = hex(utf8[19..<35]), let parent = hex(utf8[36..<52]), let flags = hex(utf8[53..<55]) else { return nil }
        guard high != 0 || low != 0, parent != 0 else { return nil }
        return TraceContext(traceHigh: high, traceLow: low, parentSpanID: parent, sampled: flags & 1 == 1)
    }

    public var traceID: String { Self.hex16(traceHigh) + Self.hex16(traceLow) }

    /// Lower-case hex only (the spec forbids upper case).
    private static func hex(_ bytes: ArraySlice<UInt8>) -> UInt64? {
        var value: UInt64 = 0
        for byte in bytes {
            let digit: UInt8
            switch byte {
            case 0x30...0x39: digit = byte - 0x30
            case 0x61...0x66: digit = byte - 0x61 + 10
            default: return nil
            }
            value = value << 4 | UInt64(digit)
        }
        return value
    }

    public static func hex16(_ value: UInt64) -> String {
        String(unsafeUninitializedCapacity: 16) { bytes in
            let digits: StaticString = "0123456789abcdef"
            for index in 0..<16 { bytes[index] = digits.utf8Start[Int((value >> UInt64(60 - 4 * index)) & 0xF)] }
            return 16
        }
    }
}
