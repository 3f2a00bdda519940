/// What the TLS handshake of the client's connection established, for filters (and the access log).
public struct DownstreamTLS: Sendable, Equatable {
    /// The SNI name the client asked for.
    public var serverName: String?
    /// The verified client certificate's subject (RFC 2253); nil without mTLS or without a certificate.
    public var clientSubject: String?
    /// The verified client certificate's subject alternative names: `DNS:…`, `URI:…` (e.g. SPIFFE ids), `email:…`.
    public let clientSANs: [String]
    /// `clientSANs` comma-separated as the access log prints them; nil when there are none. Joined once
    /// per connection, not per request.
    public let clientSANsJoined: String?

    public init(serverName: String?, clientSubject: String?, clientSANs: [String]) {
        self.serverName = serverName
        self.clientSubject = clientSubject
        self.clientSANs = clientSANs
        self.clientSANsJoined = clientSANs.isEmpty ? nil : clientSANs.joined(separator: ",")
    }
}
