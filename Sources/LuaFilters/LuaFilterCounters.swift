import NIOConcurrencyHelpers

/// How often one filter entry's script was stopped, by cause. Bumped only on failures, so a lock is fine.
public final class LuaFilterCounters: Sendable {
    public struct Counts: Sendable, Equatable {
        public var scriptErrors = 0
        public var instructionBudget = 0
        public var wallClock = 0
        public var memory = 0
    }
    private let counts = NIOLockedValueBox(Counts())

    public var snapshot: Counts { counts.withLockedValue { $0 } }

    func count(_ kind: LuaErrorKind) {
        counts.withLockedValue { counts in
            switch kind {
            case .script: counts.scriptErrors += 1
            case .instructionBudget: counts.instructionBudget += 1
            case .wallClock: counts.wallClock += 1
            case .memory: counts.memory += 1
            }
        }
    }

    /// Every entry's counters by script name, for tests and diagnostics.
    static let all = NIOLockedValueBox<[String: LuaFilterCounters]>([:])

    /// The counters of the (last configured) entry running `script`.
    public static func forScript(_ script: String) -> Counts? {
        all.withLockedValue { $0[script] }?.snapshot
    }
}
