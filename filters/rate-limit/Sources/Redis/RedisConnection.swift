import NIOCore
import NIOPosix

/// One pipelined RESP connection to Redis, owned by one event loop: every method runs on `eventLoop`,
/// so its state needs no lock. Commands are written as they come (flushed once per loop tick) and
/// replies are matched to them in order, as Redis answers a connection's commands in order.
///
/// Every command carries a deadline. A command whose deadline passes is answered `.timeout` at once but
/// keeps its place in the queue, so the late reply is matched to it and dropped. Commands wait only
/// while a connection is being made; when Redis is down the connection backs off (doubling, with jitter)
/// and commands fail at once with `.unavailable` until the next attempt is due, which the next command
/// starts. A connection that stops answering altogether is closed and made anew.
final class RedisConnection {
    private enum State {
        /// Not connected; the next command connects once `retryAt` has passed.
        case disconnected(retryAt: NIODeadline)
        case connecting
        case connected(Channel)
    }

    private struct Pending {
        /// nil once answered (by a timeout) while its reply is still due.
        var promise: EventLoopPromise<RESPValue>?
        let deadline: NIODeadline
        let sentAt: NIODeadline
    }

    let eventLoop: EventLoop
    private let settings: RedisSettings
    private let events: RedisEvents
    private var state = State.disconnected(retryAt: .uptimeNanoseconds(0))
    /// Commands written (or, while connecting, waiting to be) and not yet answered by Redis, oldest first.
    private var pending = CircularBuffer<Pending>()
    /// Encoded commands waiting for the connection.
    private var unsent: ByteBuffer?
    private var flushScheduled = false
    private var timer: Scheduled<Void>?
    private var timerDeadline = NIODeadline.distantFuture
    private var backoff: TimeAmount

    init(eventLoop: EventLoop, settings: RedisSettings, events: RedisEvents) {
        self.eventLoop = eventLoop
        self.settings = settings
        self.events = events
        backoff = settings.backoffMin
    }

    /// Sends `arguments` as one command; the future (of `eventLoop`) fails with `RedisClientError`.
    func send(_ arguments: [String], deadline: NIODeadline) -> EventLoopFuture<RESPValue> {
        eventLoop.preconditionInEventLoop()
        let now = NIODeadline.now()
        switch state {
        case .disconnected(let retryAt):
            guard now >= retryAt else { return eventLoop.makeFailedFuture(RedisClientError.unavailable) }
            connect()
        case .connecting, .connected:
            break
        }
        guard pending.count < settings.maxPending else { return eventLoop.makeFailedFuture(RedisClientError.overloaded) }
        guard deadline > now else { return eventLoop.makeFailedFuture(RedisClientError.timeout) }
        let promise = eventLoop.makePromise(of: RESPValue.self)
        pending.append(Pending(promise: promise, deadline: deadline, sentAt: now))
        var buffer = unsent ?? ByteBufferAllocator().buffer(capacity: 128)
        RESPEncoder.encode(arguments, into: &buffer)
        unsent = buffer
        if case .connected = state { scheduleFlush() }
        armTimer(for: deadline)
        return promise.futureResult
    }

    // MARK: - Connection

    private func connect() {
        state = .connecting
        events.connectAttempt()
        let bound = NIOLoopBound(self, eventLoop: eventLoop)
        ClientBootstrap(group: eventLoop)
            .connectTimeout(settings.connectTimeout)
            .channelOption(.socketOption(.tcp_nodelay), value: 1)
            .channelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    try channel.pipeline.syncOperations.addHandler(ByteToMessageHandler(RESPDecoder(), maximumBufferSize: 4 << 20))
                    try channel.pipeline.syncOperations.addHandler(RedisReplyHandler(connection: bound.value))
                }
            }
            .connect(to: settings.address)
            .whenComplete { result in
                switch result {
                case .success(let channel): bound.value.connected(channel)
                case .failure(let error): bound.value.failed(reason: "connect: \(error)")
                }
            }
    }

    private func connected(_ channel: Channel) {
        guard case .connecting = state, channel.isActive else {
            if case .connecting = state { failed(reason: "closed while connecting") }
            channel.close(promise: nil)
            return
        }
        state = .connected(channel)
        backoff = settings.backoffMin
        events.connected()
        scheduleFlush()
    }

    /// The connection is gone or never came: everyone waiting learns it now, and the next attempt waits.
    private func failed(reason: String) {
        switch state {
        case .disconnected: return
        case .connected(let channel): channel.close(promise: nil)
        case .connecting: break
        }
        // Jitter spreads the reconnects of many loops and instances after a Redis restart.
        let jitter = Int64.random(in: 0...(backoff.nanoseconds / 4 + 1))
        state = .disconnected(retryAt: .now() + backoff + .nanoseconds(jitter))
        events.disconnected(reason: reason, retryIn: backoff)
        backoff = min(backoff * 2, settings.backoffMax)
        unsent = nil
        let failed = pending
        pending.removeAll()
        for entry in failed { entry.promise?.fail(RedisClientError.connectionClosed) }
        timer?.cancel()
        timer = nil
        timerDeadline = .distantFuture
    }

    // MARK: - Replies

    /// Events of a channel other than the current one (closing after a failure) are stale: ignored.
    private func isCurrent(_ channel: Channel) -> Bool {
        if case .connected(let current) = state { return current === channel }
        return false
    }

    func channelClosed(_ channel: Channel, reason: String) {
        guard isCurrent(channel) else { return }
        failed(reason: reason)
    }

    func received(_ value: RESPValue, on channel: Channel) {
        guard isCurrent(channel) else { return }
        guard !pending.isEmpty else {
            // A reply nobody asked for: the stream is out of step; start over.
            failed(reason: "unexpected reply")
            return
        }
        let entry = pending.removeFirst()
        entry.promise?.succeed(value)
    }

    // MARK: - Writing

    private func scheduleFlush() {
        guard !flushScheduled else { return }
        flushScheduled = true
        // One write and flush per loop tick for all the commands of that tick: the pipeline.
        let bound = NIOLoopBound(self, eventLoop: eventLoop)
        eventLoop.execute { bound.value.flush() }
    }

    private func flush() {
        flushScheduled = false
        guard case .connected(let channel) = state, let buffer = unsent else { return }
        unsent = nil
        channel.writeAndFlush(buffer, promise: nil)
    }

    // MARK: - Deadlines

    /// Commands share one timeout, so deadlines grow along the queue: one timer, for the oldest open command.
    private func armTimer(for deadline: NIODeadline) {
        guard deadline < timerDeadline else { return }
        timer?.cancel()
        timerDeadline = deadline
        let bound = NIOLoopBound(self, eventLoop: eventLoop)
        timer = eventLoop.scheduleTask(deadline: deadline) { bound.value.expire() }
    }

    private func expire() {
        timer = nil
        timerDeadline = .distantFuture
        let now = NIODeadline.now()
        var next: NIODeadline?
        for index in pending.indices {
            guard pending[index].promise != nil else { continue }
            if pending[index].deadline <= now {
                pending[index].promise!.fail(RedisClientError.timeout)
                pending[index].promise = nil
            } else {
                next = pending[index].deadline
                break
            }
        }
        // Redis has not answered its oldest command for long: it is stuck, or the link is; reconnect.
        if let oldest = pending.first, now - oldest.sentAt > stallLimit {
            failed(reason: "no reply for \(stallLimit.nanoseconds / 1_000_000) ms")
            return
        }
        if let next {
            armTimer(for: next)
        } else if !pending.isEmpty {
            armTimer(for: now + stallLimit)
        }
    }

    private var stallLimit: TimeAmount { max(.seconds(1), settings.timeout * 20) }
}

/// Hands replies and the end of the connection to its `RedisConnection`.
final class RedisReplyHandler: ChannelInboundHandler {
    typealias InboundIn = RESPValue
    private let connection: RedisConnection

    init(connection: RedisConnection) { self.connection = connection }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        connection.received(unwrapInboundIn(data), on: context.channel)
    }

    func channelInactive(context: ChannelHandlerContext) {
        connection.channelClosed(context.channel, reason: "connection closed")
        context.fireChannelInactive()
    }

    func errorCaught(context: ChannelHandlerContext, error: Error) {
        connection.channelClosed(context.channel, reason: "\(error)")
        context.close(promise: nil)
    }
}
