import NIOCore

/// Something whose deadline a `Sweeper` checks periodically.
public protocol SweepTarget: AnyObject {
    /// Checks the deadline against `now`, acting if it passed. Returns false once the target no longer
    /// needs checking (it finished, or its connection closed); it is then dropped.
    func sweep(now: NIODeadline) -> Bool
}

/// The timeouts of one event loop, checked by a single repeating timer instead of one scheduled task
/// each. Scheduling and cancelling a NIO task per request costs more than the rest of a small request's
/// bookkeeping, and every idle connection holding one costs memory; here registering is an array
/// append. Deadlines fire up to `interval` late, which is fine for timeouts measured in seconds.
public final class Sweeper {
    private let eventLoop: EventLoop
    private let interval: TimeAmount
    private var targets: [SweepTarget] = []
    private var sweeping: [SweepTarget] = []
    private var task: RepeatedTask?

    public init(eventLoop: EventLoop, interval: TimeAmount) {
        self.eventLoop = eventLoop
        self.interval = interval
    }

    public func add(_ target: SweepTarget) {
        targets.append(target)
        if task == nil {
            let loopBoundSelf = NIOLoopBound(self, eventLoop: eventLoop)
            task = eventLoop.scheduleRepeatedTask(initialDelay: interval, delay: interval) { _ in
                loopBoundSelf.value.sweep()
            }
        }
    }

    private func sweep() {
        let now = NIODeadline.now()
        // Targets may add new ones while being checked (a timed-out request lets the next pipelined one
        // start): those land in `targets`, the survivors are appended after them.
        swap(&targets, &sweeping)
        for target in sweeping where target.sweep(now: now) { targets.append(target) }
        sweeping.removeAll(keepingCapacity: true)
        if targets.isEmpty {
            task?.cancel()
            task = nil
        }
    }
}
