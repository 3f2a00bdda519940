/// A Prometheus-style latency histogram with fixed buckets (seconds): cumulative only when rendered, so
/// an observation is one comparison loop and one increment.
public struct LatencyHistogram: Sendable {
    public static let bounds: [Double] = [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10]
    public static let boundNanos: [Int64] = bounds.map { Int64($0 * 1e9) }

    /// Per bucket (not cumulative); the last slot is +Inf.
    public private(set) var buckets = [UInt64](repeating: 0, count: LatencyHistogram.bounds.count + 1)
    public private(set) var count: UInt64 = 0
    public private(set) var sumNanos: Int64 = 0

    public init() {}

    public mutating func observe(nanos: Int64) {
        var index = 0
        while index < Self.boundNanos.count && nanos > Self.boundNanos[index] { index += 1 }
        buckets[index] += 1
        count += 1
        sumNanos += nanos
    }

    public mutating func add(_ other: LatencyHistogram) {
        for index in buckets.indices { buckets[index] += other.buckets[index] }
        count += other.count
        sumNanos += other.sumNanos
    }
}

/// Counts by status class: 1xx...5xx in slots 0...4.
public struct StatusClassCounts: Sendable {
    public private(set) var counts: [UInt64] = [0, 0, 0, 0, 0]

    public init() {}

    public mutating func record(status: Int) {
        counts[min(max(status / 100, 1), 5) - 1] += 1
    }

    public mutating func add(_ other: StatusClassCounts) {
        for index in counts.indices { counts[index] += other.counts[index] }
    }

    public var total: UInt64 { counts.reduce(0, +) }
}
