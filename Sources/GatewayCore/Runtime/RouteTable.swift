import NIOCore

/// One route, compiled at config load: its matcher and everything a request on it needs.
///
/// A class: a request holds its route by one reference instead of copying (and retaining) every field.
public final class Route: Sendable {
    /// Position in the listener's route list (metrics label it).
    public let index: Int
    public let match: RouteMatch
    public let clusterIndex: Int
    public let clusterName: String
    public let maxBodyBytes: Int64?
    public let requestTimeout: TimeAmount?
    /// The listener's filters, then the route's: what a request on this route passes.
    public let filterChain: FilterChain
    /// WebSocket handshakes are passed on (`Upgrade`) and become tunnels.
    public let websocket: Bool

    public init(index: Int, match: RouteMatch, clusterIndex: Int, clusterName: String, maxBodyBytes: Int64?,
                requestTimeout: TimeAmount?, filterChain: FilterChain, websocket: Bool = true) {
        self.index = index
        self.match = match
        self.clusterIndex = clusterIndex
        self.clusterName = clusterName
        self.maxBodyBytes = maxBodyBytes
        self.requestTimeout = requestTimeout
        self.filterChain = filterChain
        self.websocket = websocket
    }
}

/// Routes in config order; the first match wins, as in Envoy and HAProxy.
public struct RouteTable: Sendable {
    public let routes: [Route]

    public init(routes: [Route]) { self.routes = routes }

    /// `authority` as received (may carry a port); `path` with its query.
    public func match(authority: String?, path: String) -> Route? {
        // Most route tables never look at the host: split it off the authority only when one does.
        var host: Substring?? = .none
        for route in routes {
            if route.match.host != nil && host == nil { host = .some(authority.map(Self.hostWithoutPort)) }
            if Self.matches(route.match, host: host ?? nil, path: path) { return route }
        }
        return nil
    }

    static func matches(_ match: RouteMatch, host: Substring?, path: String) -> Bool {
        if let expected = match.host {
            guard let host, hostMatches(expected, host) else { return false }
        }
        if let exact = match.path {
            let bytes = path.utf8
            let pathOnly = bytes.firstIndex(of: UInt8(ascii: "?")).map { bytes[..<$0] } ?? bytes[...]
            return pathOnly.elementsEqual(exact.utf8)
        }
        if let prefix = match.pathPrefix {
            // Byte comparison: paths are ASCII (the parser refuses anything else), and String's
            // `hasPrefix` would compare grapheme by grapheme.
            return path.utf8.starts(with: prefix.utf8)
        }
        return true
    }

    /// Exact (case-insensitive) or `*.example.com`, which matches `a.example.com` and `a.b.example.com`
    /// but not `example.com`.
    static func hostMatches(_ pattern: String, _ host: Substring) -> Bool {
        // Patterns are lowercased at load; hosts are compared byte by byte, folding ASCII case, with no
        // lowercased copy.
        let hostBytes = host.utf8
        if pattern.hasPrefix("*.") {
            let suffix = pattern.utf8.dropFirst(1)
            return hostBytes.count > suffix.count && asciiCaseInsensitiveEqual(hostBytes.suffix(suffix.count), suffix)
        }
        return asciiCaseInsensitiveEqual(hostBytes, pattern.utf8)
    }

    private static func asciiCaseInsensitiveEqual<A: Collection<UInt8>, B: Collection<UInt8>>(_ a: A, _ b: B) -> Bool {
        a.count == b.count && zip(a, b).allSatisfy { x, y in (x >= 0x41 && x <= 0x5A ? x | 0x20 : x) == y }
    }

    static func hostWithoutPort(_ authority: String) -> Substring {
        let bytes = authority.utf8
        if bytes.first == UInt8(ascii: "[") {
            if let close = bytes.firstIndex(of: UInt8(ascii: "]")) { return authority[...close] }
            return Substring(authority)
        }
        if let colon = bytes.lastIndex(of: UInt8(ascii: ":")) { return authority[..<colon] }
        return Substring(authority)
    }
}
