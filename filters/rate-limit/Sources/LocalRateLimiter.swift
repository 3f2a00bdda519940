import Atomics

/// Token buckets for many keys in one process, shared by every event loop with no lock: each key is
/// one slot of a fixed open-addressed table, and each bucket is one 64-bit GCRA TAT updated by
/// compare-and-swap. N event loops therefore share one limit exactly (they race only on the CAS, and a
/// lost CAS retries with the winner's value), and memory is fixed at `capacity` slots.
///
/// A slot is two words: `tag` (the key's 64-bit hash; 0 = never used) and `tat`. A key is looked up in a
/// window of `probeLength` slots after its hash. A slot whose TAT is at or before now holds a full bucket,
/// which is what a new key starts with, so such a slot is taken over by another key without losing
/// anything. Only when every slot of the window is busy (more than `capacity` keys active at once) is the
/// slot with the oldest TAT taken anyway (a *forced* eviction, counted): its key then starts afresh.
///
/// Taking over a slot marks its TAT with `claiming` while the tag changes, and deciders re-read the tag
/// after the TAT, so a decision never lands on a slot that changed hands under it (up to an ABA on the
/// exact TAT value, one request's worth, which needs two takeovers between a load and a CAS).
///
/// ```swift
/// let limiter = LocalRateLimiter(gcra: GCRA(rate: RateSpec(parsing: "100/s")!, burst: 100), capacity: 65_536)
/// if case .limited(let retry, _) = limiter.acquire(key: "203.0.113.7", now: NIODeadline.now().uptimeNanoseconds) { ... }
/// ```
public final class LocalRateLimiter: @unchecked Sendable {
    public let gcra: GCRA
    /// Slots in the table (a power of two).
    public let capacity: Int
    static let probeLength = 8
    /// Marks a slot whose key is being replaced.
    static let claiming = UInt64.max
    /// Lost races are retried this often before the request is let through (and counted).
    static let maxRestarts = 16

    private let mask: Int
    private let tags: UnsafeMutablePointer<UnsafeAtomic<UInt64>.Storage>
    private let tats: UnsafeMutablePointer<UnsafeAtomic<UInt64>.Storage>
    private let forcedEvictionCount = ManagedAtomic<Int>(0)
    private let contentionCount = ManagedAtomic<Int>(0)

    /// - Parameter capacity: the most keys tracked at once (rounded up to a power of two, at least 64).
    public init(gcra: GCRA, capacity: Int) {
        self.gcra = gcra
        var size = 64
        while size < capacity { size <<= 1 }
        self.capacity = size
        mask = size - 1
        tags = .allocate(capacity: size)
        tats = .allocate(capacity: size)
        tags.initialize(repeating: .init(0), count: size)
        tats.initialize(repeating: .init(0), count: size)
    }

    deinit {
        tags.deinitialize(count: capacity)
        tats.deinitialize(count: capacity)
        tags.deallocate()
        tats.deallocate()
    }

    /// Keys that lost their bucket because the table was full around them.
    public var forcedEvictions: Int { forcedEvictionCount.load(ordering: .relaxed) }
    /// Requests let through because the CAS kept losing (should stay 0).
    public var contentionPasses: Int { contentionCount.load(ordering: .relaxed) }

    /// Takes one token of `key`'s bucket, if there is one. `now` is monotonic nanoseconds.
    public func acquire(key: String, now: UInt64) -> GCRA.Step {
        acquire(hash: Self.hash(key), now: now)
    }

    /// Whether `key`'s next request would be refused, without taking a token.
    public func isExhausted(key: String, now: UInt64) -> Bool {
        let tag = Self.hash(key)
        for probe in 0..<Self.probeLength {
            let slot = (Int(truncatingIfNeeded: tag) &+ probe) & mask
            guard atomic(tags, slot).load(ordering: .acquiring) == tag else { continue }
            let tat = atomic(tats, slot).load(ordering: .acquiring)
            return tat != Self.claiming && gcra.isExhausted(tat: tat, now: now)
        }
        return false
    }

    func acquire(hash tag: UInt64, now: UInt64) -> GCRA.Step {
        for _ in 0..<Self.maxRestarts {
            var empty: Int?
            var reusable: (slot: Int, tat: UInt64)?
            var oldest: (slot: Int, tat: UInt64)?
            var found: Int?
            for probe in 0..<Self.probeLength {
                let slot = (Int(truncatingIfNeeded: tag) &+ probe) & mask
                let slotTag = atomic(tags, slot).load(ordering: .acquiring)
                if slotTag == tag { found = slot; break }
                if slotTag == 0 {
                    if empty == nil { empty = slot }
                    continue
                }
                let tat = atomic(tats, slot).load(ordering: .relaxed)
                if tat == Self.claiming { continue }
                if tat <= now {
                    if reusable == nil { reusable = (slot, tat) }
                } else if oldest == nil || tat < oldest!.tat {
                    oldest = (slot, tat)
                }
            }
            if let slot = found {
                if let step = take(slot: slot, tag: tag, now: now) { return step }
                continue
            }
            // A new key (or one whose slot was taken over): claim a slot, preferring one never used.
            if let slot = empty {
                guard atomic(tags, slot).compareExchange(expected: 0, desired: tag, ordering: .acquiringAndReleasing).exchanged else { continue }
            } else if let candidate = reusable ?? oldest {
                guard claim(candidate.slot, expectedTAT: candidate.tat, tag: tag, now: now) else { continue }
                if reusable == nil { forcedEvictionCount.wrappingIncrement(ordering: .relaxed) }
            } else {
                continue
            }
            // The slot is ours until another claimer takes it; take the first token the ordinary way.
        }
        contentionCount.wrappingIncrement(ordering: .relaxed)
        return .allowed(newTAT: now, remaining: 0, resetNanos: 0)
    }

    /// One CAS loop on a slot's TAT; nil when the slot changed hands meanwhile.
    private func take(slot: Int, tag: UInt64, now: UInt64) -> GCRA.Step? {
        let tat = atomic(tats, slot)
        var current = tat.load(ordering: .acquiring)
        while true {
            if current == Self.claiming { return nil }
            // The TAT was read after the tag check: make sure it still is this key's.
            guard atomic(tags, slot).load(ordering: .acquiring) == tag else { return nil }
            let step = gcra.step(tat: current, now: now)
            guard case .allowed(let newTAT, _, _) = step else { return step }
            let (exchanged, original) = tat.compareExchange(expected: current, desired: newTAT, ordering: .acquiringAndReleasing)
            if exchanged { return step }
            current = original
        }
    }

    /// Hands a slot to another key: mark it, change the tag, then publish a full bucket (TAT = now).
    private func claim(_ slot: Int, expectedTAT: UInt64, tag: UInt64, now: UInt64) -> Bool {
        let tat = atomic(tats, slot)
        guard tat.compareExchange(expected: expectedTAT, desired: Self.claiming, ordering: .acquiringAndReleasing).exchanged else { return false }
        atomic(tags, slot).store(tag, ordering: .releasing)
        tat.store(now, ordering: .releasing)
        return true
    }

    @inline(__always)
    private func atomic(_ base: UnsafeMutablePointer<UnsafeAtomic<UInt64>.Storage>, _ slot: Int) -> UnsafeAtomic<UInt64> {
        UnsafeAtomic(at: base + slot)
    }

    /// Swift's hasher is seeded per process, so clients cannot choose keys that crowd one probe window.
    static func hash(_ key: String) -> UInt64 {
        var hasher = Hasher()
        hasher.combine(key)
        let value = UInt64(bitPattern: Int64(hasher.finalize()))
        return value == 0 ? 1 : value
    }
}
