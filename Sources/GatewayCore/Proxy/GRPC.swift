import HTTPTypes
import NIOCore

/// What the gateway needs to know about gRPC (over HTTP/2, `content-type: application/grpc...`): the
/// request's deadline (`grpc-timeout`), and how its own errors must look so that a gRPC client sees a
/// status rather than a transport failure: HTTP 200, trailers-only, `grpc-status` and `grpc-message`
/// (as Envoy answers).
enum GRPC {
    static let timeoutName = HTTPField.Name("grpc-timeout")!
    static let statusName = HTTPField.Name("grpc-status")!
    static let messageName = HTTPField.Name("grpc-message")!

    /// Whether a request is gRPC. Only POSTs are looked at, so other requests pay one comparison.
    static func isGRPC(_ request: HTTPRequest) -> Bool {
        isGRPC(method: request.method, contentType: request.method == .post ? request.headerFields.firstValue(.contentType) : nil)
    }

    static func isGRPC(method: HTTPRequest.Method, contentType: String?) -> Bool {
        guard method == .post, let contentType else { return false }
        return contentType.utf8.starts(with: "application/grpc".utf8)
    }

    /// `grpc-timeout`: at most 8 digits and a unit (H, M, S, m, u, n). Nil when absent or malformed.
    static func timeout(_ request: HTTPRequest) -> TimeAmount? {
        guard let text = request.headerFields.firstValue(timeoutName), let unit = text.utf8.last, text.utf8.count >= 2, text.utf8.count <= 9,
              let value = Int64(text.dropLast()), value >= 0 else { return nil }
        switch unit {
        case UInt8(ascii: "H"): return .hours(value)
        case UInt8(ascii: "M"): return .minutes(value)
        case UInt8(ascii: "S"): return .seconds(value)
        case UInt8(ascii: "m"): return .milliseconds(value)
        case UInt8(ascii: "u"): return .microseconds(value)
        case UInt8(ascii: "n"): return .nanoseconds(value)
        default: return nil
        }
    }

    /// A `grpc-timeout` value for `remaining` (none left: `0m`): milliseconds, or the first coarser unit
    /// whose count fits the header's eight digits. Rounded down, so the upstream gives up no later than
    /// the gateway does.
    static func timeoutValue(_ remaining: TimeAmount) -> String {
        let milliseconds = max(0, remaining.nanoseconds / 1_000_000)
        if milliseconds <= 99_999_999 { return "\(milliseconds)m" }
        let seconds = milliseconds / 1000
        if seconds <= 99_999_999 { return "\(seconds)S" }
        return "\(min(seconds / 60, 99_999_999))M"
    }

    /// The gRPC status for an error the gateway answers itself: its own timeouts are DEADLINE_EXCEEDED,
    /// the rest follows gRPC's HTTP-to-gRPC mapping (502/503/504 UNAVAILABLE, 404 UNIMPLEMENTED, ...).
    static func status(for error: GatewayError) -> Int {
        switch error.status.code {
        case 504: 4                 // DEADLINE_EXCEEDED
        case 502, 503, 429: 14      // UNAVAILABLE
        case 400: 13                // INTERNAL
        case 401: 16                // UNAUTHENTICATED
        case 403: 7                 // PERMISSION_DENIED
        case 404: 12                // UNIMPLEMENTED
        case 413: 8                 // RESOURCE_EXHAUSTED
        default: 2                  // UNKNOWN
        }
    }

    /// A trailers-only response: one HEADERS frame that ends the stream. `content-length: 0` lets an
    /// HTTP/1.1 client (not a real gRPC client, but curl) see the end too.
    static func localReply(_ error: GatewayError) -> HTTPResponse {
        var response = HTTPResponse(status: .ok)
        response.headerFields[.contentType] = "application/grpc"
        response.headerFields[statusName] = String(status(for: error))
        response.headerFields[messageName] = percentEncoded(error.publicMessage.trimmingSuffix("\n"))
        response.headerFields[.contentLength] = "0"
        return response
    }

    /// grpc-message is percent-encoded outside printable ASCII (and `%` itself).
    static func percentEncoded(_ text: String) -> String {
        var out = ""
        for byte in text.utf8 {
            if byte >= 0x20 && byte <= 0x7E && byte != UInt8(ascii: "%") {
                out.unicodeScalars.append(Unicode.Scalar(byte))
            } else {
                let hex = String(byte, radix: 16, uppercase: true)
                out += "%" + (hex.count == 1 ? "0" + hex : hex)
            }
        }
        return out
    }
}

private extension String {
    func trimmingSuffix(_ suffix: String) -> String {
        hasSuffix(suffix) ? String(dropLast(suffix.count)) : self
    }
}
