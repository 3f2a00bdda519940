import NIOCore

/// Something with a deadline that a `DeadlineSweeper` watches.
protocol DeadlineTarget: AnyObject {
    /// True once the target no longer needs its deadline (finished normally).
    var isDeadlineSettled: Bool { get }
    func deadlineExpired()
}

/// Request deadlines of one event loop, checked by a single repeating timer instead of one scheduled
/// task per request. Scheduling and cancelling a NIO task per request cost more than the rest of a
/// small request's bookkeeping; here registering is an array append and settling is free.
/// Deadlines fire up to `resolution` late, which is fine for timeouts measured in seconds.
final class DeadlineSweeper {
    private struct Entry {
        let deadline: NIODeadline
        let target: DeadlineTarget
    }

    static let resolution = TimeAmount.milliseconds(25)

    private let eventLoop: EventLoop
    private var entries: [Entry] = []
    private var spare: [Entry] = []
    private var task: RepeatedTask?

    init(eventLoop: EventLoop) { self.eventLoop = eventLoop }

    func watch(_ target: DeadlineTarget, deadline: NIODeadline) {
        entries.append(Entry(deadline: deadline, target: target))
        if task == nil {
            let loopBoundSelf = NIOLoopBound(self, eventLoop: eventLoop)
            task = eventLoop.scheduleRepeatedTask(initialDelay: Self.resolution, delay: Self.resolution) { _ in
                loopBoundSelf.value.sweep()
            }
        }
    }

    private func sweep() {
        let now = NIODeadline.now()
        var expired: [DeadlineTarget] = []
        spare.removeAll(keepingCapacity: true)
        for entry in entries where !entry.target.isDeadlineSettled {
            if entry.deadline <= now { expired.append(entry.target) } else { spare.append(entry) }
        }
        swap(&entries, &spare)
        spare.removeAll(keepingCapacity: true)
        if entries.isEmpty && expired.isEmpty {
            task?.cancel()
            task = nil
        }
        for target in expired { target.deadlineExpired() }
    }
}
