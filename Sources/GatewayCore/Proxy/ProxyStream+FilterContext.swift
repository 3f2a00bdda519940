import GatewayFilterAPI
import HTTP1
import HTTPTypes
import NIOCore
import Upstream

/// The stream is its filters' context: no extra object per stream.
extension ProxyStream: FilterContext {
    public var eventLoop: EventLoop { loop.eventLoop }
    public var downstreamAddress: String { record.downstreamAddress }
    public var requestID: String { record.requestID ?? "" }
    public var traceID: String { tracing.context.traceID }
    public var listenerName: String { listener.name }
    public var clusterName: String? { record.upstreamCluster }

    public var metadata: FilterMetadata {
        get { filterMetadata }
        // In place: a filter adding an entry must not copy the others.
        _modify { yield &filterMetadata }
    }

    public func randomWord() -> UInt64 { loop.random.next() }

    public func redactLoggedQueryParameter(_ name: String) {
        guard let path = record.path, let question = path.firstIndex(of: "?") else { return }
        let pairs = path[path.index(after: question)...].split(separator: "&", omittingEmptySubsequences: false).map { pair -> Substring in
            let key = pair.split(separator: "=", maxSplits: 1, omittingEmptySubsequences: false)[0]
            return key == name ? Substring("\(key)=REDACTED") : pair
        }
        record.path = String(path[..<question]) + "?" + pairs.joined(separator: "&")
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

    @discardableResult
    public func setHashKey(_ key: String) -> Bool {
        guard cluster == nil, !logged, case .filtering = state else { return false }
        hashKeyOverride = StableHash.hash(key.utf8)
        return true
    }

    public func stickyCluster(_ request: HTTPRequest) -> String? { stickyClusterName(request) }
}

/// The later additions to the context: head edits outside the hook, and filter-made upstream calls.
extension ProxyStream {
    public func modifyRequestHead(_ edit: (inout HTTPRequest) -> Void) -> Bool {
        // Until the upstream is picked the head is still the stream's to change (a suspended request-head
        // hook, or body hooks of a buffered body).
        guard !logged, case .filtering = state else { return false }
        edit(&request)
        return true
    }

    public func modifyResponseHead(_ edit: (inout HTTPResponse) -> Void) -> Bool {
        guard !logged, responseHeadPending, filterResponse != nil else { return false }
        edit(&filterResponse!)
        return true
    }

    public func httpCall(cluster name: String, request: HTTPRequest, body: ByteBuffer?, timeout: TimeAmount) -> EventLoopFuture<FilterHTTPResponse> {
        httpCall(cluster: name, request: request, body: body, timeout: timeout, parent: nil)
    }

    public func httpCall(cluster name: String, request: HTTPRequest, body: ByteBuffer?, timeout: TimeAmount, parent: FilterSpan?) -> EventLoopFuture<FilterHTTPResponse> {
        guard let index = loop.runtime.clusterIndexByName[name] else {
            // Nothing was sent: no span.
            return loop.eventLoop.makeFailedFuture(FilterHTTPCallError.unknownCluster(name))
        }
        var edits = ForwardingEdits(requestID: record.requestID ?? "", forwardedFor: downstreamIP,
                                    forwardedProto: listener.scheme, stripConnectionFields: true, chunked: false, teTrailers: false)
        // The call is a CLIENT span of its own (when sampled), and the called service continues the trace under it.
        let span = startSpan(name: request.method.rawValue, kind: .client, parent: parent)
        edits.traceparent = ForwardingEdits.Traceparent(traceHigh: span.traceHigh, traceLow: span.traceLow, spanID: span.spanID, sampled: span.sampled)
        if span.isRecording {
            span.setAttribute("http.request.method", request.method.rawValue)
            let path = request.path ?? "/"
            if let question = path.firstIndex(of: "?") {
                span.setAttribute("url.path", String(path[..<question]))
                span.setAttribute("url.query", String(path[path.index(after: question)...]))
            } else {
                span.setAttribute("url.path", path)
            }
            span.setAttribute("portcullis.cluster", name)
        }
        let exchange = FilterHTTPCallExchange(cluster: loop.clusters[index], request: request, body: body, edits: edits, span: span)
        return exchange.start(timeout: timeout)
    }
}
