import Atomics
import HTTPTypes
import NIOCore
import NIOPosix

/// The `basic` method: `Authorization: Basic` against an htpasswd file. `{SHA}` entries are checked at
/// once; bcrypt entries on `BcryptPool` (the request waits), unless this loop verified the same
/// credentials within `cache_ttl`.
final class BasicMethod: Sendable {
    let config: AuthFilterConfig.BasicConfig
    private let cache = ThreadSpecificVariable<VerifiedCredentialCache>()
    private let pending = ManagedAtomic<Int>(0)
    /// Checked for unknown users, so that a wrong user name takes as long as a wrong password.
    private let decoy: Bcrypt.Hash?

    init(config: AuthFilterConfig.BasicConfig) {
        self.config = config
        // Same cost as a real entry; its digest matches no password (and is never compared as a success).
        decoy = config.users.anyBcryptCost.flatMap { cost in
            Bcrypt.Hash("$2b$" + (cost < 10 ? "0\(cost)" : "\(cost)") + "$" + String(repeating: "Z", count: 22) + String(repeating: ".", count: 31))
        }
    }

    var outputHeaders: [HTTPField.Name] { config.userHeader.map { [$0] } ?? [] }

    func check(_ head: HTTPRequest, on loop: EventLoop) -> AuthCheck {
        guard let encoded = RequestCredentials.authorization(scheme: "Basic", in: head.headerFields) else { return .absent }
        guard let decoded = Base64URL.decode(Array(encoded.utf8)), let colon = decoded.firstIndex(of: UInt8(ascii: ":")),
              let user = String(validating: decoded[..<colon], as: UTF8.self) else {
            return .failed(AuthFailure(method: .basic, reason: "malformed basic credentials"))
        }
        let password = Array(decoded[(colon + 1)...])
        var success = AuthSuccess(method: .basic, subject: user, removal: config.strip ? .header(.authorization) : .none)
        if let header = config.userHeader, HTTPField.isValidValue(user) { success.setHeaders.append((header, user)) }
        let wrong = AuthFailure(method: .basic, reason: "wrong user name or password")

        let hash: Bcrypt.Hash
        switch config.users.entry(for: user) {
        case .sha1(let digest)?:
            return constantTimeEquals(sha1(password), digest) ? .passed(success) : .failed(wrong)
        case .bcrypt(let entry)?:
            hash = entry
        case nil:
            guard let decoy else { return .failed(wrong) }   // {SHA}-only file: nothing slow to imitate
            hash = decoy
        }
        let known = config.users.entry(for: user) != nil
        let cacheKey = SHA256Digest(of: Array(user.utf8) + [0] + password + [0] + hash.digest)
        let now = NIODeadline.now()
        if known, config.cacheTTL > .zero, cache.currentValue?.contains(cacheKey, now: now) == true { return .passed(success) }

        // Bounded: past max_pending checks in flight, refuse rather than queue unbounded CPU work.
        guard pending.loadThenWrappingIncrement(ordering: .relaxed) < config.maximumPending else {
            pending.wrappingDecrement(ordering: .relaxed)
            return .failed(AuthFailure(method: .basic, reason: "too many password checks in progress"))
        }
        let ttl = config.cacheTTL, cache = cache, pending = pending, accepted = success
        let future = BcryptPool.shared.runIfActive(eventLoop: loop) {
            known && Bcrypt.verify(password, against: hash)
        }.recover { _ in false }.map { matched -> Result<AuthSuccess, AuthFailure> in
            pending.wrappingDecrement(ordering: .relaxed)
            guard matched else { return .failure(wrong) }
            if ttl > .zero {
                // This runs on `loop`: the thread-specific cache is that loop's.
                let loopCache = cache.currentValue ?? {
                    let fresh = VerifiedCredentialCache()
                    cache.currentValue = fresh
                    return fresh
                }()
                let now = NIODeadline.now()
                loopCache.insert(cacheKey, until: now + ttl, now: now)
            }
            return .success(accepted)
        }
        return .pending(optimistic: success, future)
    }
}

extension Htpasswd {
    /// The cost of some bcrypt entry, for a decoy of the same price.
    var anyBcryptCost: Int? {
        for user in users { if case .bcrypt(let hash)? = entry(for: user) { return hash.cost } }
        return nil
    }
}
