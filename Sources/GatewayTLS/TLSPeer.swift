#if canImport(Glibc)
import Glibc
#endif

/// What a client connection sends as SNI and checks the certificate against, for one endpoint.
public struct TLSPeer: Sendable, Equatable {
    public var serverName: String?
    public var verifiedName: String?
    public var verifiedNameIsAddress: Bool

    /// - Parameters:
    ///   - host: The endpoint's host as configured (a name, an IPv4 or an IPv6 literal without brackets).
    ///   - serverName: The configured `sni`, which wins over the host for both SNI and verification.
    public init(host: String, serverName: String?) {
        if let serverName {
            self.serverName = serverName
            self.verifiedName = serverName
            self.verifiedNameIsAddress = false
        } else if Self.isAddress(host) {
            // RFC 6066: SNI carries host names only; an address is checked against the IP SANs.
            self.serverName = nil
            self.verifiedName = host
            self.verifiedNameIsAddress = true
        } else {
            self.serverName = host
            self.verifiedName = host
            self.verifiedNameIsAddress = false
        }
    }

    /// Whether `host` is an IPv4 or IPv6 literal (no brackets).
    public static func isAddress(_ host: String) -> Bool {
        var v4 = in_addr()
        var v6 = in6_addr()
        return inet_pton(AF_INET, host, &v4) == 1 || inet_pton(AF_INET6, host, &v6) == 1
    }
}
