/// The request-target rules the HTTP/1.1 parser enforces, for other front ends (HTTP/2) to apply the
/// same way: a request refused on one protocol must not pass on another.
public enum RequestTargetRules {
    /// True when a path segment (before any query) is `.` or `..`, also spelled with `%2e`.
    public static func hasDotSegment(_ path: String) -> Bool {
        var path = path
        return path.withUTF8 { HTTP1Syntax.hasDotSegment(UnsafeRawBufferPointer($0)) }
    }

    /// uri-host [ ":" port ]: what `Host` (and `:authority`) may hold.
    public static func isValidAuthority(_ authority: String) -> Bool {
        HTTP1Syntax.isValidHost(authority)
    }
}
