import GatewayFilterAPI
import HTTPTypes
import NIOCore
import NIOPosix

/// The `jwt` method: finds the token, verifies it against the current keys on the event loop, and, for
/// an unknown `kid` with a JWKS URL, waits for one rate-limited refetch before deciding.
final class JWTMethod: Sendable {
    let config: AuthFilterConfig.JWTConfig
    let verifier: JWTVerifier
    let keys: JWTKeySource
    private let cache = ThreadSpecificVariable<VerifiedTokenCache>()

    init(config: AuthFilterConfig.JWTConfig, keys: JWTKeySource) {
        self.config = config
        self.verifier = JWTVerifier(rules: config.rules)
        self.keys = keys
    }

    /// Every header this method sets, to be removed from what clients send.
    var outputHeaders: [HTTPField.Name] { config.claimHeaders.map(\.header) }

    func check(_ head: HTTPRequest, now: Double, _ ctx: FilterContext) -> AuthCheck {
        let loop = ctx.eventLoop
        guard let (found, removal) = findToken(head) else { return .absent }
        let token = String(found)
        // The cache belongs to this thread (the stream's event loop).
        let loopCache = config.tokenCacheTTL > 0 ? (cache.currentValue ?? {
            let fresh = VerifiedTokenCache()
            cache.currentValue = fresh
            return fresh
        }()) : nil
        if let claims = loopCache?.claims(for: token, now: now) { return .passed(success(claims, removal)) }
        switch verifier.verify(Substring(token), keys: keys.keys, now: now) {
        case .verified(let claims):
            loopCache?.insert(token, claims: claims, now: now, ttl: config.tokenCacheTTL)
            return .passed(success(claims, removal))
        case .rejected(let reason) where !(keys.isRemote && !keys.hasLoadedRemote):
            return .failed(AuthFailure(method: .jwt, reason: reason))
        case .rejected, .unknownKey:
            guard keys.isRemote else { return .failed(AuthFailure(method: .jwt, reason: "unknown key id")) }
            // The URL's keys are not there yet, or this kid is new (a rotation): fetch (rate-limited), retry once.
            guard let claims = Self.unverifiedClaims(token) else { return .failed(AuthFailure(method: .jwt, reason: "malformed token payload")) }
            let verifier = verifier, keys = keys
            let span = ctx.startSpan(name: "GET", kind: .client)
            let (fetched, role) = keys.refetch(traceparent: span.traceparent)
            let waitSpan = traced(span, role, ctx)
            let future = fetched.hop(to: loop).map { problem -> Result<AuthSuccess, AuthFailure> in
                if role == .started, problem == nil { waitSpan?.setAttribute("http.response.status_code", 200) }
                waitSpan?.end(error: problem)
                switch verifier.verify(Substring(token), keys: keys.keys, now: now) {
                case .verified(let claims): return .success(self.success(claims, removal))
                case .unknownKey: return .failure(AuthFailure(method: .jwt, reason: "unknown key id"))
                case .rejected(let reason): return .failure(AuthFailure(method: .jwt, reason: reason))
                }
            }
            return .pending(optimistic: success(claims, removal), future)
        }
    }

    /// The request's span for the key fetch it waits on: a CLIENT span for a fetch it started, INTERNAL for
    /// one it joined (another request's, or the first fetch at startup); none when the refetch was
    /// rate-limited and nothing was fetched.
    private func traced(_ clientSpan: FilterSpan, _ role: JWTKeySource.FetchRole, _ ctx: FilterContext) -> FilterSpan? {
        guard clientSpan.isRecording, let url = keys.url else { return nil }
        switch role {
        case .skipped:
            return nil
        case .started:
            clientSpan.setAttribute("http.request.method", "GET")
            clientSpan.setAttribute("url.full", url.description)
            clientSpan.setAttribute("server.address", url.host)
            clientSpan.setAttribute("server.port", url.port)
            clientSpan.setAttribute("portcullis.filter", "auth")
            return clientSpan
        case .joined:
            // The CLIENT span is dropped unended (never written): this request only waits.
            let wait = ctx.startSpan(name: "auth JWKS wait", kind: .internal)
            wait.setAttribute("url.full", url.description)
            wait.setAttribute("portcullis.filter", "auth")
            return wait
        }
    }

    private func success(_ claims: [String: JSONValue], _ removal: CredentialRemoval) -> AuthSuccess {
        var result = AuthSuccess(method: .jwt, subject: claims["sub"]?.stringValue, claims: [:], removal: removal)
        var texts: [String: String] = [:]
        for (name, value) in claims { if let text = value.scalarText { texts[name] = text } }
        result.claims = texts
        for (claim, header) in config.claimHeaders {
            // Header values cannot carry control characters; a claim that has them is not forwarded.
            if let text = texts[claim], HTTPField.isValidValue(text) { result.setHeaders.append((header, text)) }
        }
        return result
    }

    /// Header first, then cookie, then query parameter.
    private func findToken(_ head: HTTPRequest) -> (Substring, CredentialRemoval)? {
        let removeHeader: CredentialRemoval = config.forwardToken ? .none : .header(config.header)
        if config.header == .authorization {
            if let token = RequestCredentials.authorization(scheme: "Bearer", in: head.headerFields) { return (token, removeHeader) }
        } else if let value = head.headerFields[config.header], !value.isEmpty {
            return (Substring(value), removeHeader)
        }
        if let cookie = config.cookie, let value = RequestCredentials.cookieValue(cookie, in: head.headerFields), !value.isEmpty {
            return (Substring(value), .none)
        }
        if let query = config.query, let value = RequestCredentials.queryValue(query, in: head.path), !value.isEmpty {
            return (Substring(value), config.forwardToken ? .none : .queryParameter(query))
        }
        return nil
    }

    /// The payload's claims before the signature is checked: only ever used for the optimistic edits
    /// of a pending check, which reach the upstream only if the token then verifies.
    private static func unverifiedClaims(_ token: String) -> [String: JSONValue]? {
        let parts = token.split(separator: ".", omittingEmptySubsequences: false)
        guard parts.count == 3, let bytes = Base64URL.decode(Array(parts[1].utf8)),
              case .object(let claims)? = try? JSONParser.parse(bytes) else { return nil }
        return claims
    }
}
