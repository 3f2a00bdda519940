import NIOCore

/// One route, compiled at config load: its matcher and everything a request on it needs.
public struct Route: Sendable {
    /// Position in the listener's route list (metrics label it).
    public let index: Int
    public let match: RouteMatch
    public let clusterIndex: Int
    public let clusterName: String
    public let maxBodyBytes: Int64?
    public let requestTimeout: TimeAmount?
    /// The listener's filters, then the route's: what a request on this route passes.
    public let filterChain: FilterChain
}

/// Routes in config order; the first match wins, as in Envoy and HAProxy.
public struct RouteTable: Sendable {
    public let routes: [Route]

    public init(routes: [Route]) { self.routes = routes }

    /// `authority` as received (may carry a port); `path` with its query.
    public func match(authority: String?, path: String) -> Route? {
        let host = authority.map(Self.hostWithoutPort)
        for route in routes where Self.matches(route.match, host: host, path: path) {
            return route
        }
        return nil
    }

    static func matches(_ match: RouteMatch, host: Substring?, path: String) -> Bool {
        if let expected = match.host {
            guard let host, hostMatches(expected, host) else { return false }
        }
        if let exact = match.path {
            let pathOnly = path.firstIndex(of: "?").map { path[..<$0] } ?? Substring(path)
            return pathOnly == exact
        }
        if let prefix = match.pathPrefix {
            return path.hasPrefix(prefix)
        }
        return true
    }

    /// Exact (case-insensitive) or `*.example.com`, which matches `a.example.com` and `a.b.example.com`
    /// but not `example.com`.
    static func hostMatches(_ pattern: String, _ host: Substring) -> Bool {
        if pattern.hasPrefix("*.") {
            let suffix = pattern.dropFirst(1)
            return host.count > suffix.count && host.lowercased().hasSuffix(suffix)
        }
        return host.count == pattern.count && host.lowercased() == pattern
    }

    static func hostWithoutPort(_ authority: String) -> Substring {
        if authority.hasPrefix("[") {
            if let close = authority.firstIndex(of: "]") { return authority[...close] }
            return Substring(authority)
        }
        if let colon = authority.lastIndex(of: ":") { return authority[..<colon] }
        return Substring(authority)
    }
}
