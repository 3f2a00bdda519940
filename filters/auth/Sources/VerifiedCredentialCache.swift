import NIOCore
import NIOPosix

/// Recently verified basic credentials of one event loop's thread, keyed by the SHA-256 of
/// `user NUL password`, so a client sending the same credentials on every request costs one bcrypt per
/// TTL per loop rather than one per request. The password itself is never stored.
///
/// `@unchecked Sendable`: each instance lives in a `ThreadSpecificVariable` and is only ever touched by
/// the thread (event loop) that created it.
final class VerifiedCredentialCache: @unchecked Sendable {
    private var entries: [SHA256Digest: NIODeadline] = [:]
    private let capacity: Int

    init(capacity: Int = 4096) { self.capacity = capacity }

    func contains(_ key: SHA256Digest, now: NIODeadline) -> Bool {
        guard let expiry = entries[key] else { return false }
        if expiry > now { return true }
        entries[key] = nil
        return false
    }

    func insert(_ key: SHA256Digest, until expiry: NIODeadline, now: NIODeadline) {
        if entries.count >= capacity {
            entries = entries.filter { $0.value > now }
            // Still full of live entries: start over rather than track recency on the request path.
            if entries.count >= capacity { entries.removeAll(keepingCapacity: true) }
        }
        entries[key] = expiry
    }
}
