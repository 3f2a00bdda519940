import NIOCore

/// A limit shared by every gateway instance through Redis: one script call per decision, on a
/// pipelined connection of the caller's event loop. The future belongs to that loop, so the stream
/// resumes without a thread hop; it fails (with `RedisClientError`) no later than `settings.timeout`.
public final class GlobalRateLimiter: Sendable {
    public let gcra: GCRA
    public let settings: RedisSettings
    public let events: RedisEvents
    private let connections: EventLoopLocal<RedisConnection>
    private let intervalMicros: String
    private let toleranceMicros: String

    public init(gcra: GCRA, settings: RedisSettings) {
        self.gcra = gcra
        self.settings = settings
        let events = RedisEvents(address: settings.addressText)
        self.events = events
        connections = EventLoopLocal { loop in RedisConnection(eventLoop: loop, settings: settings, events: events) }
        intervalMicros = String(max(1, gcra.emissionInterval / 1000))
        toleranceMicros = String(max(1, gcra.emissionInterval / 1000) * UInt64(gcra.burst))
    }

    /// Decides for `key` (already namespaced by the caller; the key prefix is added here).
    public func acquire(key: String, on eventLoop: EventLoop) -> EventLoopFuture<GCRA.Step> {
        guard let connection = connections.value(for: eventLoop) else {
            return eventLoop.makeFailedFuture(RedisClientError.unavailable)
        }
        let deadline = NIODeadline.now() + settings.timeout
        let redisKey = settings.keyPrefix + key
        let evalsha = ["EVALSHA", RedisGCRAScript.sha1, "1", redisKey, intervalMicros, toleranceMicros]
        return connection.send(evalsha, deadline: deadline).flatMap { reply in
            // A Redis that restarted (or flushed its scripts) does not know the script: send it once
            // in full, within the same deadline; EVAL caches it for the following EVALSHAs.
            if case .error(let message) = reply, message.hasPrefix("NOSCRIPT") {
                let eval = ["EVAL", RedisGCRAScript.source, "1", redisKey, self.intervalMicros, self.toleranceMicros]
                return connection.send(eval, deadline: deadline)
            }
            return eventLoop.makeSucceededFuture(reply)
        }.flatMapThrowing { reply in
            try Self.step(from: reply)
        }
    }

    static func step(from reply: RESPValue) throws -> GCRA.Step {
        if case .error(let message) = reply { throw RedisClientError.server(message) }
        guard case .array(let items?) = reply, items.count == 3,
              let verdict = items[0].integer, let value = items[1].integer, let reset = items[2].integer, value >= 0, reset >= 0
        else { throw RedisClientError.server("unexpected script reply \(reply)") }
        let resetNanos = UInt64(reset) * 1000
        if verdict == 1 {
            return .allowed(newTAT: 0, remaining: Int(value), resetNanos: resetNanos)
        }
        return .limited(retryAfterNanos: UInt64(value) * 1000, resetNanos: resetNanos)
    }
}
