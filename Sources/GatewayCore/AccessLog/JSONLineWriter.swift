import NIOCore

/// Writes one flat JSON object straight into a ByteBuffer, escaping strings per RFC 8259.
/// Cheaper than building a dictionary and encoding it, and the field order stays stable.
struct JSONLineWriter {
    var buffer: ByteBuffer
    private var first = true

    init(buffer: ByteBuffer) { self.buffer = buffer }

    mutating func begin() { buffer.writeInteger(UInt8(ascii: "{")) }

    mutating func end() {
        buffer.writeInteger(UInt8(ascii: "}"))
        buffer.writeInteger(UInt8(ascii: "\n"))
    }

    private mutating func key(_ name: StaticString) {
        if !first { buffer.writeInteger(UInt8(ascii: ",")) }
        first = false
        buffer.writeInteger(UInt8(ascii: "\""))
        buffer.writeStaticString(name)
        buffer.writeStaticString("\":")
    }

    mutating func field(_ name: StaticString, _ value: String?) {
        key(name)
        guard let value else { buffer.writeStaticString("null"); return }
        writeEscaped(value)
    }

    mutating func field(_ name: StaticString, _ value: Int64) {
        key(name)
        buffer.writeString(String(value))
    }

    /// Nanoseconds as milliseconds with three decimals.
    mutating func field(_ name: StaticString, milliseconds nanos: Int64) {
        key(name)
        let micros = max(0, nanos / 1000)
        buffer.writeString(String(micros / 1000))
        buffer.writeInteger(UInt8(ascii: "."))
        let fraction = micros % 1000
        if fraction < 100 { buffer.writeInteger(UInt8(ascii: "0")) }
        if fraction < 10 { buffer.writeInteger(UInt8(ascii: "0")) }
        buffer.writeString(String(fraction))
    }

    /// `"2026-11-28T13:44:19.123Z"`.
    mutating func field(_ name: StaticString, rfc3339 unixNanos: Int64) {
        key(name)
        buffer.writeInteger(UInt8(ascii: "\""))
        buffer.writeString(RFC3339.format(unixNanos: unixNanos))
        buffer.writeInteger(UInt8(ascii: "\""))
    }

    private mutating func writeEscaped(_ value: String) {
        buffer.writeInteger(UInt8(ascii: "\""))
        for byte in value.utf8 {
            switch byte {
            case UInt8(ascii: "\""): buffer.writeStaticString("\\\"")
            case UInt8(ascii: "\\"): buffer.writeStaticString("\\\\")
            case 0x0A: buffer.writeStaticString("\\n")
            case 0x0D: buffer.writeStaticString("\\r")
            case 0x09: buffer.writeStaticString("\\t")
            case 0x00..<0x20, 0x7F:
                let hex: [UInt8] = Array("0123456789abcdef".utf8)
                buffer.writeStaticString("\\u00")
                buffer.writeInteger(hex[Int(byte >> 4)])
                buffer.writeInteger(hex[Int(byte & 0xF)])
            default:
                buffer.writeInteger(byte)
            }
        }
        buffer.writeInteger(UInt8(ascii: "\""))
    }
}

/// UTC timestamps without Foundation (civil-from-days, Howard Hinnant's algorithm).
enum RFC3339 {
    static func format(unixNanos: Int64) -> String {
        let millisTotal = unixNanos / 1_000_000
        let secondsTotal = millisTotal / 1000
        let millis = Int(millisTotal % 1000)
        let days = secondsTotal / 86_400
        let secondOfDay = Int(secondsTotal % 86_400)
        let z = days + 719_468
        let era = (z >= 0 ? z : z - 146_096) / 146_097
        let dayOfEra = z - era * 146_097
        let yearOfEra = (dayOfEra - dayOfEra / 1460 + dayOfEra / 36_524 - dayOfEra / 146_096) / 365
        let dayOfYear = dayOfEra - (365 * yearOfEra + yearOfEra / 4 - yearOfEra / 100)
        let mp = (5 * dayOfYear + 2) / 153
        let day = Int(dayOfYear - (153 * mp + 2) / 5 + 1)
        let month = Int(mp < 10 ? mp + 3 : mp - 9)
        let year = Int(yearOfEra + era * 400 + (month <= 2 ? 1 : 0))
        func pad(_ value: Int, _ width: Int) -> String {
            let text = String(value)
            return text.count >= width ? text : String(repeating: "0", count: width - text.count) + text
        }
        return "\(pad(year, 4))-\(pad(month, 2))-\(pad(day, 2))T\(pad(secondOfDay / 3600, 2)):\(pad(secondOfDay / 60 % 60, 2)):\(pad(secondOfDay % 60, 2)).\(pad(millis, 3))Z"
    }
}
