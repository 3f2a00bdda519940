import GatewayFilterAPI
import NIOConcurrencyHelpers
import NIOCore
import NIOHTTP1
import NIOPosix

/// Counters a test can read to prove what did (or did not) reach the origin.
public final class EchoStats: Sendable {
    private let box = NIOLockedValueBox((requests: 0, connections: 0))
    private let last = NIOLockedValueBox((headers: [String: String](), bodyBytes: 0))
    public init() {}
    public var requests: Int { box.withLockedValue { $0.requests } }
    /// The most recent complete request's headers (lower-case names, repeated ones joined) and body size.
    public var lastRequest: (headers: [String: String], bodyBytes: Int) { last.withLockedValue { $0 } }
    func record(_ head: HTTPRequestHead, bodyBytes: Int) {
        var headers: [String: String] = [:]
        for (name, value) in head.headers { headers[name.lowercased(), default: ""] += headers[name.lowercased()] == nil ? value : ", \(value)" }
        last.withLockedValue { $0 = (headers, bodyBytes) }
    }
    public var connections: Int { box.withLockedValue { $0.connections } }
    func newConnection() -> Int { box.withLockedValue { $0.connections += 1; return $0.connections } }
    func newRequest() { box.withLockedValue { $0.requests += 1 } }
}

/// A running echo server.
public struct EchoServerHandle: Sendable {
    public let channel: Channel
    public let stats: EchoStats
    public var port: Int { channel.localAddress?.port ?? 0 }
}

/// A small HTTP/1.1 origin for demos, tests and benchmarks. It answers every request with a JSON
/// description of what it received, and can be told through query parameters to misbehave:
///
/// - `status=N`: answer with status N.
/// - `delay_ms=N`: wait N ms before answering.
/// - `type=T`: the `bytes=N` body's Content-Type (default application/octet-stream).
/// - `bytes=N`: answer with N bytes of `x` instead of JSON, streamed with backpressure (`chunked=1`
///   omits Content-Length so the body is chunked).
/// - `fail=reset`: reset the connection instead of answering; `fail=hang`: never answer.
/// - `header=name:value` (and `header2=`): add response headers.
/// - `early=1`: answer as soon as the head arrives, before reading the body.
/// - `trailer=name:value`: send the JSON chunked, ending with that trailer field.
///
/// Request trailers, when the request has any, are echoed as `"trailers"`.
///
/// `GET /healthz` answers `200 ok`.
public enum EchoServer {
    public static func start(host: String, port: Int, name: String, group: EventLoopGroup) async throws -> EchoServerHandle {
        let stats = EchoStats()
        let channel = try await ServerBootstrap(group: group)
            .serverChannelOption(.backlog, value: 1024)
            .serverChannelOption(.socketOption(.so_reuseaddr), value: 1)
            .childChannelOption(.socketOption(.tcp_nodelay), value: 1)
            .childChannelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    try channel.pipeline.syncOperations.configureHTTPServerPipeline(withErrorHandling: true)
                    try channel.pipeline.syncOperations.addHandler(EchoHandler(name: name, stats: stats, connection: stats.newConnection()))
                }
            }
            .bind(host: host, port: port)
            .get()
        return EchoServerHandle(channel: channel, stats: stats)
    }
}

final class EchoHandler: ChannelInboundHandler {
    typealias InboundIn = HTTPServerRequestPart
    typealias OutboundOut = HTTPServerResponsePart

    private let name: String
    private let stats: EchoStats
    /// Which accepted connection this is (1, 2, ...): lets tests see upstream connection reuse.
    private let connection: Int
    private var head: HTTPRequestHead?
    private var bodyBytes = 0
    private var body = ByteBuffer()
    private var requestTrailers: HTTPHeaders?
    private static let maxEchoedBody = 64 * 1024
    private var streamRemaining = 0
    private var streamContext: ChannelHandlerContext?
    private var streamKeepAlive = true

    init(name: String, stats: EchoStats, connection: Int) {
        self.name = name
        self.stats = stats
        self.connection = connection
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        switch unwrapInboundIn(data) {
        case .head(let head):
            self.head = head
            bodyBytes = 0
            body.clear()
            requestTrailers = nil
            if Self.queryItems(head.uri)["early"] == "1" {
                // Answer before the body arrives, as servers that reject or ignore bodies do.
                stats.newRequest()
                respond(context: context, head: head)
                self.head = nil
            }
        case .body(var chunk):
            bodyBytes += chunk.readableBytes
            if body.readableBytes < Self.maxEchoedBody {
                var slice = chunk.readSlice(length: min(chunk.readableBytes, Self.maxEchoedBody - body.readableBytes))!
                body.writeBuffer(&slice)
            }
        case .end(let trailers):
            requestTrailers = trailers
            guard let head else { return }
            stats.record(head, bodyBytes: bodyBytes)
            stats.newRequest()
            respond(context: context, head: head)
        }
    }

    private func respond(context: ChannelHandlerContext, head: HTTPRequestHead) {
        let query = Self.queryItems(head.uri)
        if query["fail"] == "reset" {
            // SO_LINGER 0 makes close() send a TCP reset instead of a FIN.
            let channel = context.channel
            if let provider = channel as? SocketOptionProvider {
                provider.setSoLinger(linger(l_onoff: 1, l_linger: 0)).whenComplete { _ in channel.close(promise: nil) }
            } else {
                channel.close(promise: nil)
            }
            return
        }
        if query["fail"] == "hang" { return }
        let delay = Int64(query["delay_ms"] ?? "") ?? 0
        if delay > 0 {
            let loopBound = NIOLoopBound((self, context), eventLoop: context.eventLoop)
            context.eventLoop.scheduleTask(in: .milliseconds(delay)) {
                let (handler, context) = loopBound.value
                handler.writeResponse(context: context, head: head, query: query)
            }
        } else {
            writeResponse(context: context, head: head, query: query)
        }
    }

    private func writeResponse(context: ChannelHandlerContext, head: HTTPRequestHead, query: [String: String]) {
        let path = head.uri.split(separator: "?", maxSplits: 1).first.map(String.init) ?? head.uri
        var status = HTTPResponseStatus(statusCode: Int(query["status"] ?? "") ?? 200)
        var headers = HTTPHeaders()
        headers.add(name: "x-echo-name", value: name)
        for key in ["header", "header2"] {
            if let extra = query[key], let colon = extra.firstIndex(of: ":") {
                headers.add(name: String(extra[..<colon]), value: String(extra[extra.index(after: colon)...]))
            }
        }
        let keepAlive = head.isKeepAlive
        if !keepAlive { headers.add(name: "connection", value: "close") }

        if path == "/healthz" {
            status = .ok
            var ok = context.channel.allocator.buffer(capacity: 3)
            ok.writeString("ok\n")
            headers.add(name: "content-length", value: "3")
            finish(context: context, head: HTTPResponseHead(version: head.version, status: status, headers: headers), body: ok, keepAlive: keepAlive)
            return
        }
        if let count = Int(query["bytes"] ?? ""), count >= 0 {
            if query["chunked"] != "1" { headers.add(name: "content-length", value: String(count)) }
            headers.add(name: "content-type", value: query["type"] ?? "application/octet-stream")
            context.write(wrapOutboundOut(.head(HTTPResponseHead(version: head.version, status: status, headers: headers))), promise: nil)
            streamRemaining = count
            streamContext = context
            streamKeepAlive = keepAlive
            streamMore()
            return
        }
        var json = context.channel.allocator.buffer(capacity: 512)
        json.writeString("{\"name\":\(JSONText.quoted(name)),\"connection\":\(connection),\"method\":\(JSONText.quoted(head.method.rawValue)),\"path\":\(JSONText.quoted(head.uri)),\"headers\":{")
        var first = true
        var seen: [String] = []
        for header in head.headers {
            let lower = header.name.lowercased()
            if seen.contains(lower) { continue }
            seen.append(lower)
            if !first { json.writeString(",") }
            first = false
            json.writeString("\(JSONText.quoted(lower)):\(JSONText.quoted(head.headers[lower].joined(separator: ", ")))")
        }
        json.writeString("},\"body_bytes\":\(bodyBytes),\"body\":\(JSONText.quoted(String(buffer: body)))")
        if let requestTrailers, !requestTrailers.isEmpty {
            json.writeString(",\"trailers\":{")
            json.writeString(requestTrailers.map { "\(JSONText.quoted($0.name.lowercased())):\(JSONText.quoted($0.value))" }.joined(separator: ","))
            json.writeString("}")
        }
        json.writeString("}\n")
        headers.add(name: "content-type", value: "application/json")
        var trailers: HTTPHeaders?
        if let trailer = query["trailer"], let colon = trailer.firstIndex(of: ":") {
            trailers = [String(trailer[..<colon]): String(trailer[trailer.index(after: colon)...])]
            headers.add(name: "trailer", value: String(trailer[..<colon]))
        } else {
            headers.add(name: "content-length", value: String(json.readableBytes))
        }
        finish(context: context, head: HTTPResponseHead(version: head.version, status: status, headers: headers), body: json,
               keepAlive: keepAlive, trailers: trailers)
    }

    private func finish(context: ChannelHandlerContext, head: HTTPResponseHead, body: ByteBuffer, keepAlive: Bool, trailers: HTTPHeaders? = nil) {
        context.write(wrapOutboundOut(.head(head)), promise: nil)
        context.write(wrapOutboundOut(.body(.byteBuffer(body))), promise: nil)
        let done = context.writeAndFlush(wrapOutboundOut(.end(trailers)))
        if !keepAlive { done.assumeIsolated().whenComplete { _ in context.close(promise: nil) } }
    }

    private static let chunk: ByteBuffer = ByteBuffer(repeating: UInt8(ascii: "x"), count: 64 * 1024)

    /// Writes the `bytes=N` body while the socket accepts it; resumes on writability.
    private func streamMore() {
        guard let context = streamContext else { return }
        while streamRemaining > 0 && context.channel.isWritable {
            let size = min(streamRemaining, Self.chunk.readableBytes)
            streamRemaining -= size
            context.write(wrapOutboundOut(.body(.byteBuffer(Self.chunk.getSlice(at: 0, length: size)!))), promise: nil)
        }
        if streamRemaining == 0 {
            streamContext = nil
            let done = context.writeAndFlush(wrapOutboundOut(.end(nil)))
            if !streamKeepAlive { done.assumeIsolated().whenComplete { _ in context.close(promise: nil) } }
        } else {
            context.flush()
        }
    }

    func channelWritabilityChanged(context: ChannelHandlerContext) {
        if context.channel.isWritable { streamMore() }
        context.fireChannelWritabilityChanged()
    }

    static func queryItems(_ uri: String) -> [String: String] {
        guard let question = uri.firstIndex(of: "?") else { return [:] }
        var items: [String: String] = [:]
        for pair in uri[uri.index(after: question)...].split(separator: "&") {
            let parts = pair.split(separator: "=", maxSplits: 1)
            items[String(parts[0])] = parts.count > 1 ? String(parts[1]).removingPercentEncoding : ""
        }
        return items
    }
}

extension String {
    /// Decodes %XX escapes (and leaves malformed ones as they are).
    var removingPercentEncoding: String {
        var bytes: [UInt8] = []
        var iterator = utf8.makeIterator()
        while let byte = iterator.next() {
            if byte == UInt8(ascii: "%"), let high = iterator.next(), let low = iterator.next(),
               let value = UInt8(String(decoding: [high, low], as: UTF8.self), radix: 16) {
                bytes.append(value)
            } else {
                bytes.append(byte)
            }
        }
        return String(decoding: bytes, as: UTF8.self)
    }
}
