import HTTPTypes
import NIOCore

/// The response to `FilterContext.httpCall`, collected whole.
public struct FilterHTTPResponse: Sendable {
    /// A larger response body fails the call with `.responseTooLarge`.
    public static let maxBodyBytes = 1 << 20

    public var status: HTTPResponse.Status
    public var headerFields: HTTPFields
    public var body: ByteBuffer

    public init(status: HTTPResponse.Status, headerFields: HTTPFields, body: ByteBuffer) {
        self.status = status
        self.headerFields = headerFields
        self.body = body
    }
}

/// Why a `FilterContext.httpCall` failed.
public enum FilterHTTPCallError: Error, Sendable, Equatable, CustomStringConvertible {
    case unknownCluster(String)
    case timeout
    /// No endpoint, connect failure, reset, or an invalid response.
    case upstream(String)
    case responseTooLarge
    /// The context cannot make calls (a test double, or a gateway build without the feature).
    case unsupported

    public var description: String {
        switch self {
        case .unknownCluster(let name): "unknown cluster '\(name)'"
        case .timeout: "timeout"
        case .upstream(let reason): reason
        case .responseTooLarge: "response body larger than \(FilterHTTPResponse.maxBodyBytes) bytes"
        case .unsupported: "http calls are not supported here"
        }
    }
}

/// Defaults for contexts that do not implement the later additions (test doubles): nothing is editable
/// and calls fail.
extension FilterContext {
    public func redactLoggedQueryParameter(_ name: String) {}
    public func randomWord() -> UInt64 { UInt64.random(in: 0...UInt64.max) }
    public func startSpan(name: String, kind: FilterSpan.Kind) -> FilterSpan { .inert }
    public var traceID: String { "" }
    public func modifyRequestHead(_ edit: (inout HTTPRequest) -> Void) -> Bool { false }
    public func modifyResponseHead(_ edit: (inout HTTPResponse) -> Void) -> Bool { false }
    public func httpCall(cluster: String, request: HTTPRequest, body: ByteBuffer?, timeout: TimeAmount) -> EventLoopFuture<FilterHTTPResponse> {
        eventLoop.makeFailedFuture(FilterHTTPCallError.unsupported)
    }
    public func httpCall(cluster: String, request: HTTPRequest, body: ByteBuffer?, timeout: TimeAmount, parent: FilterSpan?) -> EventLoopFuture<FilterHTTPResponse> {
        httpCall(cluster: cluster, request: request, body: body, timeout: timeout)
    }
    public func startSpan(name: String, kind: FilterSpan.Kind, parent: FilterSpan?) -> FilterSpan { startSpan(name: name, kind: kind) }
}
