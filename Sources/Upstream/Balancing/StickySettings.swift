/// Sticky sessions of a cluster (`clusters[].sticky`): what names a request's endpoint, and what happens
/// when that endpoint cannot take it.
public struct StickySettings: Sendable, Equatable {
    public enum Mode: Sendable, Equatable {
        /// A cookie the gateway issues, naming the endpoint opaquely, HMAC-signed.
        case cookie(StickyCookieSettings)
        /// A request header's value (or a filter's hash key), hashed consistently over the endpoints.
        case header(String)
        /// The application's own session cookie: the gateway prefixes its value with the endpoint's
        /// opaque id when the application sets it, and strips the prefix before the request goes up.
        case appCookie(name: String, path: String)
    }

    /// `mode:` what to do when the named endpoint is gone, unhealthy or failed.
    public enum OnUnavailable: String, Sendable, Equatable {
        /// 503 `sticky endpoint unavailable`: the session lives on that endpoint only.
        case strict
        /// Balance elsewhere and name the new endpoint (a fresh cookie).
        case fallback
    }

    public var mode: Mode
    public var onUnavailable: OnUnavailable = .fallback
    /// Signs cookies and derives endpoint ids; nil: the runtime's random key (cookies die with the process).
    public var key: [UInt8]?

    public init(mode: Mode) { self.mode = mode }

    var needsHashTable: Bool {
        if case .header = mode { return true }
        return false
    }
}

/// The gateway-issued cookie's name and attributes.
public struct StickyCookieSettings: Sendable, Equatable {
    public var name: String
    /// Lifetime in seconds: the expiry is signed into the value and sent as `Max-Age`. nil: a session
    /// cookie whose value never expires.
    public var ttlSeconds: Int?
    public var path = "/"
    public var domain: String?
    /// `Strict`, `Lax` or `None`; nil leaves the attribute out.
    public var sameSite: String? = "Lax"
    public var secure = false
    public var httpOnly = true

    public init(name: String) { self.name = name }

    /// Everything after `name=value` in the Set-Cookie line, built once at load.
    var attributes: String {
        var text = ""
        if let ttlSeconds { text += "; Max-Age=\(ttlSeconds)" }
        text += "; Path=\(path)"
        if let domain { text += "; Domain=\(domain)" }
        if secure { text += "; Secure" }
        if httpOnly { text += "; HttpOnly" }
        if let sameSite { text += "; SameSite=\(sameSite)" }
        return text
    }
}

/// Zone-aware balancing (`clusters[].local_zone`): all traffic stays in the local zone while at least
/// `minHealthyPercent` of its endpoints are usable, else it spreads over every zone.
public struct LocalZoneSettings: Sendable, Equatable {
    public var zone: String
    public var minHealthyPercent: Int = 70

    public init(zone: String) { self.zone = zone }
}
