import NIOCore

/// Active health checking of a cluster's endpoints (`clusters[].health_check`).
public struct HealthCheckSettings: Sendable, Equatable {
    public enum Kind: Sendable, Equatable {
        /// `GET path` with `Host: host` (default: the endpoint's address); healthy when the status is in
        /// one of the ranges (half-open, like Envoy's: 200..<300 is written `200-299`).
        case http(path: String, host: String?, expectedStatuses: [Range<Int>])
        /// Healthy when a TCP connection opens.
        case tcp
        /// gRPC's health protocol (`grpc.health.v1.Health/Check` for `service`, empty: the whole server),
        /// with `:authority` `authority` (default: the endpoint's address); healthy when it answers SERVING.
        /// Only for `protocol: http2` clusters.
        case grpc(service: String, authority: String?)
    }

    public var kind: Kind
    public var interval: TimeAmount = .seconds(5)
    /// Each wait is `interval` plus up to this much, at random, so checks of many instances spread out.
    public var jitter: TimeAmount = .zero
    public var timeout: TimeAmount = .seconds(1)
    /// Consecutive successes that bring an unhealthy endpoint back.
    public var healthyThreshold: Int = 1
    /// Consecutive failures that take a healthy endpoint out.
    public var unhealthyThreshold: Int = 3

    public init(kind: Kind) { self.kind = kind }
}

/// Passive health checking (`clusters[].outlier_detection`), Envoy's consecutive-errors detectors.
public struct OutlierSettings: Sendable, Equatable {
    /// Consecutive 5xx answers (including connect failures and resets, which the client sees as 502/504).
    public var consecutive5xx: Int = 5
    /// Consecutive connect failures (refused, timed out).
    public var consecutiveConnectFailures: Int = 5
    /// The first ejection lasts this long; the n-th in a row lasts n times as long.
    public var baseEjection: TimeAmount = .seconds(30)
    /// The longest one ejection lasts.
    public var maxEjection: TimeAmount = .seconds(300)
    /// At most this share of the cluster is ejected at once; one endpoint may always be, but never the
    /// last usable one.
    public var maxEjectionPercent: Int = 10

    public init() {}
}
