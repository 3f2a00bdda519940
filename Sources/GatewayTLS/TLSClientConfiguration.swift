/// The lowest TLS version a client context accepts.
public enum TLSProtocolVersion: String, Sendable, CaseIterable {
    case v1_2 = "1.2"
    case v1_3 = "1.3"

    var openSSLValue: Int32 { self == .v1_2 ? 0x0303 : 0x0304 }
}

/// How the gateway speaks TLS to one cluster's endpoints.
public struct TLSClientConfiguration: Sendable, Equatable {
    /// PEM bundle of the CAs upstream certificates must chain to; nil: the system store.
    public var caFile: String?
    /// Whether the upstream's certificate chain and name are checked. Off only for tests and migrations.
    public var verify: Bool = true
    /// The SNI name sent and verified; nil: the endpoint's host when it is a name (an IP address is
    /// verified against the certificate's IP SANs and sends no SNI).
    public var serverName: String?
    /// mTLS: the certificate the gateway presents to upstreams that ask for one.
    public var clientCertificate: TLSCertificateFiles?
    public var minimumVersion: TLSProtocolVersion = .v1_2
    /// TLS 1.2 cipher list in OpenSSL syntax; nil: OpenSSL's defaults. TLS 1.3 suites are OpenSSL's.
    public var ciphers: String?
    /// ALPN protocols offered, in order of preference; empty: no ALPN extension.
    public var alpn: [String] = []
    /// Whether a connection resumes the session of an earlier one to the same endpoint (per event loop).
    public var sessionResumption: Bool = true

    public init() {}
}
