import GatewayFilterAPI
import GatewayTLS
import HTTPTypes
import NIOCore

/// Reading `auth:` from YAML. Every problem is reported at the node it concerns; files (JWKS, API keys,
/// htpasswd) are read and checked here, so `portcullis check` catches them too.
extension AuthFilterConfig {
    static func parse(_ value: any FilterConfigValue) -> AuthFilterConfig? {
        let methodKeys = ["jwt", "api_key", "basic"]
        guard let map = value.mapping(allowed: methodKeys + ["realm"]) else { return nil }
        var valid = true
        var realm = "portcullis"
        if let node = map["realm"] {
            if let text = node.nonEmptyString(), !text.contains("\""), !text.contains("\\") { realm = text } else {
                node.fail("a realm is non-empty text without quotes or backslashes")
                valid = false
            }
        }
        var methods: [Method] = []
        // The file's order is the order methods are tried in.
        for (key, _) in value.pairs() ?? [] where methodKeys.contains(key) {
            guard let node = map[key] else { continue }
            switch key {
            case "jwt": if let jwt = parseJWT(node) { methods.append(.jwt(jwt)) } else { valid = false }
            case "api_key": if let apiKey = parseAPIKey(node) { methods.append(.apiKey(apiKey)) } else { valid = false }
            default: if let basic = parseBasic(node) { methods.append(.basic(basic)) } else { valid = false }
            }
        }
        if methods.isEmpty && valid {
            map.value.fail("configure at least one of jwt, api_key, basic")
            return nil
        }
        return valid ? AuthFilterConfig(realm: realm, methods: methods) : nil
    }

    // MARK: - jwt

    private static func parseJWT(_ value: any FilterConfigValue) -> JWTConfig? {
        guard let map = value.mapping(allowed: ["jwks_file", "jwks_url", "jwks_ca", "jwks_refresh", "jwks_fetch_timeout", "jwks_min_refetch",
                                                "algorithms", "issuer", "audience", "clock_skew", "require_exp",
                                                "header", "cookie", "query", "forward_token", "claims_to_headers", "token_cache_ttl"]) else { return nil }
        var valid = true
        var algorithms = Set(JWTAlgorithm.allCases)
        if let node = map["algorithms"], let items = node.list() {
            algorithms = []
            for item in items {
                guard let name = item.string() else { valid = false; continue }
                if name.lowercased() == "none" {
                    item.fail("'none' is never allowed: unsigned tokens prove nothing")
                    valid = false
                } else if let algorithm = JWTAlgorithm(rawValue: name) {
                    algorithms.insert(algorithm)
                } else {
                    item.fail("unknown algorithm '\(name)' (supported: \(JWTAlgorithm.allCases.map(\.rawValue).joined(separator: ", ")))")
                    valid = false
                }
            }
            if items.isEmpty { node.fail("list at least one algorithm"); valid = false }
        } else if map["algorithms"] != nil {
            valid = false
        }
        let issuers = stringOrList(map["issuer"]), audiences = stringOrList(map["audience"])
        if issuers == nil || audiences == nil { valid = false }
        var clockSkew = 60.0
        if let node = map["clock_skew"] {
            if let amount = node.duration() { clockSkew = Double(amount.nanoseconds) / 1e9 } else { valid = false }
        }
        var requireExpiry = true
        if let node = map["require_exp"] { if let flag = node.bool() { requireExpiry = flag } else { valid = false } }
        var tokenCacheTTL = 60.0
        if let node = map["token_cache_ttl"] {
            if let amount = node.duration() { tokenCacheTTL = Double(amount.nanoseconds) / 1e9 } else { valid = false }
        }

        var fileKeys = JWKSet.empty
        if let node = map["jwks_file"] {
            if let path = node.nonEmptyString() {
                do {
                    fileKeys = try JWKSet.parse(try readSmallFile(path))
                } catch {
                    node.fail("\(path): \(error)")
                    valid = false
                }
            } else {
                valid = false
            }
        }
        var remote: RemoteJWKS?
        if let node = map["jwks_url"] {
            if let text = node.nonEmptyString() {
                if let url = JWKSURL(text) {
                    let refresh = positiveDuration(map["jwks_refresh"], default: .minutes(5))
                    let timeout = positiveDuration(map["jwks_fetch_timeout"], default: .seconds(5))
                    let refetch = positiveDuration(map["jwks_min_refetch"], default: .seconds(30), allowZero: true)
                    var tls: TLSClientContext?
                    let tlsReady = jwksTLS(url, urlNode: node, caNode: map["jwks_ca"], context: &tls)
                    if let refresh, let timeout, let refetch, tlsReady {
                        remote = RemoteJWKS(url: url, tls: tls, refreshInterval: refresh, fetchTimeout: timeout, minimumRefetchInterval: refetch)
                    } else {
                        valid = false
                    }
                } else {
                    node.fail("expected http://host[:port]/path or https://host[:port]/path")
                    valid = false
                }
            } else {
                valid = false
            }
        } else {
            for key in ["jwks_ca", "jwks_refresh", "jwks_fetch_timeout", "jwks_min_refetch"] where map[key] != nil {
                map[key]?.fail("only meaningful with jwks_url")
                valid = false
            }
        }
        if map["jwks_file"] == nil && map["jwks_url"] == nil {
            map.value.fail("jwt needs jwks_file, jwks_url or both")
            valid = false
        }
        if valid, remote == nil {
            // Every allowed algorithm without a key of its type is a mistake worth catching at load.
            let usable = algorithms.filter { algorithm in fileKeys.keys.contains { $0.fits(algorithm) } }
            if usable.isEmpty {
                map.value.fail("no key in jwks_file fits the allowed algorithms (\(algorithms.map(\.rawValue).sorted().joined(separator: ", ")))")
                valid = false
            }
        }

        var header = HTTPField.Name.authorization
        if let node = map["header"] { if let name = headerName(node) { header = name } else { valid = false } }
        var cookie: String?, query: String?
        if let node = map["cookie"] { cookie = node.nonEmptyString(); if cookie == nil { valid = false } }
        if let node = map["query"] { query = node.nonEmptyString(); if query == nil { valid = false } }
        var forwardToken = true
        if let node = map["forward_token"] { if let flag = node.bool() { forwardToken = flag } else { valid = false } }
        var claimHeaders: [(String, HTTPField.Name)] = []
        if let node = map["claims_to_headers"] {
            if let pairs = node.pairs() {
                for (claim, headerNode) in pairs {
                    if let name = headerName(headerNode) { claimHeaders.append((claim, name)) } else { valid = false }
                }
            } else {
                valid = false
            }
        }
        guard valid, let issuers, let audiences else { return nil }
        let rules = JWTVerifier.Rules(algorithms: algorithms, issuers: issuers, audiences: audiences,
                                      clockSkew: clockSkew, requireExpiry: requireExpiry)
        return JWTConfig(rules: rules, fileKeys: fileKeys, remote: remote, header: header, cookie: cookie, query: query,
                         forwardToken: forwardToken, claimHeaders: claimHeaders, tokenCacheTTL: tokenCacheTTL)
    }

    // MARK: - api_key

    private static func parseAPIKey(_ value: any FilterConfigValue) -> APIKeyConfig? {
        guard let map = value.mapping(allowed: ["header", "query", "keys_file", "consumer_header", "strip"]) else { return nil }
        var valid = true
        var header: HTTPField.Name?
        var query: String?
        if let node = map["header"] { header = headerName(node); if header == nil { valid = false } }
        if let node = map["query"] { query = node.nonEmptyString(); if query == nil { valid = false } }
        if map["header"] == nil && map["query"] == nil { header = HTTPField.Name("x-api-key") }
        var keys: APIKeyStore?
        if let node = map.required("keys_file"), let path = node.nonEmptyString() {
            do {
                keys = try APIKeyStore.parse(try readSmallFile(path), file: path)
            } catch {
                node.fail("\(error)")
            }
        }
        var consumerHeader: HTTPField.Name?
        if let node = map["consumer_header"] { consumerHeader = headerName(node); if consumerHeader == nil { valid = false } }
        var strip = true
        if let node = map["strip"] { if let flag = node.bool() { strip = flag } else { valid = false } }
        guard valid, let keys else { return nil }
        return APIKeyConfig(header: header, query: query, keys: keys, consumerHeader: consumerHeader, strip: strip)
    }

    // MARK: - basic

    private static func parseBasic(_ value: any FilterConfigValue) -> BasicConfig? {
        guard let map = value.mapping(allowed: ["htpasswd_file", "user_header", "strip", "cache_ttl", "max_pending"]) else { return nil }
        var valid = true
        var users: Htpasswd?
        if let node = map.required("htpasswd_file"), let path = node.nonEmptyString() {
            do {
                users = try Htpasswd.parse(try readSmallFile(path), file: path)
            } catch {
                node.fail("\(error)")
            }
        }
        var userHeader: HTTPField.Name?
        if let node = map["user_header"] { userHeader = headerName(node); if userHeader == nil { valid = false } }
        var strip = true
        if let node = map["strip"] { if let flag = node.bool() { strip = flag } else { valid = false } }
        let cacheTTL = positiveDuration(map["cache_ttl"], default: .seconds(60), allowZero: true)
        var maximumPending = 64
        if let node = map["max_pending"] { if let number = node.int(min: 1, max: 100_000) { maximumPending = number } else { valid = false } }
        guard valid, let users, let cacheTTL else { return nil }
        return BasicConfig(users: users, userHeader: userHeader, strip: strip, cacheTTL: cacheTTL, maximumPending: maximumPending)
    }

    // MARK: - Helpers

    private static func stringOrList(_ value: (any FilterConfigValue)?) -> [String]? {
        guard let value else { return [] }
        if value.scalarText != nil { return value.nonEmptyString().map { [$0] } }
        return value.stringList()
    }

    private static func headerName(_ value: any FilterConfigValue) -> HTTPField.Name? {
        guard let text = value.nonEmptyString() else { return nil }
        guard let name = HTTPField.Name(text) else {
            value.fail("'\(text)' is not a valid header name")
            return nil
        }
        return name
    }

    /// Sets up TLS for an https `jwks_url`: certificates must chain to `jwks_ca` (a PEM bundle) or,
    /// without it, to the system store; the URL's host is sent as SNI and verified (an IP address
    /// against the certificate's IP SANs). `context` stays nil for http. False after reporting a problem.
    private static func jwksTLS(_ url: JWKSURL, urlNode: any FilterConfigValue, caNode: (any FilterConfigValue)?,
                                context: inout TLSClientContext?) -> Bool {
        guard url.isTLS else {
            caNode?.fail("only meaningful with an https jwks_url")
            return caNode == nil
        }
        var configuration = TLSClientConfiguration()
        if let caNode {
            guard let path = caNode.nonEmptyString() else { return false }
            configuration.caFile = path
        }
        // One short connection per fetch, minutes apart: nothing worth resuming.
        configuration.sessionResumption = false
        do {
            context = try TLSClientContext(configuration)
            return true
        } catch {
            (caNode ?? urlNode).fail("cannot set up TLS for the JWKS URL: \(error)")
            return false
        }
    }

    private static func positiveDuration(_ value: (any FilterConfigValue)?, default fallback: TimeAmount, allowZero: Bool = false) -> TimeAmount? {
        guard let value else { return fallback }
        guard let amount = value.duration() else { return nil }
        if amount <= .zero && !allowZero {
            value.fail("must be more than zero")
            return nil
        }
        return amount
    }
}
