import NIOCore

/// Writes one flat JSON object straight into reserved memory, escaping strings per RFC 8259. Cheaper
/// than building a dictionary and encoding it, and the field order stays stable. The caller reserves
/// enough room (see `AccessLogRecord.maximumSize`); the writer itself never checks bounds.
struct JSONLineWriter {
    private let base: UnsafeMutablePointer<UInt8>
    private(set) var count = 0
    private var first = true

    init(into bytes: UnsafeMutableRawBufferPointer) {
        base = bytes.baseAddress!.assumingMemoryBound(to: UInt8.self)
    }

    @inline(__always)
    private mutating func put(_ byte: UInt8) {
        base[count] = byte
        count += 1
    }

    @inline(__always)
    private mutating func put(_ text: StaticString) {
        (base + count).update(from: text.utf8Start, count: text.utf8CodeUnitCount)
        count += text.utf8CodeUnitCount
    }

    mutating func begin() { put(UInt8(ascii: "{")) }

    mutating func end() {
        put(UInt8(ascii: "}"))
        put(UInt8(ascii: "\n"))
    }

    private mutating func key(_ name: StaticString) {
        if !first { put(UInt8(ascii: ",")) }
        first = false
        put(UInt8(ascii: "\""))
        put(name)
        put(UInt8(ascii: "\""))
        put(UInt8(ascii: ":"))
    }

    /// Opens a nested object; its fields follow until `endObject()`.
    mutating func beginObject(_ name: StaticString) {
        key(name)
        put(UInt8(ascii: "{"))
        first = true
    }

    mutating func endObject() {
        put(UInt8(ascii: "}"))
        first = false
    }

    /// A field whose name is not a literal (span attributes); the name is escaped like a value.
    mutating func field(dynamic name: String, _ value: String) {
        dynamicKey(name)
        writeEscaped(value)
    }

    mutating func field(dynamic name: String, _ value: Int64) {
        dynamicKey(name)
        writeInteger(value)
    }

    mutating func field(dynamic name: String, _ value: Bool) {
        dynamicKey(name)
        if value { put("true") } else { put("false") }
    }

    private mutating func dynamicKey(_ name: String) {
        if !first { put(UInt8(ascii: ",")) }
        first = false
        writeEscaped(name)
        put(UInt8(ascii: ":"))
    }

    /// 128 bits as 32 lower-case hex digits (a trace id), or null.
    mutating func field(_ name: StaticString, hex value: (high: UInt64, low: UInt64)?) {
        key(name)
        guard let value else { put("null"); return }
        let digits: StaticString = "0123456789abcdef"
        put(UInt8(ascii: "\""))
        for index in 0..<32 {
            let word = index < 16 ? value.high : value.low
            put(digits.utf8Start[Int((word >> UInt64(60 - 4 * (index % 16))) & 0xF)])
        }
        put(UInt8(ascii: "\""))
    }

    /// 64 bits as 16 lower-case hex digits (a span id), or null.
    mutating func field(_ name: StaticString, hex64 value: UInt64?) {
        key(name)
        guard let value else { put("null"); return }
        let digits: StaticString = "0123456789abcdef"
        put(UInt8(ascii: "\""))
        for index in 0..<16 { put(digits.utf8Start[Int((value >> UInt64(60 - 4 * index)) & 0xF)]) }
        put(UInt8(ascii: "\""))
    }

    mutating func field(_ name: StaticString, _ value: String?) {
        key(name)
        guard let value else { put("null"); return }
        writeEscaped(value)
    }

    /// A nested object of string fields with names from config (`access_log.metadata`), in the given order.
    mutating func field(_ name: StaticString, names: [String], values: [String?]) {
        key(name)
        put(UInt8(ascii: "{"))
        for (index, fieldName) in names.enumerated() {
            if index > 0 { put(UInt8(ascii: ",")) }
            writeEscaped(fieldName)
            put(UInt8(ascii: ":"))
            if index < values.count, let value = values[index] { writeEscaped(value) } else { put("null") }
        }
        put(UInt8(ascii: "}"))
    }

    mutating func field(_ name: StaticString, _ value: Int64) {
        key(name)
        writeInteger(value)
    }

    /// Nanoseconds as milliseconds with three decimals.
    mutating func field(_ name: StaticString, milliseconds nanos: Int64) {
        key(name)
        let micros = max(0, nanos / 1000)
        writeInteger(micros / 1000)
        put(UInt8(ascii: "."))
        writeDigits(Int(micros % 1000), 3)
    }

    /// `"2026-11-28T13:44:19.123Z"`, written digit by digit: this runs once per request.
    mutating func field(_ name: StaticString, rfc3339 unixNanos: Int64) {
        key(name)
        put(UInt8(ascii: "\""))
        let t = RFC3339.Components(unixNanos: unixNanos)
        writeDigits(t.year, 4); put(UInt8(ascii: "-"))
        writeDigits(t.month, 2); put(UInt8(ascii: "-"))
        writeDigits(t.day, 2); put(UInt8(ascii: "T"))
        writeDigits(t.hour, 2); put(UInt8(ascii: ":"))
        writeDigits(t.minute, 2); put(UInt8(ascii: ":"))
        writeDigits(t.second, 2); put(UInt8(ascii: "."))
        writeDigits(t.millisecond, 3)
        put("Z\"")
    }

    private mutating func writeDigits(_ value: Int, _ width: Int) {
        var divisor = 1
        for _ in 1..<width { divisor *= 10 }
        var rest = value
        while divisor > 0 {
            put(UInt8(0x30 + (rest / divisor) % 10))
            rest %= divisor
            divisor /= 10
        }
    }

    private mutating func writeInteger(_ value: Int64) {
        var magnitude = value.magnitude
        if value < 0 { put(UInt8(ascii: "-")) }
        var digits = 1
        var probe = magnitude
        while probe >= 10 { probe /= 10; digits += 1 }
        var index = count + digits - 1
        repeat {
            base[index] = UInt8(0x30 + magnitude % 10)
            magnitude /= 10
            index -= 1
        } while magnitude > 0
        count += digits
    }

    private mutating func writeEscaped(_ value: String) {
        put(UInt8(ascii: "\""))
        var value = value
        value.withUTF8 { bytes in
            // Nearly every value needs no escaping: check once, then copy it whole.
            if bytes.allSatisfy({ $0 >= 0x20 && $0 != UInt8(ascii: "\"") && $0 != UInt8(ascii: "\\") && $0 != 0x7F }) {
                if let source = bytes.baseAddress { (base + count).update(from: source, count: bytes.count) }
                count += bytes.count
                return
            }
            for byte in bytes {
                switch byte {
                case UInt8(ascii: "\""): put("\\\"")
                case UInt8(ascii: "\\"): put("\\\\")
                case 0x0A: put("\\n")
                case 0x0D: put("\\r")
                case 0x09: put("\\t")
                case 0x00..<0x20, 0x7F:
                    let hex: StaticString = "0123456789abcdef"
                    put("\\u00")
                    put(hex.utf8Start[Int(byte >> 4)])
                    put(hex.utf8Start[Int(byte & 0xF)])
                default:
                    put(byte)
                }
            }
        }
        put(UInt8(ascii: "\""))
    }
}

/// UTC timestamps without Foundation (civil-from-days, Howard Hinnant's algorithm).
enum RFC3339 {
    struct Components {
        var year, month, day, hour, minute, second, millisecond: Int

        init(unixNanos: Int64) {
            let millisTotal = unixNanos / 1_000_000
            let secondsTotal = millisTotal / 1000
            millisecond = Int(millisTotal % 1000)
            let days = secondsTotal / 86_400
            let secondOfDay = Int(secondsTotal % 86_400)
            let z = days + 719_468
            let era = (z >= 0 ? z : z - 146_096) / 146_097
            let dayOfEra = z - era * 146_097
            let yearOfEra = (dayOfEra - dayOfEra / 1460 + dayOfEra / 36_524 - dayOfEra / 146_096) / 365
            let dayOfYear = dayOfEra - (365 * yearOfEra + yearOfEra / 4 - yearOfEra / 100)
            let mp = (5 * dayOfYear + 2) / 153
            day = Int(dayOfYear - (153 * mp + 2) / 5 + 1)
            month = Int(mp < 10 ? mp + 3 : mp - 9)
            year = Int(yearOfEra + era * 400 + (month <= 2 ? 1 : 0))
            hour = secondOfDay / 3600
            minute = secondOfDay / 60 % 60
            second = secondOfDay % 60
        }
    }

    static func format(unixNanos: Int64) -> String {
        var buffer = ByteBuffer()
        buffer.writeWithUnsafeMutableBytes(minimumWritableBytes: 64) { bytes in
            var writer = JSONLineWriter(into: bytes)
            writer.field("t", rfc3339: unixNanos)
            return writer.count
        }
        // The writer emitted `"t":"…"`; keep what is between the quotes.
        let text = String(buffer: buffer)
        return String(text.dropFirst(5).dropLast())
    }
}
