import GatewayTLS
import HTTPTypes
import NIOCore

/// `auth`'s validated config, with every file already read and every key already built, so a bad
/// file or key fails at load with the config's file, line and key path.
public struct AuthFilterConfig: Sendable {
    /// The realm named in `WWW-Authenticate` challenges.
    var realm: String
    /// The methods in config order; a request passes when one of them accepts its credentials.
    var methods: [Method]

    enum Method: Sendable {
        case jwt(JWTConfig)
        case apiKey(APIKeyConfig)
        case basic(BasicConfig)
    }

    struct JWTConfig: Sendable {
        var rules: JWTVerifier.Rules
        var fileKeys: JWKSet
        var remote: RemoteJWKS?
        /// Where the token is looked for: this header (with the `Bearer` scheme when it is Authorization),
        /// then the cookie, then the query parameter, when configured.
        var header: HTTPField.Name
        var cookie: String?
        var query: String?
        var forwardToken: Bool
        var claimHeaders: [(claim: String, header: HTTPField.Name)]
        /// Seconds a verified token is remembered per event loop (0: every request is verified).
        var tokenCacheTTL: Double = 60
    }

    struct RemoteJWKS: Sendable {
        var url: JWKSURL
        /// For an https URL: the TLS client context (the `jwks_ca` bundle, or the system store).
        var tls: TLSClientContext?
        var refreshInterval: TimeAmount
        var fetchTimeout: TimeAmount
        /// The least time between two fetches caused by unknown key ids.
        var minimumRefetchInterval: TimeAmount
    }

    struct APIKeyConfig: Sendable {
        var header: HTTPField.Name?
        var query: String?
        var keys: APIKeyStore
        var consumerHeader: HTTPField.Name?
        var strip: Bool
    }

    struct BasicConfig: Sendable {
        var users: Htpasswd
        var userHeader: HTTPField.Name?
        var strip: Bool
        var cacheTTL: TimeAmount
        var maximumPending: Int
    }
}

/// A JWKS address, `http://host[:port]/path` or `https://host[:port]/path`.
struct JWKSURL: Sendable, CustomStringConvertible {
    var isTLS: Bool
    var host: String
    var port: Int
    var path: String

    init?(_ text: String) {
        if text.hasPrefix("https://") { isTLS = true } else if text.hasPrefix("http://") { isTLS = false } else { return nil }
        let rest = text.dropFirst(isTLS ? 8 : 7)
        let defaultPort = isTLS ? 443 : 80
        let slash = rest.firstIndex(of: "/") ?? rest.endIndex
        let authority = rest[..<slash]
        path = slash == rest.endIndex ? "/" : String(rest[slash...])
        if authority.hasPrefix("[") {
            guard let close = authority.firstIndex(of: "]") else { return nil }
            host = String(authority[authority.index(after: authority.startIndex)..<close])
            let after = authority[authority.index(after: close)...]
            if after.isEmpty { port = defaultPort } else if after.hasPrefix(":"), let number = Int(after.dropFirst()) { port = number } else { return nil }
        } else if let colon = authority.lastIndex(of: ":") {
            host = String(authority[..<colon])
            guard let number = Int(authority[authority.index(after: colon)...]) else { return nil }
            port = number
        } else {
            host = String(authority)
            port = defaultPort
        }
        guard !host.isEmpty, (1...65535).contains(port) else { return nil }
    }

    var hostHeader: String {
        if port == (isTLS ? 443 : 80) { return host.contains(":") ? "[\(host)]" : host }
        return host.contains(":") ? "[\(host)]:\(port)" : "\(host):\(port)"
    }
    var description: String { (isTLS ? "https://" : "http://") + hostHeader + path }
}
