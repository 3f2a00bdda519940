import GatewayFilterAPI
import HTTPTypes
import IPFilter
import NIOCore

/// `tarpit`'s config; see README.md for every key and its default.
public struct TarpitFilterConfig: Sendable {
    /// Who is tarpitted: any one rule matching is enough.
    public var addresses: [IPRange] = []
    public var headers: [HeaderPattern] = []
    /// Clients whose responses had `count` 4xx statuses within `window` (a token bucket of `count` per
    /// `window`, per client address).
    public var tooMany4xx: (count: Int, window: TimeAmount)?
    /// Requests an earlier or later `rate_limit` found over its limit.
    public var rateLimited = false
    /// Requests other filters marked with `tarpit.request` (always honoured; this alone makes a valid match).
    public var requested = false
    /// Client addresses the 4xx rule tracks at once.
    public var maxClients = 100_000

    /// Silence before the response head.
    public var delay: TimeAmount = .seconds(5)
    /// Then the body, `dripBytes` at a time every `dripInterval`; nil sends it at once.
    public var drip: FilterLocalReply.Drip? = FilterLocalReply.Drip(bytes: 1, interval: .milliseconds(500))
    public var status: HTTPResponse.Status = .tooManyRequests
    public var retryAfter: TimeAmount = .seconds(60)
    public var body = "429 Too Many Requests: slow down\n"
    /// Streams tarpitted at once, all loops together; beyond, an immediate `rejectStatus`.
    public var maxConcurrent = 1000
    public var rejectStatus: HTTPResponse.Status = .tooManyRequests

    public init() {}

    var hasRequestRules: Bool { !addresses.isEmpty || !headers.isEmpty || tooMany4xx != nil || rateLimited || requested }
}
