import CGatewayShims
import COpenSSL

/// A cluster's client SSL_CTX: CA store, client certificate, versions, ciphers and ALPN, built once at
/// config load and shared by every event loop (SSL_new on a shared SSL_CTX is thread-safe, and
/// nothing here changes after init).
public final class TLSClientContext: @unchecked Sendable {
    // @unchecked: the SSL_CTX is configured in init and never mutated afterwards.
    let context: OpaquePointer
    public let configuration: TLSClientConfiguration

    public init(_ configuration: TLSClientConfiguration) throws(TLSConfigurationError) {
        guard let context = SSL_CTX_new(TLS_client_method()) else {
            throw TLSConfigurationError("cannot create an SSL context: \(OpenSSLError.drain())")
        }
        self.context = context
        self.configuration = configuration
        // From here on deinit frees the context when a later step throws.
        guard pc_ssl_ctx_apply_client_defaults(UnsafeMutableRawPointer(context), configuration.minimumVersion.openSSLValue) == 1 else {
            throw TLSConfigurationError("cannot set TLS defaults: \(OpenSSLError.drain())")
        }
        if let ciphers = configuration.ciphers, SSL_CTX_set_cipher_list(context, ciphers) != 1 {
            throw TLSConfigurationError("invalid cipher list '\(ciphers)': \(OpenSSLError.drain())")
        }
        if configuration.verify {
            if let caFile = configuration.caFile {
                guard SSL_CTX_load_verify_locations(context, caFile, nil) == 1 else {
                    throw TLSConfigurationError("cannot load CA bundle \(caFile): \(OpenSSLError.drain())")
                }
            } else if SSL_CTX_set_default_verify_paths(context) != 1 {
                throw TLSConfigurationError("cannot load the system CA store: \(OpenSSLError.drain())")
            }
            SSL_CTX_set_verify(context, SSL_VERIFY_PEER, nil)
        } else {
            SSL_CTX_set_verify(context, SSL_VERIFY_NONE, nil)
        }
        if let files = configuration.clientCertificate {
            guard SSL_CTX_use_certificate_chain_file(context, files.certificateChain) == 1 else {
                throw TLSConfigurationError("cannot load certificate chain \(files.certificateChain): \(OpenSSLError.drain())")
            }
            guard SSL_CTX_use_PrivateKey_file(context, files.privateKey, SSL_FILETYPE_PEM) == 1 else {
                throw TLSConfigurationError("cannot load private key \(files.privateKey): \(OpenSSLError.drain())")
            }
            guard SSL_CTX_check_private_key(context) == 1 else {
                throw TLSConfigurationError("private key \(files.privateKey) does not match certificate \(files.certificateChain)")
            }
        }
        if !configuration.alpn.isEmpty {
            var wire: [UInt8] = []
            for name in configuration.alpn {
                guard !name.isEmpty, name.utf8.count < 256 else { throw TLSConfigurationError("invalid ALPN protocol '\(name)'") }
                wire.append(UInt8(name.utf8.count))
                wire.append(contentsOf: name.utf8)
            }
            // The one OpenSSL setter that returns 0 on success.
            guard SSL_CTX_set_alpn_protos(context, wire, UInt32(wire.count)) == 0 else {
                throw TLSConfigurationError("cannot set ALPN protocols: \(OpenSSLError.drain())")
            }
        }
        if configuration.sessionResumption {
            SSL_CTX_sess_set_new_cb(context, clientSessionArrived)
        }
    }

    deinit { SSL_CTX_free(context) }

    /// A new client-side SSL object for `peer`, not yet attached to any I/O.
    func makeConnection(peer: TLSPeer) -> OpaquePointer? {
        guard let ssl = SSL_new(context) else { return nil }
        let raw = UnsafeMutableRawPointer(ssl)
        if let name = peer.serverName, pc_ssl_set_sni(raw, name) != 1 {
            SSL_free(ssl)
            return nil
        }
        if configuration.verify, let name = peer.verifiedName, pc_ssl_verify_peer_name(raw, name, peer.verifiedNameIsAddress ? 1 : 0) != 1 {
            SSL_free(ssl)
            return nil
        }
        return ssl
    }
}

/// OpenSSL hands every new client session here (TLS 1.2 at the end of the handshake, TLS 1.3 with each
/// NewSessionTicket); the handler that owns the SSL keeps it for the next connection to that endpoint.
private let clientSessionArrived: @convention(c) (OpaquePointer?, OpaquePointer?) -> Int32 = { ssl, session in
    guard let ssl, let session, let owner = SSL_get_ex_data(ssl, 0) else { return 0 }
    let handler = Unmanaged<TLSClientHandler>.fromOpaque(owner).takeUnretainedValue()
    // 1: the handler took over the reference OpenSSL passed.
    return handler.sessionArrived(session) ? 1 : 0
}
