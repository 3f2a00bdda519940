import NIOCore

/// `fault:` keys; see README.md.
public struct FaultFilterConfig: Sendable, Equatable {
    public struct Delay: Sendable, Equatable {
        public var duration: TimeAmount
        public var percent: Double
    }

    public struct Abort: Sendable, Equatable {
        public var status: Int
        public var percent: Double
    }

    public var delay: Delay?
    public var abort: Abort?
    /// Requests may ask for a fault themselves (`x-portcullis-fault-delay-ms`, `x-portcullis-fault-abort`).
    public var headers = false
    /// Delayed requests held at once, all event loops together; beyond it requests pass untouched.
    public var maxActive = 1000

    public init() {}

    /// The longest delay a request header may ask for: a fault is a test of patience, not a way to park
    /// connections for good.
    public static let maxHeaderDelay = TimeAmount.seconds(60)

    /// The delay an `x-portcullis-fault-delay-ms` value asks for, capped at `maxHeaderDelay`; nil for a value
    /// that is not a whole number of milliseconds ≥ 0.
    public static func headerDelay(milliseconds text: String) -> TimeAmount? {
        guard let ms = Int64(text), ms >= 0 else { return nil }
        return min(.milliseconds(ms), maxHeaderDelay)
    }
}
