import GatewayCore
import NIOCore

/// The read deadline of a client connection, for whichever applies now: idle between requests, header
/// read (slowloris), or body read (a dribbling upload). Checked by the event loop's connection sweeper,
/// so an idle keep-alive connection holds no scheduled task of its own.
final class ReadTimer: SweepTarget {
    enum Kind: Equatable {
        case none
        case idle
        case headerRead
        case bodyRead
    }

    private let headerRead: TimeAmount?
    private let bodyRead: TimeAmount?
    private let idle: TimeAmount?
    private var kind = Kind.none
    private var deadline = NIODeadline.distantFuture
    private var lastRead = NIODeadline.now()
    private var registered = false
    private var cancelled = false
    var onExpiry: ((Kind) -> Void)?

    init(headerRead: TimeAmount?, bodyRead: TimeAmount?, idle: TimeAmount?) {
        self.headerRead = headerRead
        self.bodyRead = bodyRead
        self.idle = idle
    }

    func noteRead() { lastRead = .now() }

    func update(_ newKind: Kind, sweeper: Sweeper) {
        if newKind == kind && newKind != .idle { return }
        kind = newKind
        let now = NIODeadline.now()
        switch newKind {
        case .none: deadline = .distantFuture
        case .idle: deadline = idle.map { now + $0 } ?? .distantFuture
        case .headerRead: deadline = headerRead.map { now + $0 } ?? .distantFuture
        case .bodyRead:
            // Time paused by backpressure does not count: the body clock starts now.
            lastRead = now
            deadline = .distantFuture  // computed from the last read when checked
        }
        if !registered && !cancelled {
            registered = true
            sweeper.add(self)
        }
    }

    func cancel() {
        kind = .none
        cancelled = true
        onExpiry = nil
    }

    func sweep(now: NIODeadline) -> Bool {
        if cancelled { return false }
        let due: NIODeadline
        switch kind {
        case .none: return true
        case .bodyRead:
            guard let bodyRead else { return true }
            due = lastRead + bodyRead
        case .idle, .headerRead:
            due = deadline
        }
        if now >= due {
            let expired = kind
            kind = .none
            onExpiry?(expired)
        }
        return !cancelled
    }
}
