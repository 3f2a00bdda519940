import GatewayFilterAPI
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
    /// `server.address` / `server.port` of the Redis spans, as configured.
    private let serverHost: String
    private let serverPort: Int?

    public init(gcra: GCRA, settings: RedisSettings) {
        self.gcra = gcra
        self.settings = settings
        let events = RedisEvents(address: settings.addressText)
        self.events = events
        connections = EventLoopLocal { loop in RedisConnection(eventLoop: loop, settings: settings, events: events) }
        intervalMicros = String(max(1, gcra.emissionInterval / 1000))
        toleranceMicros = String(max(1, gcra.emissionInterval / 1000) * UInt64(gcra.burst))
        let text = settings.addressText
        if let colon = text.lastIndex(of: ":"), let port = Int(text[text.index(after: colon)...]) {
            var host = text[..<colon]
            if host.hasPrefix("["), host.hasSuffix("]") { host = host.dropFirst().dropLast() }
            serverHost = String(host)
            serverPort = port
        } else {
            serverHost = text
            serverPort = nil
        }
    }

    /// Decides for `key` (already namespaced by the caller; the key prefix is added here). With `ctx`, each
    /// Redis command is a CLIENT span of the request (when it is sampled).
    public func acquire(key: String, on eventLoop: EventLoop, ctx: FilterContext? = nil) -> EventLoopFuture<GCRA.Step> {
        guard let connection = connections.value(for: eventLoop) else {
            return eventLoop.makeFailedFuture(RedisClientError.unavailable)
        }
        let deadline = NIODeadline.now() + settings.timeout
        let redisKey = settings.keyPrefix + key
        let evalsha = ["EVALSHA", RedisGCRAScript.sha1, "1", redisKey, intervalMicros, toleranceMicros]
        let stream = ctx.map { NIOLoopBound($0, eventLoop: eventLoop) }
        let loopConnection = NIOLoopBound(connection, eventLoop: eventLoop)
        return send(evalsha, on: connection, deadline: deadline, ctx: stream).flatMap { reply in
            // A Redis that restarted (or flushed its scripts) does not know the script: send it once
            // in full, within the same deadline; EVAL caches it for the following EVALSHAs.
            if case .error(let message) = reply, message.hasPrefix("NOSCRIPT") {
                let eval = ["EVAL", RedisGCRAScript.source, "1", redisKey, self.intervalMicros, self.toleranceMicros]
                return self.send(eval, on: loopConnection.value, deadline: deadline, ctx: stream)
            }
            return eventLoop.makeSucceededFuture(reply)
        }.flatMapThrowing { reply in
            try Self.step(from: reply)
        }
    }

    /// One command, in a span named after it (OTel database conventions; the key is not recorded, since
    /// it may be a credential such as an API key).
    private func send(_ command: [String], on connection: RedisConnection, deadline: NIODeadline,
                      ctx: NIOLoopBound<FilterContext>?) -> EventLoopFuture<RESPValue> {
        guard let span = ctx?.value.startSpan(name: command[0], kind: .client), span.isRecording else {
            return connection.send(command, deadline: deadline)
        }
        span.setAttribute("db.system", "redis")
        span.setAttribute("db.operation.name", command[0])
        span.setAttribute("server.address", serverHost)
        if let serverPort { span.setAttribute("server.port", serverPort) }
        let future = connection.send(command, deadline: deadline)
        future.whenComplete { result in
            switch result {
            case .success(.error(let message)): span.end(error: String(message.prefix(while: { $0 != " " })))
            case .success: span.end()
            case .failure(let error): span.end(error: "\(error)")
            }
        }
        return future
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
