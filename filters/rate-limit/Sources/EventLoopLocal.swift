import Atomics
import NIOCore

/// One value per event loop, made on first use and found again without a lock: a small open-addressed
/// table of set-once atomic references, keyed by the loop's identity. A filter factory is shared by all
/// loops but keeps loop-owned state (a Redis connection) here; the value is used on its loop only.
final class EventLoopLocal<Value: AnyObject>: Sendable {
    /// `@unchecked`: the value is only ever touched on `loop`, the entry only read elsewhere.
    private final class Entry: @unchecked Sendable {
        let loop: EventLoop
        let value: Value
        init(loop: EventLoop, value: Value) {
            self.loop = loop
            self.value = value
        }
    }

    static var capacity: Int { 64 }
    private let slots: [ManagedAtomicLazyReference<Entry>]
    private let make: @Sendable (EventLoop) -> Value

    /// `make` must be cheap and start nothing: when two loops race for a slot, the loser's value is dropped.
    init(make: @escaping @Sendable (EventLoop) -> Value) {
        slots = (0..<Self.capacity).map { _ in ManagedAtomicLazyReference<Entry>() }
        self.make = make
    }

    /// The value of `loop`; nil only if more than `capacity` loops asked.
    func value(for loop: EventLoop) -> Value? {
        let start = ObjectIdentifier(loop).hashValue
        for probe in 0..<Self.capacity {
            let slot = slots[(start &+ probe) & (Self.capacity - 1)]
            if let entry = slot.load() {
                if entry.loop === loop { return entry.value }
                continue
            }
            let entry = slot.storeIfNilThenLoad(Entry(loop: loop, value: make(loop)))
            if entry.loop === loop { return entry.value }
        }
        return nil
    }
}
