/// What a PROXY protocol header (v1 or v2) says about the connection the L4 tier accepted.
public struct ProxyProtocolHeader: Equatable, Sendable {
    public enum Version: Sendable { case v1, v2 }

    public var version: Version
    /// The original client as `ip:port` (`[ip]:port` for IPv6); nil for `UNKNOWN` (v1) or `LOCAL` (v2),
    /// where the connection's own peer address stands.
    public var source: String?
    public var destination: String?
    /// Bytes the header occupied, consumed before HTTP starts.
    public var length: Int
}

/// Why a PROXY protocol header was refused; the connection is closed.
public struct ProxyProtocolError: Error, Equatable, Sendable, CustomStringConvertible {
    public var reason: String
    public init(_ reason: String) { self.reason = reason }
    public var description: String { reason }
}
