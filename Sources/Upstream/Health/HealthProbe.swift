import GatewayTLS
import NIOCore
import NIOPosix

/// One active health check against one endpoint: a TCP connect, or an HTTP/1.1 `GET` whose status line
/// is all that is read (`HTTP2HealthProbe` checks `protocol: http2` clusters). Each probe uses a new connection (`Connection: close`), so a probe never shares
/// fate with the data path's pooled connections. On a TLS cluster the HTTP check speaks TLS, with the
/// cluster's verification, so an endpoint whose certificate no longer verifies is unhealthy.
enum HealthProbe {
    struct Result: Sendable {
        var passed: Bool
        /// Why it failed, for the transition log.
        var reason: String?
    }

    static func run(_ settings: HealthCheckSettings, endpoint: Endpoint, tls: (TLSClientContext, TLSPeer)? = nil,
                    on eventLoop: EventLoop) -> EventLoopFuture<Result> {
        let promise = eventLoop.makePromise(of: Int.self)
        let request: ByteBuffer?
        if case .http(let path, let host, _) = settings.kind {
            request = ByteBuffer(string: "GET \(path) HTTP/1.1\r\nHost: \(host ?? endpoint.label)\r\nUser-Agent: portcullis-health-check\r\nConnection: close\r\n\r\n")
        } else {
            request = nil
        }
        let timeout = eventLoop.scheduleTask(in: settings.timeout) { promise.fail(ProbeError.timeout) }
        let connect = ClientBootstrap(group: eventLoop)
            .connectTimeout(settings.timeout)
            .channelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    if let request {
                        // The probe's request waits in the TLS handler until the handshake is done.
                        if let (context, peer) = tls { try channel.pipeline.syncOperations.addHandler(TLSClientHandler(context: context, peer: peer)) }
                        try channel.pipeline.syncOperations.addHandler(HealthProbeHandler(request: request, promise: promise))
                    }
                }
            }
            .connect(to: endpoint.address)
        connect.whenComplete { result in
            switch result {
            case .success(let channel):
                if request == nil {
                    promise.succeed(0)
                    channel.close(promise: nil)
                } else {
                    // Whatever ends the probe (answer, timeout) also ends the connection.
                    promise.futureResult.whenComplete { _ in channel.close(promise: nil) }
                }
            case .failure(let error):
                promise.fail(error)
            }
        }
        return promise.futureResult.map { status -> Result in
            timeout.cancel()
            guard case .http(_, _, let expected) = settings.kind else { return Result(passed: true) }
            if expected.contains(where: { $0.contains(status) }) { return Result(passed: true) }
            return Result(passed: false, reason: "status \(status)")
        }.flatMapErrorThrowing { error in
            timeout.cancel()
            return Result(passed: false, reason: error is ProbeError ? "\(error)" : "connect: \(error)")
        }
    }

    enum ProbeError: Error, CustomStringConvertible {
        case timeout
        case closedBeforeStatus
        case badStatusLine

        var description: String {
            switch self {
            case .timeout: "timed out"
            case .closedBeforeStatus: "closed before a status line"
            case .badStatusLine: "invalid status line"
            }
        }
    }
}

/// Writes the probe request and reads up to the status line.
final class HealthProbeHandler: ChannelInboundHandler {
    typealias InboundIn = ByteBuffer
    typealias OutboundOut = ByteBuffer

    private let request: ByteBuffer
    private let promise: EventLoopPromise<Int>
    private var received = ByteBuffer()

    init(request: ByteBuffer, promise: EventLoopPromise<Int>) {
        self.request = request
        self.promise = promise
    }

    func channelActive(context: ChannelHandlerContext) {
        context.writeAndFlush(wrapOutboundOut(request), promise: nil)
        context.fireChannelActive()
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        var chunk = unwrapInboundIn(data)
        received.writeBuffer(&chunk)
        let bytes = received.readableBytesView
        guard let end = bytes.firstIndex(of: UInt8(ascii: "\n")) else {
            if received.readableBytes > 1024 { promise.fail(HealthProbe.ProbeError.badStatusLine) }
            return
        }
        // "HTTP/1.1 200 OK": the three digits after the first space.
        let line = bytes[bytes.startIndex..<end]
        guard let space = line.firstIndex(of: UInt8(ascii: " ")), line.distance(from: space, to: line.endIndex) >= 4,
              let status = Int(String(decoding: line[(space + 1)..<(space + 4)], as: UTF8.self)) else {
            promise.fail(HealthProbe.ProbeError.badStatusLine)
            return
        }
        promise.succeed(status)
    }

    func channelInactive(context: ChannelHandlerContext) {
        promise.fail(HealthProbe.ProbeError.closedBeforeStatus)
        context.fireChannelInactive()
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        promise.fail(error)
        context.close(promise: nil)
    }
}
