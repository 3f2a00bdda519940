/// The JWS algorithms the filter verifies. Each is bound to one key type, so a token cannot pick HS256
/// and have an RSA public key's bytes used as its HMAC secret (the classic algorithm-confusion attack):
/// an HS256 token is only ever checked against `oct` keys.
public enum JWTAlgorithm: String, Sendable, CaseIterable {
    case rs256 = "RS256"
    case es256 = "ES256"
    case hs256 = "HS256"

    var keyType: JWK.KeyType {
        switch self {
        case .rs256: .rsa
        case .es256: .ecP256
        case .hs256: .oct
        }
    }
}
