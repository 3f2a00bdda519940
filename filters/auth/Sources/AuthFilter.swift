#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import GatewayFilterAPI
import HTTPTypes
import NIOCore

/// Lets a request through when one of the configured methods accepts its credentials; otherwise
/// answers 401 with a challenge per method. Keeps no per-stream state: one shared instance serves
/// every stream (the shared parts are immutable or atomic).
///
/// Methods are tried in config order; one whose credential is absent from the request is skipped. The
/// first that passes decides. A check that must wait (bcrypt not cached, a JWKS refetch) is started only
/// when no other present credential passed at once, and only the first such check waits.
public final class AuthFilter: HTTPFilter, Sendable {
    /// `jwt`, `api_key` or `basic`: the method that accepted the request.
    public static let method = FilterMetadataKey<String>("auth.method")
    /// The JWT `sub`, the API key's consumer name, or the basic user name.
    public static let subject = FilterMetadataKey<String>("auth.subject")
    /// A verified JWT's claims as text (scalars, and arrays of scalars joined with `,`).
    public static let claims = FilterMetadataKey<[String: String]>("auth.claims")
    /// Why the request was refused, e.g. `jwt: token expired` (never the credential itself).
    public static let error = FilterMetadataKey<String>("auth.error")

    private let realm: String
    private let methods: [Method]
    /// Headers the filter sets from credentials: a client's own copies are always removed first.
    private let outputHeaders: [HTTPField.Name]

    enum Method: Sendable {
        case jwt(JWTMethod)
        case apiKey(APIKeyMethod)
        case basic(BasicMethod)
    }

    /// Query parameters credentials may arrive in: their values never reach the access log.
    private let credentialQueryParameters: [String]

    init(realm: String, methods: [Method]) {
        self.realm = realm
        self.methods = methods
        var headers: [HTTPField.Name] = []
        var queries: [String] = []
        for method in methods {
            switch method {
            case .jwt(let jwt):
                headers += jwt.outputHeaders
                if let query = jwt.config.query { queries.append(query) }
            case .apiKey(let apiKey):
                headers += apiKey.outputHeaders
                if let query = apiKey.config.query { queries.append(query) }
            case .basic(let basic): headers += basic.outputHeaders
            }
        }
        self.outputHeaders = headers
        self.credentialQueryParameters = queries
    }

    public func onRequestHead(_ head: inout HTTPRequest, endStream: Bool, _ ctx: FilterContext) throws -> FilterVerdict {
        for name in outputHeaders where head.headerFields[name] != nil { head.headerFields[name] = nil }
        if !credentialQueryParameters.isEmpty, head.path?.contains("?") == true {
            for name in credentialQueryParameters { ctx.redactLoggedQueryParameter(name) }
        }
        let now = Self.wallClock()
        var failures: [AuthFailure] = []
        var waiting: (AuthSuccess, EventLoopFuture<Result<AuthSuccess, AuthFailure>>)?
        for method in methods {
            let check: AuthCheck
            switch method {
            case .jwt(let jwt): check = jwt.check(head, now: now, ctx)
            case .apiKey(let apiKey): check = apiKey.check(head)
            case .basic(let basic): check = basic.check(head, on: ctx.eventLoop)
            }
            switch check {
            case .absent:
                continue
            case .passed(let success):
                Self.apply(success, to: &head, ctx)
                return .proceed
            case .failed(let failure):
                failures.append(failure)
            case .pending(let optimistic, let future):
                if waiting == nil { waiting = (optimistic, future) }
            }
        }
        guard let (optimistic, future) = waiting else { return .respond(refusal(failures, ctx)) }
        Self.apply(optimistic, to: &head, ctx)
        let stream = NIOLoopBound(ctx, eventLoop: ctx.eventLoop)
        let earlier = failures
        return .suspend(future.map { result in
            let ctx = stream.value
            switch result {
            case .success: return .proceed
            case .failure(let failure):
                // Undo what the log would otherwise claim; the head's edits never reach an upstream.
                ctx.metadata[Self.method] = nil
                ctx.metadata[Self.subject] = nil
                ctx.metadata[Self.claims] = nil
                return .respond(self.refusal(earlier + [failure], ctx))
            }
        })
    }

    private static func apply(_ success: AuthSuccess, to head: inout HTTPRequest, _ ctx: FilterContext) {
        switch success.removal {
        case .none: break
        case .header(let name): head.headerFields[name] = nil
        case .queryParameter(let name): head.path = head.path.map { RequestCredentials.removingQueryParameter(name, from: $0) }
        }
        for (name, value) in success.setHeaders { head.headerFields[name] = value }
        ctx.metadata[Self.method] = success.method.rawValue
        if let subject = success.subject { ctx.metadata[Self.subject] = subject }
        if let claims = success.claims { ctx.metadata[Self.claims] = claims }
    }

    /// 401 with one challenge per method: a Bearer challenge carries `invalid_token` and the reason
    /// when a token was presented (RFC 6750 §3), and nothing more when none was.
    private func refusal(_ failures: [AuthFailure], _ ctx: FilterContext) -> FilterLocalReply {
        var fields = HTTPFields()
        for method in methods {
            switch method {
            case .jwt:
                if let failure = failures.first(where: { $0.method == .jwt }) {
                    fields.append(HTTPField(name: .wwwAuthenticate,
                                            value: "Bearer realm=\"\(realm)\", error=\"invalid_token\", error_description=\"\(failure.reason)\""))
                } else {
                    fields.append(HTTPField(name: .wwwAuthenticate, value: "Bearer realm=\"\(realm)\""))
                }
            case .basic:
                fields.append(HTTPField(name: .wwwAuthenticate, value: "Basic realm=\"\(realm)\", charset=\"UTF-8\""))
            case .apiKey:
                fields.append(HTTPField(name: .wwwAuthenticate, value: "ApiKey realm=\"\(realm)\""))
            }
        }
        let reason = failures.isEmpty ? "no credentials" : failures.map { "\($0.method.rawValue): \($0.reason)" }.joined(separator: "; ")
        ctx.metadata[Self.error] = reason
        var reply = FilterLocalReply.text(.unauthorized, failures.first?.reason ?? "credentials required")
        reply.headerFields.append(contentsOf: fields)
        return reply
    }

    static func wallClock() -> Double {
        var now = timespec()
        clock_gettime(CLOCK_REALTIME, &now)
        return Double(now.tv_sec) + Double(now.tv_nsec) / 1e9
    }
}
