import GatewayTLS
import Upstream

/// A cluster's `tls:` section: TLS to its endpoints. The client context is built here, at load, so a
/// file that exists but holds no usable certificate or key is reported at its own line.
extension ConfigDecoder {
    static let clusterTLSKeys = ["ca", "sni", "verify", "client_certificate", "min_version", "ciphers", "alpn", "session_resumption"]

    /// `upstreamProtocol` http2 offers ALPN `h2` (the default for such a cluster, and the only choice); auto
    /// offers `h2` and `http/1.1` (the default), in the order listed.
    func decodeClusterTLS(_ value: ConfigValue, upstreamProtocol: UpstreamProtocol = .http1) -> TLSClientContext? {
        guard let map = value.mapping(allowed: Self.clusterTLSKeys) else { return nil }
        var configuration = TLSClientConfiguration()
        let before = diagnostics.errors.count
        if let ca = map["ca"] { configuration.caFile = existingFile(ca) }
        if let sniValue = map["sni"], let name = sniValue.nonEmptyString() {
            if TLSPeer.isAddress(name) || name.contains(where: { $0 == " " || $0 == "/" || $0 == ":" }) {
                sniValue.fail("sni is a DNS name, not '\(name)' (an IP endpoint is verified against the certificate's IP addresses without sni)")
            } else {
                configuration.serverName = name.lowercased()
            }
        }
        if let v = map["verify"]?.bool() { configuration.verify = v }
        if let pair = map["client_certificate"]?.mapping(allowed: ["cert", "key"]) {
            let cert = pair.required("cert").flatMap { existingFile($0) }
            let key = pair.required("key").flatMap { existingFile($0) }
            if let cert, let key { configuration.clientCertificate = TLSCertificateFiles(certificateChain: cert, privateKey: key) }
        }
        if let versionValue = map["min_version"], let text = versionValue.string() {
            if let version = TLSProtocolVersion(rawValue: text) {
                configuration.minimumVersion = version
            } else {
                versionValue.fail("unknown TLS version '\(text)' (use \"1.2\" or \"1.3\")")
            }
        }
        if let ciphers = map["ciphers"]?.nonEmptyString() { configuration.ciphers = ciphers }
        if let alpnValue = map["alpn"], let items = alpnValue.sequence() {
            for item in items {
                guard let name = item.nonEmptyString() else { continue }
                if configuration.alpn.contains(name) {
                    item.fail("ALPN protocol '\(name)' is listed twice")
                } else if name == "http/1.1" && upstreamProtocol != .http2 {
                    configuration.alpn.append(name)
                } else if name == "h2" && upstreamProtocol != .http1 {
                    configuration.alpn.append(name)
                } else if upstreamProtocol == .http2 {
                    item.fail("an http2 cluster offers ALPN h2 only (not '\(name)')")
                } else {
                    // Offering h2 to a server that prefers it would get h2 back on an HTTP/1.1 connection.
                    item.fail("unknown ALPN protocol '\(name)' (supported upstream: http/1.1)")
                }
            }
        }
        if upstreamProtocol == .http2 && configuration.alpn.isEmpty { configuration.alpn = ["h2"] }
        if upstreamProtocol == .auto && configuration.alpn.isEmpty { configuration.alpn = ["h2", "http/1.1"] }
        if let v = map["session_resumption"]?.bool() { configuration.sessionResumption = v }
        if !configuration.verify, let ca = map["ca"] { ca.fail("ca has no effect with verify: false; remove one of them") }
        guard diagnostics.errors.count == before else { return nil }
        do {
            return try TLSClientContext(configuration)
        } catch {
            // Point at the key whose file OpenSSL refused, else at the section.
            let message = error.message
            if let ca = configuration.caFile, message.contains(ca) {
                map["ca"]?.fail(message)
            } else if let files = configuration.clientCertificate, message.contains(files.certificateChain) || message.contains(files.privateKey),
                      let pair = map["client_certificate"] {
                pair.fail(message)
            } else if map["ciphers"] != nil, message.hasPrefix("invalid cipher list") {
                map["ciphers"]?.fail(message)
            } else {
                value.fail(message)
            }
            return nil
        }
    }
}
