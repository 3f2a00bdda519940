import GatewayFilterAPI
import NIOCore

/// The stream is its filters' context: no extra object per stream.
extension ProxyStream: FilterContext {
    public var eventLoop: EventLoop { loop.eventLoop }
    public var downstreamAddress: String { record.downstreamAddress }
    public var requestID: String { record.requestID ?? "" }
    public var listenerName: String { listener.name }
    public var clusterName: String? { record.upstreamCluster }

    public var metadata: FilterMetadata {
        get { filterMetadata }
        // In place: a filter adding an entry must not copy the others.
        _modify { yield &filterMetadata }
    }

    public func setCluster(_ name: String) -> Bool {
        guard cluster == nil, !logged, let index = loop.runtime.clusterIndexByName[name] else { return false }
        switch state {
        case .filtering: break
        case .waitingForUpstream, .forwarding, .completingResponse, .finished: return false
        }
        clusterOverride = (index, name)
        record.upstreamCluster = name
        return true
    }
}
