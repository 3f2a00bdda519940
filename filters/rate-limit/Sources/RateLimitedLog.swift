import Atomics
import Logging
import NIOCore

/// At most one log line per `interval` for a condition that can repeat on every request (Redis down):
/// the line that gets through says how many were suppressed since the last. Lock-free, any thread.
public final class RateLimitedLog: Sendable {
    private let logger: Logger
    private let interval: UInt64
    private let nextAllowed = ManagedAtomic<UInt64>(0)
    private let suppressed = ManagedAtomic<Int>(0)

    public init(label: String, interval: TimeAmount = .seconds(10)) {
        logger = Logger(label: label)
        self.interval = UInt64(interval.nanoseconds)
    }

    public func warning(_ message: @autoclosure () -> String, metadata: Logger.Metadata = [:]) {
        let now = NIODeadline.now().uptimeNanoseconds
        let next = nextAllowed.load(ordering: .relaxed)
        guard now >= next, nextAllowed.compareExchange(expected: next, desired: now + interval, ordering: .relaxed).exchanged else {
            suppressed.wrappingIncrement(ordering: .relaxed)
            return
        }
        var metadata = metadata
        metadata["suppressed"] = "\(suppressed.exchange(0, ordering: .relaxed))"
        logger.warning("\(message())", metadata: metadata)
    }
}
