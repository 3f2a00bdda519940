/// `redirect:` keys; see README.md.
public struct RedirectFilterConfig: Sendable, Equatable {
    /// `http` or `https`; nil keeps the request's.
    public var scheme: String?
    /// The host to send the client to (no port); nil keeps the request's.
    public var host: String?
    /// The port; nil keeps the request's, except that a scheme change drops it (the new scheme's default).
    public var port: Int?
    /// The whole new path; nil keeps the request's.
    public var path: String?
    /// Replaces a leading `from` of the path with `to` (ignored when `path` is set).
    public var prefixRewrite: PrefixRewrite?
    public var stripQuery = false
    public var status = 301

    public struct PrefixRewrite: Sendable, Equatable {
        public var from: String
        public var to: String
    }

    public init() {}

    /// The `Location` for a request to `authority` (`host[:port]`, or nil) and `path` (with its query), on a
    /// listener whose scheme is `requestScheme`.
    /// Nil when the request names no host (an HTTP/1.0 request without `Host`) and `host` is not set.
    func location(requestScheme: String, authority: String?, path requestPath: String) -> String? {
        let scheme = self.scheme ?? requestScheme
        let (requestHost, requestPort) = Self.split(authority ?? "")
        if host == nil && requestHost.isEmpty { return nil }
        let host = self.host ?? requestHost
        var port: Int? = self.port
        if port == nil, self.scheme == nil || self.scheme == requestScheme { port = requestPort }
        if port == (scheme == "https" ? 443 : 80) { port = nil }

        let questionMark = requestPath.firstIndex(of: "?")
        var path = questionMark.map { String(requestPath[..<$0]) } ?? requestPath
        let query = questionMark.map { String(requestPath[$0...]) } ?? ""
        if let newPath = self.path {
            path = newPath
        } else if let rewrite = prefixRewrite, path.hasPrefix(rewrite.from) {
            path = rewrite.to + path.dropFirst(rewrite.from.count)
        }
        if path.isEmpty { path = "/" }
        return "\(scheme)://\(host)\(port.map { ":\($0)" } ?? "")\(path)\(stripQuery ? "" : query)"
    }

    /// `host[:port]` or `[v6][:port]`.
    static func split(_ authority: String) -> (host: String, port: Int?) {
        if authority.hasPrefix("["), let close = authority.firstIndex(of: "]") {
            let host = String(authority[...close])
            let rest = authority[authority.index(after: close)...]
            return (host, rest.hasPrefix(":") ? Int(rest.dropFirst()) : nil)
        }
        if let colon = authority.lastIndex(of: ":") {
            return (String(authority[..<colon]), Int(authority[authority.index(after: colon)...]))
        }
        return (authority, nil)
    }
}
