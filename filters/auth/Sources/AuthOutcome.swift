import HTTPTypes
import NIOCore

/// Which method a check belongs to, as logged in `auth.method` and `auth.error`.
enum AuthMethodKind: String, Sendable {
    case jwt
    case apiKey = "api_key"
    case basic
}

/// An accepted credential and what accepting it does to the request.
struct AuthSuccess: Sendable {
    var method: AuthMethodKind
    var subject: String?
    /// JWT claims as text (scalars and arrays of scalars), for `auth.claims`.
    var claims: [String: String]?
    var setHeaders: [(HTTPField.Name, String)] = []
    var removal: CredentialRemoval = .none
}

/// How the credential leaves the forwarded request.
enum CredentialRemoval: Sendable {
    case none
    case header(HTTPField.Name)
    case queryParameter(String)
}

/// A refused credential: a short reason safe to show the client and log (never the secret itself).
struct AuthFailure: Error, Sendable {
    var method: AuthMethodKind
    var reason: String
}

/// One method's answer for one request.
enum AuthCheck {
    /// The request carries no credential of this kind.
    case absent
    case passed(AuthSuccess)
    case failed(AuthFailure)
    /// The answer needs work off the request path (bcrypt on the pool, a JWKS refetch). `optimistic`
    /// is what success will do to the request: it is applied before waiting, because a suspended filter
    /// cannot edit the head any more, and it never reaches an upstream unless the check passes.
    case pending(optimistic: AuthSuccess, EventLoopFuture<Result<AuthSuccess, AuthFailure>>)
}
