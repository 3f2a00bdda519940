/// One certificate chain and its key, as PEM files.
public struct TLSCertificateFiles: Sendable, Equatable {
    public var certificateChain: String
    public var privateKey: String

    public init(certificateChain: String, privateKey: String) {
        self.certificateChain = certificateChain
        self.privateKey = privateKey
    }
}

/// Why TLS configuration could not be loaded, with OpenSSL's own reason.
public struct TLSConfigurationError: Error, CustomStringConvertible, Sendable {
    public var message: String
    public init(_ message: String) { self.message = message }
    public var description: String { message }
}

/// mTLS: verify client certificates against a CA bundle; `required` refuses clients without one.
public struct TLSClientVerification: Sendable, Equatable {
    public var caFile: String
    public var required: Bool

    public init(caFile: String, required: Bool) {
        self.caFile = caFile
        self.required = required
    }
}
