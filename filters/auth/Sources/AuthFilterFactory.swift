import GatewayFilterAPI
import Logging
import NIOCore

/// `auth: { realm, jwt: {...}, api_key: {...}, basic: {...} }`: see README.md.
public struct AuthFilterFactory: HTTPFilterFactory {
    public static let name = "auth"
    public var phases: FilterPhases { .requestHead }

    private let filter: AuthFilter
    private let keySources: [JWTKeySource]

    public static func parseConfig(_ value: any FilterConfigValue, environment: FilterEnvironment) -> AuthFilterConfig? {
        AuthFilterConfig.parse(value)
    }

    public init(config: AuthFilterConfig, environment: FilterEnvironment) {
        let logger = Logger(label: "portcullis.auth")
        var methods: [AuthFilter.Method] = []
        var sources: [JWTKeySource] = []
        for method in config.methods {
            switch method {
            case .jwt(let jwt):
                let source = JWTKeySource(fileKeys: jwt.fileKeys, remote: jwt.remote, logger: logger)
                sources.append(source)
                methods.append(.jwt(JWTMethod(config: jwt, keys: source)))
            case .apiKey(let apiKey):
                methods.append(.apiKey(APIKeyMethod(config: apiKey)))
            case .basic(let basic):
                methods.append(.basic(BasicMethod(config: basic)))
            }
        }
        filter = AuthFilter(realm: config.realm, methods: methods)
        keySources = sources
    }

    /// No per-stream state: every stream shares one instance. The first stream starts JWKS fetching.
    public func makeFilter(on eventLoop: EventLoop) -> any HTTPFilter {
        for source in keySources { source.start(on: eventLoop) }
        return filter
    }
}
