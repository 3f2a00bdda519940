import GatewayFilterAPI
import HTTP1
import HTTPTypes
import NIOCore

/// One hook of the filter contract, as the chain runner names it.
enum FilterHook: Sendable {
    case requestHead, requestBody, requestTrailers, responseHead, responseBody, responseTrailers

    var phase: FilterPhases {
        switch self {
        case .requestHead: .requestHead
        case .requestBody: .requestBody
        case .requestTrailers: .requestTrailers
        case .responseHead: .responseHead
        case .responseBody: .responseBody
        case .responseTrailers: .responseTrailers
        }
    }

    /// Request hooks run in chain order, response hooks in reverse.
    var isRequest: Bool {
        switch self {
        case .requestHead, .requestBody, .requestTrailers: true
        case .responseHead, .responseBody, .responseTrailers: false
        }
    }
}

/// The filter chain of one stream. Each hook runs through the filters synchronously while they proceed;
/// a `.suspend` parks the stream's request or response side at that filter until the future completes
/// (on this loop), and the side's next parts queue behind it, with backpressure past a bound. The value a
/// hook works on (head, chunk, trailers) lives in the stream, so a suspended hook needs no other state.
extension ProxyStream {
    // MARK: - Building the per-stream instances

    func startListenerFilters() {
        chain = listener.filterChain
        instantiateFilters()
    }

    /// The route's chain starts with the listener's filters, which already have instances.
    func startRouteFilters(_ routeChain: FilterChain) {
        chain = routeChain
        instantiateFilters()
        // A request without a body has no parts for the body hooks: its filters learnt that from
        // `endStream` on the head, and it skips the request-input queue entirely.
        requestBodyHooked = requestFraming != .none && !chain.phases.isDisjoint(with: [.requestBody, .requestTrailers])
        responseHooked = !chain.phases.isDisjoint(with: [.responseHead, .responseBody, .responseTrailers])
    }

    private func instantiateFilters() {
        filters.reserveCapacity(chain.filters.count)
        // By index: iterating the elements copied each whole entry (its name too) per request.
        for index in filters.count..<chain.filters.count {
            filters.append(chain.filters[index].factory.makeFilter(on: loop.eventLoop))
        }
    }

    // MARK: - Running a hook

    /// Runs `hook` from filter `index` on, upwards for request hooks and downwards for response hooks.
    /// `verdict` is the answer of a suspended filter at `index`, in place of calling it. Returns true when
    /// every filter proceeded; false when the side is suspended, or the stream was answered or failed.
    func runFilters(_ hook: FilterHook, from index: Int, resuming verdict: FilterVerdict? = nil) -> Bool {
        var index = index
        var resumed = verdict
        let phase = hook.phase
        let step = hook.isRequest ? 1 : -1
        while index >= 0 && index < filters.count {
            let verdict: FilterVerdict
            if let answer = resumed {
                verdict = answer
                resumed = nil
            } else {
                guard chain.filters[index].phases.contains(phase) else {
                    index += step
                    continue
                }
                do {
                    verdict = try invoke(hook, filters[index])
                } catch {
                    filterFailed(at: index, error)
                    return false
                }
            }
            switch verdict {
            case .proceed:
                break
            case .bufferBody:
                if hook == .requestHead && requestFraming != .none { bufferingRequest = true }
            case .respond(let reply):
                filterResponded(reply, at: index)
                return false
            case .suspend(let future):
                suspend(hook, at: index, until: future)
                return false
            }
            index += step
        }
        return true
    }

    private func invoke(_ hook: FilterHook, _ filter: any HTTPFilter) throws -> FilterVerdict {
        switch hook {
        case .requestHead:
            if rawRequestFields != nil {
                // The fields are still the received lines: the filter reads and edits them through the
                // stream (ReceivedRequestFields), or takes them, as the default implementation does.
                return try filter.onRequestHead(&storedRequest, receivedFields: self, endStream: requestFraming == .none, self)
            }
            return try filter.onRequestHead(&request, endStream: requestFraming == .none, self)
        case .requestBody:
            return try filter.onRequestBody(&requestChunk!, endStream: requestChunkEnd, self)
        case .requestTrailers:
            return try filter.onRequestTrailers(&requestTrailers!, self)
        case .responseHead:
            return try filter.onResponseHead(&filterResponse!, endStream: responseBodyLength == .none, self)
        case .responseBody:
            return try filter.onResponseBody(&responseChunk!, endStream: responseChunkEnd, self)
        case .responseTrailers:
            return try filter.onResponseTrailers(&responseTrailers!, self)
        }
    }

    private func suspend(_ hook: FilterHook, at index: Int, until future: EventLoopFuture<FilterVerdict>) {
        if hook.isRequest {
            requestSuspended = true
        } else {
            responseSuspended = true
        }
        let stream = NIOLoopBound(self, eventLoop: loop.eventLoop)
        // `hop(to:)` returns the future itself when it already belongs to this loop: no thread hop.
        future.hop(to: loop.eventLoop).whenComplete { result in
            stream.value.resume(hook, at: index, result)
        }
    }

    private func resume(_ hook: FilterHook, at index: Int, _ result: Result<FilterVerdict, Error>) {
        // The stream ended while the filter waited (client gone, timeout, another failure): onComplete has
        // run and the access-log line is written; the verdict has nobody left to act on.
        guard !logged else { return }
        if hook.isRequest {
            requestSuspended = false
            // A filter answered meanwhile (from the response side): the request side is over.
            if case .completingResponse = state { return }
        } else {
            responseSuspended = false
        }
        switch result {
        case .failure(let error):
            filterFailed(at: index, error)
        case .success(let verdict):
            guard runFilters(hook, from: index, resuming: verdict) else { return }
            hookCompleted(hook)
        }
    }

    /// What follows once `hook` has passed every filter.
    func hookCompleted(_ hook: FilterHook) {
        switch hook {
        case .requestHead:
            requestHeadsCompleted()
        case .requestBody:
            forwardFilteredRequestChunk()
            drainRequestInput()
        case .requestTrailers:
            forwardFilteredRequestEnd()
        case .responseHead:
            sendFilteredResponseHead()
            drainResponseInput()
        case .responseBody:
            sendFilteredResponseChunk()
            drainResponseInput()
        case .responseTrailers:
            completeFilteredResponse()
        }
    }

    // MARK: - Request side

    private func requestHeadsCompleted() {
        if route == nil {
            // The listener's filters are done: route the request as they left it, then run the route's.
            let listenerFilters = filters.count
            guard routeRequest() else { return }
            if filters.count > listenerFilters {
                guard runFilters(.requestHead, from: listenerFilters) else { return }
            }
        }
        headsDone = true
        if bufferingRequest {
            requestBodyHooked = true
            if case .contentLength(let length) = requestFraming, length > bufferedBodyLimit {
                fail(.bodyTooLarge)
                return
            }
            // Buffering is bounded by the body limit, not by pausing the client.
            if requestBodyPaused { resumeRequestBody() }
            drainRequestInput()
            return
        }
        connectUpstream()
        drainRequestInput()
    }

    /// The most a buffered request body may hold: the route's (or listener's) body limit, else 1 MiB.
    var bufferedBodyLimit: Int64 { route?.maxBodyBytes ?? FilterChain.defaultMaxBufferedBody }

    func queueRequestBody(_ body: ByteBuffer) {
        requestInput.append(body)
        requestInputBytes += body.readableBytes
        if !bufferingRequest && requestInputBytes > Self.maxPendingBodyBytes { pauseRequestBody() }
        drainRequestInput()
    }

    func queueRequestEnd(_ trailers: HTTPFields?) {
        requestInputEnded = true
        requestInputTrailers = trailers
        drainRequestInput()
    }

    /// Passes queued request parts through the body and trailer hooks, in order, until one suspends.
    private func drainRequestInput() {
        guard headsDone, !requestSuspended, !requestEndForwarded else { return }
        switch state {
        case .filtering, .waitingForUpstream, .forwarding: break
        case .completingResponse, .finished: return
        }
        if !requestBodyHooked {
            // Parts that arrived while the heads ran, with no hook to pass: forward them as they are.
            for chunk in requestInput { forwardRequestBody(chunk) }
            requestInput = []
            requestInputBytes = 0
            if requestInputEnded {
                requestEndForwarded = true
                forwardRequestEnd(requestInputTrailers)
            }
            return
        }
        if bufferingRequest {
            guard requestInputEnded else { return }
            bufferingRequest = false
            connectAfterBufferedBody = true
            var whole = requestInput.first ?? ByteBuffer()
            for chunk in requestInput.dropFirst() { whole.writeImmutableBuffer(chunk) }
            requestInput = whole.readableBytes > 0 ? [whole] : []
            requestInputBytes = whole.readableBytes
        }
        while !requestInput.isEmpty {
            let chunk = requestInput.removeFirst()
            requestInputBytes -= chunk.readableBytes
            requestChunk = chunk
            requestChunkEnd = requestInputEnded && requestInput.isEmpty && requestInputTrailers == nil
            if requestChunkEnd { requestBodyEndDelivered = true }
            guard runFilters(.requestBody, from: 0) else { return }
            forwardFilteredRequestChunk()
        }
        if requestInputEnded && requestInputTrailers == nil && !requestBodyEndDelivered && chain.phases.contains(.requestBody) {
            // The end came after the last chunk (a Content-Length body): the body hooks still hear
            // `endStream: true` once, with an empty chunk they may append to.
            requestBodyEndDelivered = true
            requestChunk = ByteBuffer()
            requestChunkEnd = true
            guard runFilters(.requestBody, from: 0) else { return }
            if requestChunk?.readableBytes == 0 { requestChunk = nil }
            forwardFilteredRequestChunk()
        }
        if requestBodyPaused, case .forwarding(let connection) = state, connection.isWritable { resumeRequestBody() }
        guard requestInputEnded else { return }
        if let trailers = requestInputTrailers, chain.phases.contains(.requestTrailers) {
            requestTrailers = trailers
            guard runFilters(.requestTrailers, from: 0) else { return }
        } else {
            requestTrailers = requestInputTrailers
        }
        forwardFilteredRequestEnd()
    }

    private func forwardFilteredRequestChunk() {
        guard let chunk = requestChunk else { return }
        requestChunk = nil
        if connectAfterBufferedBody { connectWithBufferedBody(length: chunk.readableBytes) }
        forwardRequestBody(chunk)
    }

    private func forwardFilteredRequestEnd() {
        if connectAfterBufferedBody { connectWithBufferedBody(length: 0) }
        requestEndForwarded = true
        let trailers = requestTrailers
        requestTrailers = nil
        forwardRequestEnd(trailers)
    }

    /// The whole (filtered) body is known: it goes upstream with its exact length.
    private func connectWithBufferedBody(length: Int) {
        connectAfterBufferedBody = false
        requestFraming = .contentLength(Int64(length))
        request.headerFields[.contentLength] = String(length)
        connectUpstream()
    }

    // MARK: - Response side

    func filterUpstreamResponseHead(_ head: HTTP1ResponseHead, bodyLength: ResponseBodyLength) {
        responseFilterTop = filters.count - 1
        responseBodyLength = bodyLength
        guard chain.phases.contains(.responseHead) else {
            // Only body or trailer hooks: the head still goes out as received bytes.
            responseStarted = true
            if head.connectionNominatesFields {
                var response = head.response
                HopByHop.strip(&response.headerFields)
                responder?.sendResponseHead(response, bodyLength: bodyLength)
            } else {
                responder?.sendUpstreamResponseHead(head, bodyLength: bodyLength)
            }
            return
        }
        var response = head.response
        if head.hasConnectionSpecificFields { HopByHop.strip(&response.headerFields) }
        filterResponse = response
        responseHeadPending = true
        guard runFilters(.responseHead, from: responseFilterTop) else { return }
        hookCompleted(.responseHead)
    }

    func queueResponseBody(_ body: ByteBuffer) {
        responseInput.append(body)
        responseInputBytes += body.readableBytes
        drainResponseInput()
        if responseInputBytes > Self.maxPendingBodyBytes, case .forwarding(let connection) = state {
            // A suspended response hook: stop reading the upstream until it goes on.
            upstreamPausedByFilters = true
            connection.pauseReading()
        }
    }

    func queueResponseEnd(_ trailers: HTTPFields?) {
        responseInputEnded = true
        responseInputTrailers = trailers
        drainResponseInput()
    }

    private func sendFilteredResponseHead() {
        guard let response = filterResponse else { return }
        filterResponse = nil
        responseHeadPending = false
        var length = responseBodyLength
        if case .known(let received) = length {
            // A filter that changes the body's size says so through Content-Length (or removes it).
            if let value = response.headerFields[.contentLength] {
                if let declared = Int64(value), declared != received { length = .known(declared) }
            } else {
                length = .unknown
            }
        }
        record.status = response.status.code
        responseStarted = true
        responder?.sendResponseHead(response, bodyLength: length)
    }

    private func drainResponseInput() {
        guard !responseSuspended, !responseHeadPending, !logged else { return }
        while !responseInput.isEmpty {
            let chunk = responseInput.removeFirst()
            responseInputBytes -= chunk.readableBytes
            responseChunk = chunk
            if chain.phases.contains(.responseBody) {
                // The body's last part, whether trailers follow or not (a compressor must end its stream here).
                responseChunkEnd = responseInputEnded && responseInput.isEmpty
                if responseChunkEnd { responseEndDelivered = true }
                guard runFilters(.responseBody, from: responseFilterTop) else { return }
            }
            sendFilteredResponseChunk()
        }
        if upstreamPausedByFilters, case .forwarding(let connection) = state, responder?.isWritable ?? false {
            upstreamPausedByFilters = false
            connection.resumeReading()
        }
        guard responseInputEnded else { return }
        if !responseEndDelivered, responseBodyLength != .none, chain.phases.contains(.responseBody) {
            // The end came apart from the last part (a Content-Length body ends after its last read): body
            // hooks still hear `endStream: true` once, with an empty chunk they may append to.
            responseEndDelivered = true
            responseChunk = ByteBuffer()
            responseChunkEnd = true
            guard runFilters(.responseBody, from: responseFilterTop) else { return }
            sendFilteredResponseChunk()
        }
        if let trailers = responseInputTrailers, chain.phases.contains(.responseTrailers) {
            responseTrailers = trailers
            guard runFilters(.responseTrailers, from: responseFilterTop) else { return }
        } else {
            responseTrailers = responseInputTrailers
        }
        completeFilteredResponse()
    }

    private func sendFilteredResponseChunk() {
        guard let chunk = responseChunk else { return }
        responseChunk = nil
        // An empty part would end a chunked HTTP/1.1 body early.
        guard chunk.readableBytes > 0 else { return }
        record.bytesOut += Int64(chunk.readableBytes)
        responder?.sendResponseBody(chunk)
    }

    private func completeFilteredResponse() {
        guard let responder else { return }
        state = .completingResponse
        responder.sendResponseEnd(responseTrailers)
        responseTrailers = nil
        responder.flush()
        finish(status: record.status, closeConnection: false)
    }

    // MARK: - Answers and failures

    /// A filter answered: drop the upstream side (if any) and send the reply back through the response
    /// hooks of the filters before it.
    private func filterResponded(_ reply: FilterLocalReply, at index: Int) {
        let name = chain.filters[index].name
        if responseStarted {
            fail(GatewayError(status: .internalServerError, source: .internal,
                              reason: "filter '\(name)' answered after the response had started"))
            return
        }
        if case .forwarding(let connection) = state { connection.abort() }
        state = .completingResponse
        record.localReplyFilter = name
        requestInput = []
        requestInputBytes = 0
        pendingBody = []
        pendingBodyBytes = 0
        let body = storedRequest.method == .head ? nil : reply.body
        var fields = reply.headerFields
        let bodyBytes = reply.body?.readableBytes ?? 0
        fields[.contentLength] = String(bodyBytes)
        filterResponse = HTTPResponse(status: reply.status, headerFields: fields)
        responseBodyLength = .known(Int64(bodyBytes))
        record.status = reply.status.code
        responseInputTrailers = nil
        responseFilterTop = index - 1
        responseHeadPending = true
        dripGeneration += 1
        if let drip = reply.drip, let body, body.readableBytes > 0 {
            // The body comes in over time, through the same path as an upstream's; the first piece on the
            // next tick, after the head (unless a response-head hook below suspends it).
            responseInput = []
            responseInputBytes = 0
            responseInputEnded = false
            let stream = NIOLoopBound(self, eventLoop: loop.eventLoop)
            let generation = dripGeneration
            loop.eventLoop.execute { stream.value.drip(body, drip, generation: generation) }
        } else {
            responseInput = body.map { $0.readableBytes > 0 ? [$0] : [] } ?? []
            responseInputBytes = body?.readableBytes ?? 0
            responseInputEnded = true
        }
        guard runFilters(.responseHead, from: responseFilterTop) else { return }
        hookCompleted(.responseHead)
    }

    /// Sends the next `drip.bytes` of a dripped local reply, flushed, and schedules the rest: one timer
    /// per stream at a time. Stops when the stream has ended (client gone, timeout) or another reply
    /// replaced this one.
    private func drip(_ remaining: ByteBuffer, _ drip: FilterLocalReply.Drip, generation: Int) {
        guard !logged, generation == dripGeneration else { return }
        var rest = remaining
        let piece = rest.readSlice(length: min(drip.bytes, rest.readableBytes))!
        queueResponseBody(piece)
        if rest.readableBytes == 0 {
            queueResponseEnd(nil)
            return
        }
        responder?.flush()
        let stream = NIOLoopBound(self, eventLoop: loop.eventLoop)
        let next = rest
        loop.eventLoop.scheduleTask(in: drip.interval) { stream.value.drip(next, drip, generation: generation) }
    }

    /// A hook threw, or a suspended hook's future failed: a 500 naming the filter, in the one place
    /// errors become responses.
    private func filterFailed(at index: Int, _ error: Error) {
        let name = chain.filters[index].name
        fail(GatewayError(status: .internalServerError, source: .internal, reason: "filter '\(name)' failed: \(error)"))
    }

    /// Every filter instance hears how the stream ended, once, before the access-log line is written.
    func completeFilters() {
        let instances = filters
        filters = FilterInstances()
        let outcome = StreamOutcome(status: record.status, errorReason: record.error)
        for index in 0..<instances.count where chain.filters[index].phases.contains(.complete) {
            instances[index].onComplete(outcome, self)
        }
    }
}
