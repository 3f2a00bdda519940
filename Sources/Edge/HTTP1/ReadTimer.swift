import GatewayCore
import NIOCore

/// The read deadline of a client connection, for whichever applies now: idle between requests, header
/// read (slowloris), or body read (a dribbling upload). A value inside the connection's handler, which is
/// itself the loop sweeper's target: an idle keep-alive connection holds no scheduled task, and no timer
/// object or callback of its own either.
struct ReadTimer {
    enum Kind: Equatable {
        case none
        case idle
        case headerRead
        case bodyRead
        /// A WebSocket tunnel: closed after `idle` without bytes either way.
        case tunnel
    }

    // Nanoseconds, -1 for none: an Int64 takes half the room of a `TimeAmount?`, and every idle connection holds three.
    private let headerReadNanos: Int64
    private let bodyReadNanos: Int64
    private let idleNanos: Int64
    private var headerRead: TimeAmount? { headerReadNanos < 0 ? nil : .nanoseconds(headerReadNanos) }
    private var bodyRead: TimeAmount? { bodyReadNanos < 0 ? nil : .nanoseconds(bodyReadNanos) }
    private var idle: TimeAmount? { idleNanos < 0 ? nil : .nanoseconds(idleNanos) }
    private var kind = Kind.none
    private var deadline = NIODeadline.distantFuture
    private var lastRead = NIODeadline.now()
    private var registered = false
    private(set) var isCancelled = false

    init(headerRead: TimeAmount?, bodyRead: TimeAmount?, idle: TimeAmount?) {
        self.headerReadNanos = headerRead?.nanoseconds ?? -1
        self.bodyReadNanos = bodyRead?.nanoseconds ?? -1
        self.idleNanos = idle?.nanoseconds ?? -1
    }

    /// A read, or in a tunnel bytes either way.
    mutating func noteRead() { lastRead = .now() }

    /// Switches to `newKind`'s deadline; registers `owner` with the sweeper the first time.
    mutating func update(_ newKind: Kind, owner: SweepTarget, sweeper: Sweeper) {
        if newKind == kind && newKind != .idle { return }
        kind = newKind
        let now = NIODeadline.now()
        switch newKind {
        case .none: deadline = .distantFuture
        case .idle: deadline = idle.map { now + $0 } ?? .distantFuture
        case .headerRead: deadline = headerRead.map { now + $0 } ?? .distantFuture
        case .bodyRead, .tunnel:
            // Time paused by backpressure does not count: the body clock starts now.
            lastRead = now
            deadline = .distantFuture  // computed from the last read when checked
        }
        if !registered && !isCancelled {
            registered = true
            sweeper.add(owner)
        }
    }

    mutating func cancel() {
        kind = .none
        isCancelled = true
    }

    /// The kind whose deadline passed at `now` (the timer then rests at `.none`), or nil.
    mutating func expired(now: NIODeadline) -> Kind? {
        if isCancelled { return nil }
        let due: NIODeadline
        switch kind {
        case .none: return nil
        case .bodyRead:
            guard let bodyRead else { return nil }
            due = lastRead + bodyRead
        case .tunnel:
            guard let idle else { return nil }
            due = lastRead + idle
        case .idle, .headerRead:
            due = deadline
        }
        guard now >= due else { return nil }
        let expired = kind
        kind = .none
        return expired
    }
}
