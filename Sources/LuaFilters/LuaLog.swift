import GatewayFilterAPI
import NIOConcurrencyHelpers

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Script diagnostics and `gw.log.*` as JSON lines on stderr:
/// `{"time":"2025-01-01T12:00:00.123Z","level":"warn","source":"lua","script":"lua/x.lua","request_id":"…","trace_id":"…","message":"…"}`.
/// Rare by nature (script errors, explicit log calls), so a lock around the optional test tap is fine.
public enum LuaLog {
    private static let tap = NIOLockedValueBox<(@Sendable (String) -> Void)?>(nil)

    /// Also hands every line to `observer` (tests); nil stops that.
    public static func setObserver(_ observer: (@Sendable (String) -> Void)?) {
        tap.withLockedValue { $0 = observer }
    }

    static func emit(level: String, script: String, requestID: String?, traceID: String? = nil, message: String, extra: [(String, String)] = []) {
        var line = "{\"time\":\"\(timestamp())\",\"level\":\"\(level)\",\"source\":\"lua\",\"script\":\(JSONText.quoted(script))"
        line += ",\"request_id\":" + (requestID.map(JSONText.quoted) ?? "null")
        line += ",\"trace_id\":" + (traceID.flatMap { $0.isEmpty ? nil : JSONText.quoted($0) } ?? "null")
        for (key, value) in extra { line += ",\(JSONText.quoted(key)):\(JSONText.quoted(value))" }
        line += ",\"message\":\(JSONText.quoted(message))}\n"
        var bytes = line
        bytes.withUTF8 { _ = write(2, $0.baseAddress, $0.count) }
        if let observer = tap.withLockedValue({ $0 }) { observer(line) }
    }

    private static func timestamp() -> String {
        var now = timespec()
        clock_gettime(CLOCK_REALTIME, &now)
        var parts = tm()
        var seconds = now.tv_sec
        gmtime_r(&seconds, &parts)
        func two(_ value: Int32) -> String { value < 10 ? "0\(value)" : "\(value)" }
        let millis = Int(now.tv_nsec / 1_000_000)
        let ms = millis < 10 ? "00\(millis)" : millis < 100 ? "0\(millis)" : "\(millis)"
        return "\(parts.tm_year + 1900)-\(two(parts.tm_mon + 1))-\(two(parts.tm_mday))T\(two(parts.tm_hour)):\(two(parts.tm_min)):\(two(parts.tm_sec)).\(ms)Z"
    }
}
