import Foundation
@testable import GatewayCore
import NIOCore
import Testing

@Suite("Span records")
struct SpanRecordTests {
    private func object(_ span: SpanRecord) throws -> [String: Any] {
        // Exactly the bytes asked for: a line longer than `maximumSize` would write past the reservation.
        var buffer = ByteBufferAllocator().buffer(capacity: 0)
        span.write(to: &buffer)
        let text = buffer.readString(length: buffer.readableBytes)
        let line = try #require(text)
        #expect(line.hasSuffix("}\n") && line.utf8.count <= span.maximumSize)
        return try #require(try JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any])
    }

    @Test("ids are written as lower-case hex; filter-made names and attribute keys are escaped and fit the reservation")
    func escapedAttributes() throws {
        let trace = TraceContext(traceHigh: 0x4bf9_2f35_77b3_4da6, traceLow: 0xa3ce_929d_0e0e_4736, parentSpanID: nil, sampled: true)
        let oddKey = String(repeating: "\u{1}\"", count: 150)
        let span = SpanRecord(trace: trace, spanID: 0x00f0_67aa_0ba9_02b7, parentSpanID: 0xa, name: "call \"x\"\n", kind: .internal,
                              startUnixNanos: 1, endUnixNanos: 2, error: nil,
                              attributes: [(oddKey, .string("v\u{0}")), ("flag", .bool(true)), ("n", .int(-7))])
        let json = try object(span)
        #expect(json["trace_id"] as? String == "4bf92f3577b34da6a3ce929d0e0e4736")
        #expect(json["span_id"] as? String == "00f067aa0ba902b7")
        #expect(json["parent_span_id"] as? String == "000000000000000a")
        #expect(json["kind"] as? String == "INTERNAL")
        #expect(json["name"] as? String == "call \"x\"\n")
        let attributes = try #require(json["attributes"] as? [String: Any])
        #expect(attributes[oddKey] as? String == "v\u{0}")
        #expect(attributes["flag"] as? Bool == true)
        #expect(attributes["n"] as? Int == -7)
    }
}
