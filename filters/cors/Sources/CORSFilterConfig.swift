/// `cors`' config, with the response header values joined once at load.
public struct CORSFilterConfig: Sendable, Equatable {
    /// Exact origins (`https://app.example.com`), compared case-sensitively as browsers send them.
    public var allowOrigins: Set<String> = []
    /// `*` was listed: any origin is allowed.
    public var allowAnyOrigin = false
    public var allowMethods: [String] = ["GET", "HEAD", "POST", "PUT", "PATCH", "DELETE"]
    /// nil: a preflight's requested headers are allowed as asked (Kong's default).
    public var allowHeaders: [String]?
    public var exposeHeaders: [String] = []
    public var allowCredentials = false
    /// Seconds a browser may cache a preflight answer; nil leaves it to the browser.
    public var maxAgeSeconds: Int?

    public init() {}

    func allows(origin: String) -> Bool {
        allowAnyOrigin || allowOrigins.contains(origin)
    }

    /// `*` only for a wildcard config without credentials: with credentials, browsers demand the origin itself.
    func allowOriginValue(for origin: String) -> String {
        allowAnyOrigin && !allowCredentials && !allowOrigins.contains(origin) ? "*" : origin
    }
}
