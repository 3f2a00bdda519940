import Foundation
@testable import GatewayCore
import NIOCore
import Testing

@Suite("Access-log records")
struct AccessLogRecordTests {
    private func line(_ record: AccessLogRecord) -> String {
        var buffer = ByteBufferAllocator().buffer(capacity: 256)
        record.write(to: &buffer)
        return buffer.readString(length: buffer.readableBytes) ?? ""
    }

    private func object(_ line: String) throws -> [String: Any] {
        let parsed = try JSONSerialization.jsonObject(with: Data(line.utf8))
        return try #require(parsed as? [String: Any])
    }

    private static let fields = [
        "time", "request_id", "trace_id", "listener", "downstream_addr", "downstream_l4_addr", "method", "authority", "path", "protocol", "tls_client_subject", "tls_client_san", "status",
        "bytes_in", "bytes_out", "duration_ms", "upstream_cluster", "upstream_addr", "upstream_ms", "upstream_attempts", "error_source", "error",
        "local_reply_filter",
    ]

    private func complete() -> AccessLogRecord {
        // 2024-02-29T12:34:56.789123456Z
        var record = AccessLogRecord(startUnixNanos: 1_709_210_096_789_123_456, listener: "public",
                                     downstreamAddress: "192.0.2.10:51234", protocolName: "HTTP/1.1", status: 201)
        record.requestID = "0f8fad5b-d9cb-469f-a165-70867728950e"
        record.method = "POST"
        record.authority = "api.example.com"
        record.path = "/v1/items?id=7"
        record.bytesIn = 512
        record.bytesOut = 2048
        record.durationNanos = 12_345_678
        record.upstreamCluster = "api"
        record.upstreamAddress = "10.0.0.1:9001"
        record.upstreamNanos = 10_250_000
        record.upstreamAttempts = 2
        record.errorSource = .upstream
        record.error = "upstream_reset"
        return record
    }

    @Test("a record is one JSON object on one line, with every field set to the record's value")
    func everyField() throws {
        let text = line(complete())
        #expect(text.hasSuffix("}\n"))
        #expect(text.filter { $0 == "\n" }.count == 1)

        let json = try object(text)
        #expect(Set(json.keys) == Set(Self.fields))
        #expect(json["time"] as? String == "2024-02-29T12:34:56.789Z")
        #expect(json["request_id"] as? String == "0f8fad5b-d9cb-469f-a165-70867728950e")
        #expect(json["listener"] as? String == "public")
        #expect(json["downstream_addr"] as? String == "192.0.2.10:51234")
        #expect(json["method"] as? String == "POST")
        #expect(json["authority"] as? String == "api.example.com")
        #expect(json["path"] as? String == "/v1/items?id=7")
        #expect(json["protocol"] as? String == "HTTP/1.1")
        #expect((json["status"] as? NSNumber)?.intValue == 201)
        #expect((json["bytes_in"] as? NSNumber)?.int64Value == 512)
        #expect((json["bytes_out"] as? NSNumber)?.int64Value == 2048)
        #expect((json["duration_ms"] as? NSNumber)?.doubleValue == 12.345)
        #expect(json["upstream_cluster"] as? String == "api")
        #expect(json["upstream_addr"] as? String == "10.0.0.1:9001")
        #expect((json["upstream_ms"] as? NSNumber)?.doubleValue == 10.25)
        #expect(json["error_source"] as? String == "upstream")
        #expect(json["error"] as? String == "upstream_reset")
    }

    @Test("fields come in a stable order, with durations as milliseconds to three decimals")
    func fieldOrderAndFormat() {
        #expect(line(complete()) == """
            {"time":"2024-02-29T12:34:56.789Z","request_id":"0f8fad5b-d9cb-469f-a165-70867728950e","trace_id":null,"listener":"public",\
            "downstream_addr":"192.0.2.10:51234","downstream_l4_addr":null,"method":"POST","authority":"api.example.com","path":"/v1/items?id=7",\
            "protocol":"HTTP/1.1","tls_client_subject":null,"tls_client_san":null,"status":201,"bytes_in":512,"bytes_out":2048,"duration_ms":12.345,"upstream_cluster":"api",\
            "upstream_addr":"10.0.0.1:9001","upstream_ms":10.250,"upstream_attempts":2,"error_source":"upstream","error":"upstream_reset",\
            "local_reply_filter":null}

            """)
    }

    @Test("configured metadata names are printed as one object, in order, with null for values not set")
    func metadataObject() throws {
        var record = complete()
        record.localReplyFilter = "cors"
        record.metadataNames = ["auth.subject", "probe\"name", "missing"]
        record.metadataValues = ["alice", "x\ny", nil]
        let text = line(record)
        #expect(text.hasSuffix(#""local_reply_filter":"cors","metadata":{"auth.subject":"alice","probe\"name":"x\ny","missing":null}}"# + "\n"))
        let json = try object(text)
        let metadata = try #require(json["metadata"] as? [String: Any])
        #expect(metadata["auth.subject"] as? String == "alice")
        #expect(metadata["missing"] is NSNull)
    }

    @Test("facts a request never got to are null, not empty or missing")
    func nullFields() throws {
        let record = AccessLogRecord(startUnixNanos: 0, listener: "public", downstreamAddress: "[::1]:40000", protocolName: "HTTP/1.1", status: 400)
        let json = try object(line(record))
        #expect(Set(json.keys) == Set(Self.fields))
        for field in ["request_id", "method", "authority", "path", "upstream_cluster", "upstream_addr", "upstream_ms", "upstream_attempts", "error_source", "error"] {
            #expect(json[field] is NSNull, "\(field) should be null")
        }
        #expect((json["status"] as? NSNumber)?.intValue == 400)
        #expect((json["bytes_in"] as? NSNumber)?.intValue == 0)
        #expect(line(record).contains(#""duration_ms":0.000,"#))
    }

    @Test("strings with quotes, backslashes, newlines, control characters and non-ASCII survive a JSON parser intact")
    func escaping() throws {
        let nasty = "/a\"b\\c\nd\re\tf\u{0}g\u{1}h\u{1F}i\u{7F}j é ✓ 🚀 \"\"\\\\"
        var record = complete()
        record.path = nasty
        record.authority = "evil\"},\"status\":200,\"x\":\"" // an attempt to inject a field
        record.error = "line one\nline two"
        let text = line(record)
        let json = try object(text)
        #expect(json["path"] as? String == nasty)
        #expect(json["authority"] as? String == "evil\"},\"status\":200,\"x\":\"")
        #expect(json["error"] as? String == "line one\nline two")
        #expect((json["status"] as? NSNumber)?.intValue == 201)
    }

    @Test("escaped output uses the short escapes and \\u00XX, and holds no raw control byte but the final newline")
    func escapeForms() {
        var record = complete()
        record.path = "\"\\\n\r\t\u{0}\u{1}\u{1F}\u{7F}"
        let text = line(record)
        #expect(text.contains(#""path":"\"\\\n\r\t\u0000\u0001\u001f\u007f","#))
        let bytes = Array(text.utf8)
        #expect(bytes.dropLast().allSatisfy { $0 >= 0x20 && $0 != 0x7F })
        #expect(bytes.last == UInt8(ascii: "\n"))
    }

    @Test("records written one after another become separate lines, each valid JSON")
    func appends() throws {
        var buffer = ByteBufferAllocator().buffer(capacity: 16)
        var first = complete()
        first.error = "a\nb"
        first.write(to: &buffer)
        var second = complete()
        second.status = 502
        second.write(to: &buffer)
        let lines = (buffer.readString(length: buffer.readableBytes) ?? "").split(separator: "\n")
        #expect(lines.count == 2)
        #expect((try object(String(lines[0]))["error"]) as? String == "a\nb")
        #expect((try object(String(lines[1]))["status"] as? NSNumber)?.intValue == 502)
    }

    @Test("durations are written as milliseconds, truncated to whole microseconds", arguments: [
        (Int64(0), "0.000"), (999, "0.000"), (1_000, "0.001"), (1_500_000, "1.500"), (5_050_000, "5.050"),
        (12_345_678, "12.345"), (60_000_000_000, "60000.000"), (-5_000_000, "0.000"),
    ])
    func milliseconds(_ nanos: Int64, _ text: String) throws {
        var record = complete()
        record.durationNanos = nanos
        record.upstreamNanos = nanos
        let line = line(record)
        #expect(line.contains("\"duration_ms\":\(text),"))
        #expect(line.contains("\"upstream_ms\":\(text),"))
        _ = try object(line)
    }

    @Test("RFC 3339 timestamps are UTC with milliseconds, including epoch 0 and leap days", arguments: [
        (Int64(0), "1970-01-01T00:00:00.000Z"),
        (68_169_600_000, "1972-02-29T00:00:00.000Z"),
        (951_782_400_000, "2000-02-29T00:00:00.000Z"),
        (1_709_210_096_789, "2024-02-29T12:34:56.789Z"),
        (1_735_689_599_999, "2024-12-31T23:59:59.999Z"),
        (2_147_483_648_000, "2038-01-19T03:14:08.000Z"),
        (4_107_542_399_000, "2100-02-28T23:59:59.000Z"),
        (4_107_542_400_000, "2100-03-01T00:00:00.000Z"),
    ])
    func rfc3339(_ unixMillis: Int64, _ expected: String) {
        #expect(RFC3339.format(unixNanos: unixMillis * 1_000_000) == expected)
        #expect(RFC3339.format(unixNanos: unixMillis * 1_000_000 + 999_999) == expected, "sub-millisecond digits are truncated")
    }

    @Test("RFC 3339 dates agree with Foundation's Gregorian calendar across two centuries")
    func rfc3339AgreesWithFoundation() throws {
        var calendar = Calendar(identifier: .gregorian)
        calendar.timeZone = try #require(TimeZone(identifier: "UTC"))
        // A stride that is not a whole number of days, so it walks through every time of day and day of month.
        for seconds in stride(from: Int64(0), to: 4_102_444_800, by: 3_203_503) {
            let c = calendar.dateComponents([.year, .month, .day, .hour, .minute, .second], from: Date(timeIntervalSince1970: Double(seconds)))
            func pad(_ value: Int?, _ width: Int) -> String {
                let text = String(value ?? -1)
                return String(repeating: "0", count: max(0, width - text.count)) + text
            }
            let expected = "\(pad(c.year, 4))-\(pad(c.month, 2))-\(pad(c.day, 2))T\(pad(c.hour, 2)):\(pad(c.minute, 2)):\(pad(c.second, 2)).000Z"
            #expect(RFC3339.format(unixNanos: seconds * 1_000_000_000) == expected)
        }
    }

    @Test("every default field can be chosen by name: the chosen-fields writer agrees with the default line")
    func chosenFieldsCoverTheDefault() throws {
        var record = complete()
        record.metadataNames = ["a"]
        record.metadataValues = ["b"]
        let reversed = Array(AccessLogField.allCases.reversed())
        var buffer = ByteBufferAllocator().buffer(capacity: 256)
        record.write(.json(reversed), to: &buffer)
        let chosen = try object(buffer.readString(length: buffer.readableBytes) ?? "")
        let standard = try object(line(record))
        #expect(Set(chosen.keys) == Set(standard.keys))
        #expect(NSDictionary(dictionary: chosen).isEqual(to: standard))
    }
}
