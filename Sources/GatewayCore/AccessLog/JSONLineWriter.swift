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
        writeInteger(value)
    }

    /// Nanoseconds as milliseconds with three decimals.
    mutating func field(_ name: StaticString, milliseconds nanos: Int64) {
        key(name)
        let micros = max(0, nanos / 1000)
        writeInteger(micros / 1000)
        buffer.writeInteger(UInt8(ascii: "."))
        writeDigits(Int(micros % 1000), 3)
    }

    /// `"2026-11-28T13:44:19.123Z"`, written digit by digit: this runs once per request.
    mutating func field(_ name: StaticString, rfc3339 unixNanos: Int64) {
        key(name)
        buffer.writeInteger(UInt8(ascii: "\""))
        let t = RFC3339.Components(unixNanos: unixNanos)
        writeDigits(t.year, 4); buffer.writeInteger(UInt8(ascii: "-"))
        writeDigits(t.month, 2); buffer.writeInteger(UInt8(ascii: "-"))
        writeDigits(t.day, 2); buffer.writeInteger(UInt8(ascii: "T"))
        writeDigits(t.hour, 2); buffer.writeInteger(UInt8(ascii: ":"))
        writeDigits(t.minute, 2); buffer.writeInteger(UInt8(ascii: ":"))
        writeDigits(t.second, 2); buffer.writeInteger(UInt8(ascii: "."))
        writeDigits(t.millisecond, 3)
        buffer.writeStaticString("Z\"")
    }

    private mutating func writeDigits(_ value: Int, _ width: Int) {
        var divisor = 1
        for _ in 1..<width { divisor *= 10 }
        var rest = value
        while divisor > 0 {
            buffer.writeInteger(UInt8(0x30 + (rest / divisor) % 10))
            rest %= divisor
            divisor /= 10
        }
    }

    /// Non-negative integers without going through String.
    private mutating func writeInteger(_ value: Int64) {
        if value < 0 {
            buffer.writeInteger(UInt8(ascii: "-"))
            buffer.writeString(String(-value))
            return
        }
        var digits: (UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8,
                     UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8) =
            (0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0)
        var count = 0
        var rest = value
        withUnsafeMutableBytes(of: &digits) { bytes in
            repeat {
                bytes[19 - count] = UInt8(0x30 + rest % 10)
                rest /= 10
                count += 1
            } while rest > 0
            buffer.writeBytes(UnsafeRawBufferPointer(rebasing: bytes[(20 - count)...]))
        }
    }

    private mutating func writeEscaped(_ value: String) {
        buffer.writeInteger(UInt8(ascii: "\""))
        // Fast path: almost every value (paths, addresses, ids) needs no escaping, so copy it whole.
        var value = value
        let copied = value.withUTF8 { bytes -> Bool in
            for byte in bytes where byte < 0x20 || byte == UInt8(ascii: "\"") || byte == UInt8(ascii: "\\") || byte == 0x7F {
                return false
            }
            buffer.writeBytes(bytes)
            return true
        }
        if copied {
            buffer.writeInteger(UInt8(ascii: "\""))
            return
        }
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
        var writer = JSONLineWriter(buffer: ByteBuffer())
        writer.field("t", rfc3339: unixNanos)
        // The writer emitted `"t":"…"`; keep what is between the quotes.
        let text = String(buffer: writer.buffer)
        return String(text.dropFirst(5).dropLast())
    }
}
