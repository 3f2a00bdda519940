import HTTPTypes

/// `headers`' config: edits per direction and the two request rewrites.
public struct HeadersFilterConfig: Sendable, Equatable {
    public var request = HeaderEdits()
    public var response = HeaderEdits()
    /// Replaces a leading path prefix: `/api/` → `/v1/` turns `/api/users?q=1` into `/v1/users?q=1`.
    public var pathPrefixRewrite: (from: String, to: String)?
    /// The authority (Host) the upstream sees.
    public var hostRewrite: String?

    public init() {}

    public static func == (a: HeadersFilterConfig, b: HeadersFilterConfig) -> Bool {
        a.request == b.request && a.response == b.response && a.hostRewrite == b.hostRewrite
            && a.pathPrefixRewrite?.from == b.pathPrefixRewrite?.from && a.pathPrefixRewrite?.to == b.pathPrefixRewrite?.to
    }

    var rewritesRequest: Bool { !request.isEmpty || pathPrefixRewrite != nil || hostRewrite != nil }

    /// The path after the prefix rewrite; nil when the prefix does not match.
    func rewrittenPath(_ path: String) -> String? {
        guard let (from, to) = pathPrefixRewrite, path.hasPrefix(from) else { return nil }
        return to + path.dropFirst(from.count)
    }
}
