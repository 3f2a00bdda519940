import NIOCore
import NIOPosix

/// Asks the DNS servers a cluster names (`dns.resolvers`) directly over UDP, on the event loop: no
/// thread, no system configuration involved. Servers are tried in order; each gets `timeout` per
/// query. Truncated answers are used as they are (no TCP retry): a cluster's address list fits in
/// a UDP answer.
public struct DNSServerResolver: HostResolver {
    public let servers: [SocketAddress]
    public let timeout: TimeAmount

    public init(servers: [SocketAddress], timeout: TimeAmount) {
        self.servers = servers
        self.timeout = timeout
    }

    public struct QueryError: Error, CustomStringConvertible {
        public var description: String
    }

    public func resolve(_ host: String, family: AddressFamilyPreference, on eventLoop: EventLoop) -> EventLoopFuture<[String]> {
        let types: [DNSMessage.RecordType] = switch family {
        case .v4: [.a]
        case .v6: [.aaaa]
        case .auto: [.a, .aaaa]
        }
        let lookups = types.map { query(host, type: $0, serverIndex: 0, on: eventLoop) }
        return EventLoopFuture.whenAllSucceed(lookups, on: eventLoop).map { answers in
            var addresses: [String] = []
            for address in answers.joined() where !addresses.contains(address) { addresses.append(address) }
            return addresses
        }
    }

    private func query(_ host: String, type: DNSMessage.RecordType, serverIndex: Int, on eventLoop: EventLoop) -> EventLoopFuture<[String]> {
        guard serverIndex < servers.count else {
            return eventLoop.makeFailedFuture(QueryError(description: "no DNS server configured"))
        }
        let server = servers[serverIndex]
        return Self.ask(server, host: host, type: type, timeout: timeout, on: eventLoop).flatMapError { error in
            guard serverIndex + 1 < servers.count else { return eventLoop.makeFailedFuture(error) }
            return query(host, type: type, serverIndex: serverIndex + 1, on: eventLoop)
        }
    }

    /// One question to one server, on a fresh UDP socket (a random source port and id per query, so an
    /// off-path attacker has to guess both).
    private static func ask(_ server: SocketAddress, host: String, type: DNSMessage.RecordType, timeout: TimeAmount,
                            on eventLoop: EventLoop) -> EventLoopFuture<[String]> {
        let id = UInt16.random(in: 0...UInt16.max)
        let promise = eventLoop.makePromise(of: [String].self)
        let bindHost = server.protocol == .inet6 ? "::" : "0.0.0.0"
        DatagramBootstrap(group: eventLoop)
            .channelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    try channel.pipeline.syncOperations.addHandler(DNSAnswerHandler(server: server, id: id, type: type, promise: promise))
                }
            }
            .bind(host: bindHost, port: 0)
            .whenComplete { result in
                switch result {
                case .failure(let error):
                    promise.fail(error)
                case .success(let channel):
                    let question = DNSMessage.query(id: id, name: host, type: type)
                    channel.writeAndFlush(AddressedEnvelope(remoteAddress: server, data: question)).whenFailure { promise.fail($0) }
                    let timer = eventLoop.scheduleTask(in: timeout) {
                        promise.fail(QueryError(description: "no answer from DNS server \(server) within \(timeout.nanoseconds / 1_000_000) ms"))
                    }
                    promise.futureResult.whenComplete { _ in
                        timer.cancel()
                        channel.close(promise: nil)
                    }
                }
            }
        return promise.futureResult
    }
}

/// Waits for the answer to one query on its socket; anything else arriving there is ignored.
private final class DNSAnswerHandler: ChannelInboundHandler {
    typealias InboundIn = AddressedEnvelope<ByteBuffer>

    private let server: SocketAddress
    private let id: UInt16
    private let type: DNSMessage.RecordType
    private let promise: EventLoopPromise<[String]>

    init(server: SocketAddress, id: UInt16, type: DNSMessage.RecordType, promise: EventLoopPromise<[String]>) {
        self.server = server
        self.id = id
        self.type = type
        self.promise = promise
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        let envelope = unwrapInboundIn(data)
        guard envelope.remoteAddress == server else { return }
        do {
            let answers = try DNSMessage.parseAnswers(envelope.data, id: id, type: type)
            promise.succeed(answers.map(\.address))
        } catch .idMismatch {
            return
        } catch {
            promise.fail(DNSServerResolver.QueryError(description: "\(error) from \(server)"))
        }
    }
}
