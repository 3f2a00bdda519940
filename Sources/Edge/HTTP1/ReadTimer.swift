import NIOCore

/// The one timer of a client connection, for whichever read deadline applies now: idle between
/// requests, header read (slowloris), or body read (a dribbling upload).
///
/// Changing the deadline does not reschedule: when the timer fires early it re-arms for the current
/// deadline. A keep-alive connection therefore costs one timer per idle period, not one per request.
final class ReadTimer {
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
    private var scheduled: Scheduled<Void>?
    private var scheduledFor = NIODeadline.distantFuture
    private var eventLoop: EventLoop?
    var onExpiry: ((Kind) -> Void)?

    init(headerRead: TimeAmount?, bodyRead: TimeAmount?, idle: TimeAmount?) {
        self.headerRead = headerRead
        self.bodyRead = bodyRead
        self.idle = idle
    }

    func noteRead() { lastRead = .now() }

    func update(_ newKind: Kind, on eventLoop: EventLoop) {
        self.eventLoop = eventLoop
        if newKind == kind && newKind != .idle { return }
        kind = newKind
        let now = NIODeadline.now()
        switch newKind {
        case .none: deadline = .distantFuture
        case .idle: deadline = idle.map { now + $0 } ?? .distantFuture
        case .headerRead: deadline = headerRead.map { now + $0 } ?? .distantFuture
        case .bodyRead: deadline = bodyRead.map { lastRead + $0 } ?? .distantFuture
        }
        arm()
    }

    func cancel() {
        kind = .none
        scheduled?.cancel()
        scheduled = nil
        onExpiry = nil
    }

    private func arm() {
        guard deadline != .distantFuture, let eventLoop else { return }
        if scheduled != nil && scheduledFor <= deadline { return }
        scheduled?.cancel()
        scheduledFor = deadline
        scheduled = eventLoop.assumeIsolated().scheduleTask(deadline: deadline) { [weak self] in
            self?.fired()
        }
    }

    private func fired() {
        scheduled = nil
        scheduledFor = .distantFuture
        if kind == .bodyRead, let bodyRead { deadline = lastRead + bodyRead }
        if kind == .none || deadline == .distantFuture { return }
        if NIODeadline.now() >= deadline {
            let expired = kind
            kind = .none
            onExpiry?(expired)
        } else {
            arm()
        }
    }
}
