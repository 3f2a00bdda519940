import GatewayFilterAPI
import HTTPTypes
import NIOCore

/// Answers 403 to clients outside the configured address ranges, before anything else happens. The
/// client is the one a PROXY protocol header named, if the listener takes one. Stateless: one shared
/// instance serves every stream.
final class IPFilter: HTTPFilter, Sendable {
    static let decision = FilterMetadataKey<String>("ip_filter.decision")
    let config: IPFilterConfig

    init(config: IPFilterConfig) { self.config = config }

    func onRequestHead(_ head: inout HTTPRequest, endStream: Bool, _ ctx: FilterContext) throws -> FilterVerdict {
        // An address the gateway cannot read is refused: a filter that fails open is no filter.
        guard let address = IPAddressBits.parse(socketAddress: ctx.downstreamAddress), config.permits(address) else {
            ctx.metadata[Self.decision] = "denied"
            return .respond(.text(.forbidden, "client address not allowed"))
        }
        return .proceed
    }
}
