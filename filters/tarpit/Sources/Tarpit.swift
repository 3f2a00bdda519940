import GatewayFilterAPI

/// The tarpit's public face for other filters (and, through them, Lua scripts): a request any earlier
/// filter marks is tarpitted by a `tarpit` filter later in the chain, as if one of its rules had matched.
///
/// ```swift
/// Tarpit.request(ctx)                                   // from a Swift filter that imports TarpitFilter
/// ctx.metadata[FilterMetadataKey<Bool>("tarpit.request")] = true   // the same, without the import
/// ```
public enum Tarpit {
    /// Set to true to ask a later `tarpit` filter to tarpit this request.
    public static let requestKey = FilterMetadataKey<Bool>("tarpit.request")
    /// What the tarpit did: `tarpitted:<rule>`, or `rejected:<rule>` when the cap was reached.
    public static let decisionKey = FilterMetadataKey<String>("tarpit.decision")
    /// The rate limit's outcome, read without depending on its module's types.
    static let rateLimitDecisionKey = FilterMetadataKey<String>("rate_limit.decision")

    public static func request(_ ctx: FilterContext) {
        ctx.metadata[requestKey] = true
    }
}
