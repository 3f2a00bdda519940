import GatewayFilterAPI
import HTTP1
import HTTPTypes
import NIOCore
import Upstream

/// One `FilterContext.httpCall`: a request of a filter's own, sent through the loop's pool for a cluster,
/// its response collected whole (bounded). It lives on the loop, independent of the stream that asked, and
/// ends exactly once: response, upstream failure, or timeout. Its span (inert unless the request is
/// sampled) ends with it.
final class FilterHTTPCallExchange: UpstreamResponseDelegate {
    private let cluster: ClusterLoopState
    private var request: HTTPRequest
    private let body: ByteBuffer?
    private let edits: ForwardingEdits
    private let promise: EventLoopPromise<FilterHTTPResponse>
    private var connection: (any UpstreamExchange)?
    private var timer: Scheduled<Void>?
    private var response: HTTPResponse?
    private var received = ByteBuffer()
    private var done = false
    private var retriedStaleConnection = false
    private let span: FilterSpan

    init(cluster: ClusterLoopState, request: HTTPRequest, body: ByteBuffer?, edits: ForwardingEdits, span: FilterSpan = .inert) {
        self.span = span
        self.cluster = cluster
        self.request = request
        self.body = body
        self.edits = edits
        self.promise = cluster.eventLoop.makePromise(of: FilterHTTPResponse.self)
        if let body {
            self.request.headerFields[.contentLength] = String(body.readableBytes)
        } else if request.method == .post || request.method == .put || request.method == .patch {
            self.request.headerFields[.contentLength] = "0"
        }
    }

    func start(timeout: TimeAmount) -> EventLoopFuture<FilterHTTPResponse> {
        let bound = NIOLoopBound(self, eventLoop: cluster.eventLoop)
        timer = cluster.eventLoop.scheduleTask(in: timeout) { bound.value.finish(.failure(.timeout)) }
        connect(fresh: false)
        return promise.futureResult
    }

    private func connect(fresh: Bool) {
        guard let endpoint = cluster.pickEndpoint() else {
            finish(.failure(.upstream(UpstreamError.noHealthyEndpoint.description)))
            return
        }
        cluster.acquire(endpoint, fresh: fresh) { [self] result in
            switch result {
            case .success(let connection):
                guard !done else {
                    connection.returnUnused()
                    return
                }
                self.connection = connection
                if span.isRecording {
                    let (host, port) = Endpoint.hostAndPort(connection.endpoint.label)
                    span.setAttribute("server.address", host)
                    if let port { span.setAttribute("server.port", port) }
                }
                if request.authority == nil { request.authority = connection.endpoint.label }
                let framing: HTTP1BodyFraming = body.map { .contentLength(Int64($0.readableBytes)) } ?? .none
                connection.sendRequestHead(request, edits: edits, framing: framing, delegate: self)
                if let body { connection.sendBody(body) }
                connection.sendEnd(trailers: nil)
            case .failure(let error):
                finish(.failure(.upstream(error.description)))
            }
        }
    }

    private func finish(_ result: Result<FilterHTTPResponse, FilterHTTPCallError>) {
        guard !done else { return }
        done = true
        timer?.cancel()
        timer = nil
        if case .failure = result {
            // Mid-exchange: the connection cannot be reused.
            connection?.abort()
        }
        connection = nil
        switch result {
        case .success(let response):
            span.setAttribute("http.response.status_code", Int(response.status.code))
            span.end(error: response.status.code >= 500 ? "status \(response.status.code)" : nil)
            promise.succeed(response)
        case .failure(let error):
            span.end(error: error.description)
            promise.fail(error)
        }
    }

    func upstreamResponseHead(_ head: HTTP1ResponseHead) {
        var response = head.response
        if head.hasConnectionSpecificFields { HopByHop.strip(&response.headerFields) }
        self.response = response
    }

    func upstreamResponseBody(_ body: ByteBuffer) {
        guard received.readableBytes + body.readableBytes <= FilterHTTPResponse.maxBodyBytes else {
            finish(.failure(.responseTooLarge))
            return
        }
        var body = body
        received.writeBuffer(&body)
    }

    func upstreamResponseEnd(_ trailers: HTTPFields?) {
        // The exchange is complete and the connection already back in the pool: never abort it.
        connection = nil
        guard let response else {
            finish(.failure(.upstream("no response head")))
            return
        }
        finish(.success(FilterHTTPResponse(status: response.status, headerFields: response.headerFields, body: received)))
    }

    func upstreamReadComplete() {}

    func upstreamFailed(_ error: UpstreamError) {
        if case .connectionReset(beforeResponse: true) = error, let connection, connection.resetIsSafeToRetry, !retriedStaleConnection, body == nil {
            // A pooled keep-alive connection the server had just closed: one retry on a new one, as the proxy does.
            retriedStaleConnection = true
            self.connection = nil
            connect(fresh: true)
            return
        }
        connection = nil
        finish(.failure(.upstream(error.description)))
    }

    func upstreamWritabilityChanged(_ isWritable: Bool) {}
}
