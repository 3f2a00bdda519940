import CGatewayShims
import COpenSSL

/// The SSL_CTX of every certificate of a listener and the names each serves. The SNI callback picks a
/// context by exact name, then by wildcard (`*.example.com` covers one label), else the first
/// certificate. Built once at load and never mutated, so sharing it across event loops is safe.
public final class TLSContextStore: @unchecked Sendable {
    // @unchecked: the SSL_CTX pointers and tables are immutable after init; OpenSSL's SSL_CTX is safe to
    // share between threads for creating connections.
    struct Entry {
        let context: OpaquePointer
        let names: [String]
    }

    let entries: [Entry]
    private let exact: [String: Int]
    private let wildcard: [String: Int]
    /// ALPN protocols in wire format (length-prefixed), kept alive for the callback's `out` pointer.
    let alpnWire: UnsafeMutableBufferPointer<UInt8>

    public var defaultContext: OpaquePointer { entries[0].context }

    /// TLS 1.2 suites when the config names none: forward secrecy and AEAD only (Mozilla's
    /// "intermediate" list). TLS 1.3 suites are OpenSSL's defaults, all of which qualify.
    public static let defaultCiphers = "ECDHE-ECDSA-AES128-GCM-SHA256:ECDHE-RSA-AES128-GCM-SHA256:ECDHE-ECDSA-AES256-GCM-SHA384:"
        + "ECDHE-RSA-AES256-GCM-SHA384:ECDHE-ECDSA-CHACHA20-POLY1305:ECDHE-RSA-CHACHA20-POLY1305"

    public init(certificates: [TLSCertificateFiles], alpn: [String], ciphers: String = TLSContextStore.defaultCiphers,
                clientVerification: TLSClientVerification? = nil, ticketKeys: TLSSessionTicketKeys? = nil) throws(TLSConfigurationError) {
        guard !certificates.isEmpty else { throw TLSConfigurationError("a TLS listener needs at least one certificate") }
        var wire: [UInt8] = []
        for protocolName in alpn {
            wire.append(UInt8(protocolName.utf8.count))
            wire.append(contentsOf: protocolName.utf8)
        }
        alpnWire = .allocate(capacity: max(1, wire.count))
        _ = alpnWire.initialize(from: wire)
        var entries: [Entry] = []
        var exact: [String: Int] = [:]
        var wildcard: [String: Int] = [:]
        for files in certificates {
            let context = try Self.makeContext(files, ciphers: ciphers)
            if let clientVerification,
               pc_ssl_ctx_verify_clients(UnsafeMutableRawPointer(context), clientVerification.caFile, clientVerification.required ? 1 : 0) != 1 {
                SSL_CTX_free(context)
                throw TLSConfigurationError("cannot load client CA \(clientVerification.caFile): \(OpenSSLError.drain())")
            }
            if let ticketKeys, !ticketKeys.attach(to: context) {
                SSL_CTX_free(context)
                throw TLSConfigurationError("cannot install session-ticket keys: \(OpenSSLError.drain())")
            }
            let names = Self.names(of: context)
            for name in names {
                let lower = name.lowercased()
                if lower.hasPrefix("*.") {
                    if wildcard[String(lower.dropFirst(2))] == nil { wildcard[String(lower.dropFirst(2))] = entries.count }
                } else if exact[lower] == nil {
                    exact[lower] = entries.count
                }
            }
            entries.append(Entry(context: context, names: names))
        }
        self.entries = entries
        self.exact = exact
        self.wildcard = wildcard
        let unmanaged = Unmanaged.passUnretained(self).toOpaque()
        for entry in entries {
            // ALPN must be set on every context: after SNI switches contexts, OpenSSL uses the new one's.
            SSL_CTX_set_alpn_select_cb(entry.context, alpnSelect, unmanaged)
        }
        // With one certificate every name gets it: no SNI callback (and its per-handshake lookup) at all.
        if entries.count > 1 {
            pc_ssl_ctx_set_servername_callback(UnsafeMutableRawPointer(entries[0].context), serverNameSelect, unmanaged)
        }
    }

    deinit {
        for entry in entries { SSL_CTX_free(entry.context) }
        alpnWire.deallocate()
    }

    /// The context for a requested server name: exact, then wildcard, then the default.
    func context(forServerName name: String?) -> OpaquePointer {
        guard var name else { return defaultContext }
        if name.utf8.contains(where: { $0 >= UInt8(ascii: "A") && $0 <= UInt8(ascii: "Z") }) { name = name.lowercased() }
        if let index = exact[name] { return entries[index].context }
        if !wildcard.isEmpty, let dot = name.firstIndex(of: "."), let index = wildcard[String(name[name.index(after: dot)...])] {
            return entries[index].context
        }
        return defaultContext
    }

    /// A new server-side SSL object, not yet attached to any I/O.
    func makeConnection() -> OpaquePointer? { SSL_new(defaultContext) }

    private static func makeContext(_ files: TLSCertificateFiles, ciphers: String) throws(TLSConfigurationError) -> OpaquePointer {
        guard let context = SSL_CTX_new(TLS_server_method()) else { throw TLSConfigurationError("cannot create an SSL context: \(OpenSSLError.drain())") }
        guard pc_ssl_ctx_apply_defaults(UnsafeMutableRawPointer(context)) == 1 else {
            SSL_CTX_free(context)
            throw TLSConfigurationError("cannot set TLS defaults: \(OpenSSLError.drain())")
        }
        guard SSL_CTX_set_cipher_list(context, ciphers) == 1 else {
            SSL_CTX_free(context)
            throw TLSConfigurationError("invalid cipher list '\(ciphers)': \(OpenSSLError.drain())")
        }
        guard SSL_CTX_use_certificate_chain_file(context, files.certificateChain) == 1 else {
            SSL_CTX_free(context)
            throw TLSConfigurationError("cannot load certificate chain \(files.certificateChain): \(OpenSSLError.drain())")
        }
        guard SSL_CTX_use_PrivateKey_file(context, files.privateKey, SSL_FILETYPE_PEM) == 1 else {
            SSL_CTX_free(context)
            throw TLSConfigurationError("cannot load private key \(files.privateKey): \(OpenSSLError.drain())")
        }
        guard SSL_CTX_check_private_key(context) == 1 else {
            SSL_CTX_free(context)
            throw TLSConfigurationError("private key \(files.privateKey) does not match certificate \(files.certificateChain)")
        }
        return context
    }

    private static func names(of context: OpaquePointer) -> [String] {
        var buffer = [CChar](repeating: 0, count: 8192)
        let length = pc_ssl_ctx_certificate_names(UnsafeMutableRawPointer(context), &buffer, Int32(buffer.count))
        guard length > 0 else { return [] }
        let bytes = buffer.prefix(Int(length)).map { UInt8(bitPattern: $0) }
        return String(decoding: bytes, as: UTF8.self).split(separator: "\n").map(String.init)
    }
}

/// SNI: switch the connection to the context of the requested name.
private let serverNameSelect: pc_servername_callback = { ssl, _, arg in
    guard let ssl, let arg else { return 0 }
    let store = Unmanaged<TLSContextStore>.fromOpaque(arg).takeUnretainedValue()
    let name = pc_ssl_servername(ssl).map { String(cString: $0) }
    let context = store.context(forServerName: name)
    if context != store.defaultContext { SSL_set_SSL_CTX(OpaquePointer(ssl), context) }
    return 0
}

/// ALPN: the first of the listener's protocols the client also offers; none in common means HTTP/1.1.
private let alpnSelect: @convention(c) (OpaquePointer?, UnsafeMutablePointer<UnsafePointer<UInt8>?>?, UnsafeMutablePointer<UInt8>?,
                                        UnsafePointer<UInt8>?, UInt32, UnsafeMutableRawPointer?) -> Int32 = { _, out, outlen, input, inlen, arg in
    guard let arg, let out, let outlen, let input else { return SSL_TLSEXT_ERR_NOACK }
    let store = Unmanaged<TLSContextStore>.fromOpaque(arg).takeUnretainedValue()
    return pc_ssl_select_alpn(out, outlen, store.alpnWire.baseAddress, UInt32(store.alpnWire.count), input, inlen)
}

enum OpenSSLError {
    /// The thread's OpenSSL error queue as text, emptied.
    static func drain() -> String {
        var messages: [String] = []
        while true {
            let code = ERR_get_error()
            if code == 0 { break }
            var buffer = [UInt8](repeating: 0, count: 256)
            buffer.withUnsafeMutableBufferPointer { out in
                out.withMemoryRebound(to: CChar.self) { ERR_error_string_n(code, $0.baseAddress, $0.count) }
            }
            messages.append(String(decoding: buffer.prefix { $0 != 0 }, as: UTF8.self))
        }
        return messages.isEmpty ? "unknown OpenSSL error" : messages.joined(separator: "; ")
    }
}
