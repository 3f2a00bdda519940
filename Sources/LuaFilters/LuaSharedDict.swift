import NIOConcurrencyHelpers
import NIOCore

/// A value a shared dictionary holds: what crosses event loops must not be a Lua object.
enum LuaSharedValue: Sendable, Equatable {
    case string(String)
    case int(Int)
    case double(Double)
    case bool(Bool)

    var bytes: Int {
        if case .string(let text) = self { return text.utf8.count }
        return 8
    }
}

/// `gw.shared(name)`: a named dictionary shared by every event loop of the process, bounded in bytes, with
/// per-entry TTLs. It lives in a process-wide registry, so script reloads (new states) find it intact.
/// Instances are independent: each gateway process has its own (cross-instance state goes through an
/// upstream service). The lock is explicit: this is the one piece of Lua state users ask to share.
final class LuaSharedDict: Sendable {
    /// Per-entry bookkeeping counted against the capacity, besides key and value bytes.
    static let entryOverhead = 64
    static let defaultCapacity = 1 << 20

    let name: String
    fileprivate struct Entry {
        var value: LuaSharedValue
        var expires: NIODeadline?
    }
    fileprivate struct Storage {
        var entries: [String: Entry] = [:]
        var bytes = 0
        var capacity: Int
    }
    private let storage: NIOLockedValueBox<Storage>

    private init(name: String, capacity: Int) {
        self.name = name
        storage = NIOLockedValueBox(Storage(capacity: capacity))
    }

    private static let registry = NIOLockedValueBox<[String: LuaSharedDict]>([:])

    /// The dictionary named `name`, created on first use. A configured capacity larger than the current
    /// one raises it (several filter entries may declare the same dictionary).
    static func named(_ name: String, capacity: Int? = nil) -> LuaSharedDict {
        registry.withLockedValue { dicts in
            if let dict = dicts[name] {
                if let capacity { dict.raiseCapacity(to: capacity) }
                return dict
            }
            let dict = LuaSharedDict(name: name, capacity: capacity ?? defaultCapacity)
            dicts[name] = dict
            return dict
        }
    }

    private func raiseCapacity(to capacity: Int) {
        storage.withLockedValue { $0.capacity = max($0.capacity, capacity) }
    }

    private static func cost(_ key: String, _ value: LuaSharedValue) -> Int { key.utf8.count + value.bytes + entryOverhead }

    func get(_ key: String, now: NIODeadline = .now()) -> LuaSharedValue? {
        storage.withLockedValue { storage in
            guard let entry = storage.entries[key] else { return nil }
            if let expires = entry.expires, expires <= now {
                storage.remove(key)
                return nil
            }
            return entry.value
        }
    }

    enum StoreResult: Equatable { case stored, exists, noMemory }

    /// `set` replaces, `add` only inserts a missing (or expired) key.
    func store(_ key: String, _ value: LuaSharedValue, ttl: TimeAmount?, onlyIfMissing: Bool, now: NIODeadline = .now()) -> StoreResult {
        storage.withLockedValue { storage in
            if let existing = storage.entries[key] {
                if let expires = existing.expires, expires <= now {
                    storage.remove(key)
                } else if onlyIfMissing {
                    return .exists
                }
            }
            let old = storage.entries[key].map { Self.cost(key, $0.value) } ?? 0
            let new = Self.cost(key, value)
            if storage.bytes - old + new > storage.capacity {
                storage.purgeExpired(now: now)
                if storage.bytes - old + new > storage.capacity { return .noMemory }
            }
            storage.bytes += new - old
            storage.entries[key] = Entry(value: value, expires: ttl.map { now + $0 })
            return .stored
        }
    }

    enum IncrementResult: Equatable { case value(LuaSharedValue), notFound, notANumber, noMemory }

    /// Adds `delta` to a number; a missing key starts at `initial` (with `initialTTL`) if given.
    func increment(_ key: String, by delta: LuaSharedValue, initial: LuaSharedValue?, initialTTL: TimeAmount?, now: NIODeadline = .now()) -> IncrementResult {
        storage.withLockedValue { storage in
            var entry = storage.entries[key]
            if let expires = entry?.expires, expires <= now {
                storage.remove(key)
                entry = nil
            }
            guard var current = entry else {
                guard let initial else { return .notFound }
                guard let sum = Self.add(initial, delta) else { return .notANumber }
                let cost = Self.cost(key, sum)
                if storage.bytes + cost > storage.capacity {
                    storage.purgeExpired(now: now)
                    if storage.bytes + cost > storage.capacity { return .noMemory }
                }
                storage.bytes += cost
                storage.entries[key] = Entry(value: sum, expires: initialTTL.map { now + $0 })
                return .value(sum)
            }
            guard let sum = Self.add(current.value, delta) else { return .notANumber }
            current.value = sum
            storage.entries[key] = current
            return .value(sum)
        }
    }

    private static func add(_ a: LuaSharedValue, _ b: LuaSharedValue) -> LuaSharedValue? {
        switch (a, b) {
        case (.int(let x), .int(let y)):
            let (sum, overflow) = x.addingReportingOverflow(y)
            return overflow ? .double(Double(x) + Double(y)) : .int(sum)
        case (.int(let x), .double(let y)): return .double(Double(x) + y)
        case (.double(let x), .int(let y)): return .double(x + Double(y))
        case (.double(let x), .double(let y)): return .double(x + y)
        default: return nil
        }
    }

    func delete(_ key: String) {
        storage.withLockedValue { $0.remove(key) }
    }

    /// Live entries (expired ones not yet purged are not counted).
    func count(now: NIODeadline = .now()) -> Int {
        storage.withLockedValue { storage in storage.entries.values.filter { $0.expires.map { $0 > now } ?? true }.count }
    }

    var bytesInUse: Int { storage.withLockedValue { $0.bytes } }
}

extension LuaSharedDict.Storage {
    fileprivate mutating func remove(_ key: String) {
        guard let entry = entries.removeValue(forKey: key) else { return }
        bytes -= key.utf8.count + entry.value.bytes + LuaSharedDict.entryOverhead
    }

    fileprivate mutating func purgeExpired(now: NIODeadline) {
        for (key, entry) in entries {
            if let expires = entry.expires, expires <= now { remove(key) }
        }
    }
}
