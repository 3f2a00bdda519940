import NIOConcurrencyHelpers
#if canImport(Glibc)
import Glibc
#endif

/// A listener's TLS contexts that can be replaced while it serves: new connections take the current
/// store, connections already open keep the one they started with (each handler holds it), so a
/// reload drops nothing. A reload that fails (a bad file, a key that does not match) keeps the old
/// certificates and reports why.
public final class ReloadableTLSContextStore: Sendable {
    private let certificates: [TLSCertificateFiles]
    private let alpn: [String]
    private let ciphers: String
    private let clientVerification: TLSClientVerification?
    /// Session-ticket keys shared by every generation of contexts, so a reload keeps tickets valid.
    public let ticketKeys: TLSSessionTicketKeys
    private let state: NIOLockedValueBox<(store: TLSContextStore, stamps: [FileStamp])>

    /// What tells a changed file apart: modification time (ns) and size.
    struct FileStamp: Equatable, Sendable {
        var modifiedNanoseconds: Int
        var size: Int
    }

    public init(certificates: [TLSCertificateFiles], alpn: [String], ciphers: String,
                clientVerification: TLSClientVerification? = nil, ticketKeys: TLSSessionTicketKeys? = nil) throws(TLSConfigurationError) {
        let keys: TLSSessionTicketKeys
        if let ticketKeys { keys = ticketKeys } else { keys = try TLSSessionTicketKeys() }
        let ticketKeys = keys
        self.ticketKeys = ticketKeys
        self.certificates = certificates
        self.alpn = alpn
        self.ciphers = ciphers
        self.clientVerification = clientVerification
        let store = try TLSContextStore(certificates: certificates, alpn: alpn, ciphers: ciphers, clientVerification: clientVerification,
                                        ticketKeys: ticketKeys)
        self.state = NIOLockedValueBox((store, Self.stamps(certificates, ticketKeys.keyFiles)))
    }

    /// Whether ALPN may choose HTTP/2 on this listener.
    public var offersHTTP2: Bool { alpn.contains("h2") }

    /// The store for a new connection. One lock per accepted TLS connection, none per request.
    public var current: TLSContextStore { state.withLockedValue { $0.store } }

    public enum ReloadResult: Equatable, Sendable {
        case unchanged
        case reloaded
        case failed(String)
    }

    /// Rebuilds the contexts if any file changed (or always, with `force`, as on SIGHUP).
    public func reload(force: Bool) -> ReloadResult {
        let stamps = Self.stamps(certificates, ticketKeys.keyFiles)
        if !force && stamps == state.withLockedValue({ $0.stamps }) { return .unchanged }
        do {
            try ticketKeys.reloadFiles()
            let store = try TLSContextStore(certificates: certificates, alpn: alpn, ciphers: ciphers, clientVerification: clientVerification,
                                            ticketKeys: ticketKeys)
            state.withLockedValue { $0 = (store, stamps) }
            return .reloaded
        } catch {
            // Remember the stamps so a broken file is reported once, not on every check.
            state.withLockedValue { $0.stamps = stamps }
            return .failed(error.message)
        }
    }

    static func stamps(_ certificates: [TLSCertificateFiles], _ extraFiles: [String] = []) -> [FileStamp] {
        (certificates.flatMap { [$0.certificateChain, $0.privateKey] } + extraFiles).map { path in
            var info = stat()
            guard stat(path, &info) == 0 else { return FileStamp(modifiedNanoseconds: -1, size: -1) }
            return FileStamp(modifiedNanoseconds: Int(info.st_mtim.tv_sec) * 1_000_000_000 + Int(info.st_mtim.tv_nsec), size: Int(info.st_size))
        }
    }
}
