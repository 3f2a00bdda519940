import HTTP1
import HTTPTypes
import NIOCore

/// Active health checks of a `protocol: http2` cluster, spoken in HTTP/2 (h2c, or h2 over TLS by ALPN):
/// an `http` check's `GET`, or a `grpc` check's `grpc.health.v1.Health/Check` call. Probes go through a
/// pool of their own (`probePool`): connections with the cluster's TLS and timeouts that the data path
/// never uses and that take no circuit-breaker slot. Like Envoy's health checkers, a probe reuses the
/// connection of the one before while it stays open (closed after the cluster's idle timeout).
enum HTTP2HealthProbe {
    /// The probes' pool for `cluster`: same endpoints, TLS and timeouts; no breakers, retries or checks of
    /// its own. One per monitor, on its loop.
    static func probePool(for cluster: UpstreamCluster, on eventLoop: EventLoop) -> ClusterLoopState {
        var options = UpstreamClusterOptions()
        options.upstreamProtocol = .http2
        options.tls = cluster.options.tls
        let probeCluster = UpstreamCluster(name: cluster.name, index: cluster.index, endpoints: cluster.endpoints, settings: cluster.settings, options: options)
        return ClusterLoopState(cluster: probeCluster, eventLoop: eventLoop, loopIndex: 0)
    }

    static func run(_ settings: HealthCheckSettings, endpoint: Endpoint, pool: ClusterLoopState,
                    on eventLoop: EventLoop) -> EventLoopFuture<HealthProbe.Result> {
        let scheme = pool.cluster.options.tls == nil ? "http" : "https"
        let request: HTTPRequest
        var body: ByteBuffer?
        switch settings.kind {
        case .http(let path, let host, _):
            request = HTTPRequest(method: .get, scheme: scheme, authority: host ?? endpoint.label, path: path,
                                  headerFields: [.userAgent: "portcullis-health-check"])
        case .grpc(let service, let authority):
            request = HTTPRequest(method: .post, scheme: scheme, authority: authority ?? endpoint.label, path: "/grpc.health.v1.Health/Check",
                                  headerFields: [.contentType: "application/grpc", .userAgent: "portcullis-health-check"])
            body = GRPCHealth.checkRequest(service: service)
        case .tcp:
            preconditionFailure("tcp checks do not speak HTTP")
        }
        let promise = eventLoop.makePromise(of: HTTP2ProbeAnswer.self)
        let timeout = eventLoop.scheduleTask(in: settings.timeout) { promise.fail(HealthProbe.ProbeError.timeout) }
        let collector = HTTP2ProbeCollector(promise: promise)
        pool.acquire(endpoint, fresh: true) { result in
            switch result {
            case .failure(let error):
                promise.fail(error)
            case .success(let exchange):
                // The probe may have timed out while the connection was being set up.
                guard !collector.isFinished else {
                    exchange.returnUnused()
                    return
                }
                collector.exchange = exchange
                let edits = ForwardingEdits(requestID: "health-check", forwardedFor: "", forwardedProto: scheme, stripConnectionFields: false,
                                            chunked: false, teTrailers: body != nil)
                exchange.sendRequestHead(request, edits: edits, framing: body.map { .contentLength(Int64($0.readableBytes)) } ?? .none,
                                         delegate: collector)
                if let body {
                    exchange.sendBody(body)
                    exchange.sendEnd(trailers: nil)
                }
                exchange.flush()
            }
        }
        return promise.futureResult.always { _ in
            timeout.cancel()
            collector.finish()
        }.map { answer -> HealthProbe.Result in
            switch settings.kind {
            case .http(_, _, let expected):
                if expected.contains(where: { $0.contains(answer.status) }) { return HealthProbe.Result(passed: true) }
                return HealthProbe.Result(passed: false, reason: "status \(answer.status)")
            default:
                return GRPCHealth.verdict(answer)
            }
        }.flatMapErrorThrowing { error in
            HealthProbe.Result(passed: false, reason: error is HealthProbe.ProbeError ? "\(error)" : "connect: \(error)")
        }
    }
}

/// What a probe's response said: its status, its `grpc-status` (from the trailers, or from the head of a
/// trailers-only response) and up to 1 KiB of its body.
struct HTTP2ProbeAnswer: Sendable {
    var status: Int
    var grpcStatus: Int?
    var body: ByteBuffer
}

/// Receives one probe's response from the exchange.
final class HTTP2ProbeCollector: UpstreamResponseDelegate {
    private let promise: EventLoopPromise<HTTP2ProbeAnswer>
    var exchange: (any UpstreamExchange)?
    private var answer = HTTP2ProbeAnswer(status: 0, body: ByteBuffer())
    private(set) var isFinished = false

    init(promise: EventLoopPromise<HTTP2ProbeAnswer>) {
        self.promise = promise
    }

    /// The probe is over (answered, failed or timed out): a response still coming is not wanted.
    func finish() {
        guard !isFinished else { return }
        isFinished = true
        exchange?.abort()
        exchange = nil
    }

    func upstreamResponseHead(_ head: HTTP1ResponseHead) {
        answer.status = head.status.code
        answer.grpcStatus = GRPCHealth.grpcStatus(inRawFields: head.rawFields)
    }

    func upstreamResponseBody(_ body: ByteBuffer) {
        var body = body
        if answer.body.readableBytes + body.readableBytes <= 1024 { answer.body.writeBuffer(&body) }
    }

    func upstreamResponseEnd(_ trailers: HTTPFields?) {
        if let value = trailers?[HTTPField.Name("grpc-status")!] { answer.grpcStatus = Int(value) }
        isFinished = true
        exchange = nil
        promise.succeed(answer)
    }

    func upstreamReadComplete() {}

    func upstreamFailed(_ error: UpstreamError) {
        exchange = nil
        promise.fail(error)
    }

    func upstreamWritabilityChanged(_ isWritable: Bool) {}
}

/// The pieces of `grpc.health.v1` a check needs, without generated code: the request message
/// (`HealthCheckRequest { string service = 1; }`) and the answer's `ServingStatus` (field 1, SERVING = 1).
enum GRPCHealth {
    /// One length-prefixed gRPC message: uncompressed, the protobuf encoding of the service name.
    static func checkRequest(service: String) -> ByteBuffer {
        let name = Array(service.utf8)
        var message: [UInt8] = []
        if !name.isEmpty {
            message.append(0x0A)  // field 1, length-delimited
            var length = name.count
            while length >= 0x80 {
                message.append(UInt8(length & 0x7F) | 0x80)
                length >>= 7
            }
            message.append(UInt8(length))
            message += name
        }
        var buffer = ByteBuffer()
        buffer.writeInteger(UInt8(0))
        buffer.writeInteger(UInt32(message.count))
        buffer.writeBytes(message)
        return buffer
    }

    /// Healthy: HTTP 200, `grpc-status: 0` and a response whose status is SERVING.
    static func verdict(_ answer: HTTP2ProbeAnswer) -> HealthProbe.Result {
        guard answer.status == 200 else { return HealthProbe.Result(passed: false, reason: "status \(answer.status)") }
        guard let code = answer.grpcStatus else { return HealthProbe.Result(passed: false, reason: "no grpc-status") }
        guard code == 0 else { return HealthProbe.Result(passed: false, reason: "grpc-status \(code)") }
        let serving = servingStatus(answer.body)
        guard serving == 1 else { return HealthProbe.Result(passed: false, reason: "serving status \(serving.map { "\($0)" } ?? "missing")") }
        return HealthProbe.Result(passed: true)
    }

    /// Field 1 (a varint) of the first message in `body`, or nil when the body is not one message.
    static func servingStatus(_ body: ByteBuffer) -> UInt64? {
        var body = body
        guard body.readInteger(as: UInt8.self) == 0, let length = body.readInteger(as: UInt32.self), body.readableBytes >= Int(length),
              var message = body.readSlice(length: Int(length)) else { return nil }
        var status: UInt64 = 0  // proto3: an absent field is its default, UNKNOWN
        while let tag = readVarint(&message) {
            switch tag & 7 {
            case 0:
                guard let value = readVarint(&message) else { return nil }
                if tag >> 3 == 1 { status = value }
            case 2:
                guard let length = readVarint(&message), message.readSlice(length: Int(clamping: length)) != nil else { return nil }
            default:
                return nil
            }
        }
        return status
    }

    private static func readVarint(_ buffer: inout ByteBuffer) -> UInt64? {
        var value: UInt64 = 0
        var shift: UInt64 = 0
        while let byte = buffer.readInteger(as: UInt8.self) {
            value |= UInt64(byte & 0x7F) << shift
            if byte & 0x80 == 0 { return value }
            shift += 7
            if shift > 63 { return nil }
        }
        return nil
    }

    /// `grpc-status` among a head's raw field lines (a trailers-only response carries it there).
    static func grpcStatus(inRawFields fields: ByteBuffer) -> Int? {
        let text = String(buffer: fields)
        for line in text.split(separator: "\r\n") {
            guard let colon = line.firstIndex(of: ":"), line[..<colon].lowercased() == "grpc-status" else { continue }
            return Int(line[line.index(after: colon)...].trimmingCharacters(in: " \t"))
        }
        return nil
    }
}

private extension Substring {
    func trimmingCharacters(in set: String) -> Substring {
        var text = self
        while let first = text.first, set.contains(first) { text = text.dropFirst() }
        while let last = text.last, set.contains(last) { text = text.dropLast() }
        return text
    }
}
