import CGatewayShims

/// Facts about the system OpenSSL the gateway is linked against. TLS termination itself arrives with
/// the edge-listener work; this is what the startup log and `portcullis version` report.
public enum OpenSSLLibrary {
    public static var version: String { String(cString: pc_openssl_version()) }
}
