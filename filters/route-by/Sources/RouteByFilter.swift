import GatewayFilterAPI
import HTTPTypes
import NIOCore

/// Steers the request to a cluster by header, cookie or query value, or splits it by weight (canary
/// 95/5). Runs in the request-head phase, before the route's upstream is picked. Stateless: one shared
/// instance serves every stream.
final class RouteByFilter: HTTPFilter, Sendable {
    let config: RouteByConfig
    static let decision = FilterMetadataKey<String>("route_by.cluster")

    init(config: RouteByConfig) { self.config = config }

    func onRequestHead(_ head: inout HTTPRequest, endStream: Bool, _ ctx: FilterContext) throws -> FilterVerdict {
        var targets = config.defaultSplit
        for rule in config.rules where RouteBySelection.matches(rule.test, RouteBySelection.value(rule.source, in: head)) {
            targets = rule.targets
            break
        }
        guard let targets else { return .proceed }
        let cluster: String
        if targets.count == 1 {
            cluster = targets[0].cluster
        } else if let pinned = ctx.stickyCluster(head), targets.contains(where: { $0.cluster == pinned }) {
            // A sticky session lives on one side of the split: it stays there, whatever the draw or
            // `stick_on` would say (even on a side whose weight went to 0, as a draining endpoint keeps its sessions).
            cluster = pinned
        } else {
            cluster = RouteBySelection.pick(targets, seed: stickSeed(head, ctx), random: ctx.randomWord())
        }
        if ctx.setCluster(cluster) { ctx.metadata[Self.decision] = cluster }
        return .proceed
    }

    private func stickSeed(_ head: HTTPRequest, _ ctx: FilterContext) -> UInt64? {
        let value: String?
        switch config.stickOn {
        case .none: return nil
        case .requestID: value = ctx.requestID
        case .header(let name): value = head.headerFields[name]
        case .cookie(let name): value = RouteBySelection.cookie(name, in: head.headerFields)
        }
        // Without the value (no cookie yet), the request draws at random.
        return value.map(RouteBySelection.stableHash)
    }
}
