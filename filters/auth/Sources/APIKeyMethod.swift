import HTTPTypes

/// The `api_key` method: a key from a header or query parameter, looked up by its SHA-256.
final class APIKeyMethod: Sendable {
    let config: AuthFilterConfig.APIKeyConfig

    init(config: AuthFilterConfig.APIKeyConfig) { self.config = config }

    var outputHeaders: [HTTPField.Name] { config.consumerHeader.map { [$0] } ?? [] }

    func check(_ head: HTTPRequest) -> AuthCheck {
        var presented: String?
        var removal = CredentialRemoval.none
        if let header = config.header, let value = head.headerFields[header], !value.isEmpty {
            presented = value
            if config.strip { removal = .header(header) }
        } else if let query = config.query, let value = RequestCredentials.queryValue(query, in: head.path), !value.isEmpty {
            presented = value
            if config.strip { removal = .queryParameter(query) }
        }
        guard let presented else { return .absent }
        guard let consumer = config.keys.consumer(for: Substring(presented)) else {
            return .failed(AuthFailure(method: .apiKey, reason: "unknown API key"))
        }
        var success = AuthSuccess(method: .apiKey, subject: consumer, removal: removal)
        if let header = config.consumerHeader { success.setHeaders.append((header, consumer)) }
        return .passed(success)
    }
}
