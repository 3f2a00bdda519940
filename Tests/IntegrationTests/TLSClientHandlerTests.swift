import Foundation
import GatewayTLS
import NIOCore
import NIOEmbedded
import Testing

/// The client handler against the gateway's own TLS server handler, both on `EmbeddedChannel`s, with
/// bytes carried between them in memory until neither side has more to say.
@Suite("TLS client handler (in memory)")
struct TLSClientHandlerTests {
    struct Pair {
        let client: EmbeddedChannel
        let server: EmbeddedChannel
        let handler: TLSClientHandler
        let received: ReceivedBytes

        /// Moves ciphertext both ways until both sides are quiet.
        func pump() throws {
            var moved = true
            while moved {
                moved = false
                while let bytes = try client.readOutbound(as: ByteBuffer.self) {
                    if bytes.readableBytes > 0, server.isActive { try server.writeInbound(bytes) }
                    moved = true
                }
                while let bytes = try server.readOutbound(as: ByteBuffer.self) {
                    if bytes.readableBytes > 0, client.isActive { try client.writeInbound(bytes) }
                    moved = true
                }
            }
        }

        /// Plaintext the server's application side got.
        func serverPlaintext() throws -> String {
            var text = ""
            while let chunk = try server.readInbound(as: ByteBuffer.self) { text += String(buffer: chunk) }
            return text
        }
    }

    /// Collects the plaintext a client handler delivers.
    final class ReceivedBytes: ChannelInboundHandler, @unchecked Sendable {
        typealias InboundIn = ByteBuffer
        var text = ""
        var events: [TLSClientHandshakeCompleted] = []
        func channelRead(context: ChannelHandlerContext, data: NIOAny) { text += String(buffer: unwrapInboundIn(data)) }
        func userInboundEventTriggered(context: ChannelHandlerContext, event: Any) {
            if let event = event as? TLSClientHandshakeCompleted { events.append(event) }
        }
    }

    static func makePair(_ certs: TestCertificates, serverALPN: [String] = ["h2", "http/1.1"], client configure: (inout TLSClientConfiguration) -> Void,
                         peer: TLSPeer = TLSPeer(host: "127.0.0.1", serverName: "a.test"),
                         sessions: TLSClientSessionCache? = nil, store: TLSContextStore? = nil) throws -> Pair {
        let store = try store ?? makeStore(certs, alpn: serverALPN)
        let server = EmbeddedChannel(handler: TLSServerHandler(store: store))
        var configuration = TLSClientConfiguration()
        configuration.caFile = "\(certs.folder)/a.test.pem"
        configure(&configuration)
        let handler = TLSClientHandler(context: try TLSClientContext(configuration), peer: peer, sessions: sessions, sessionSlot: 0)
        let received = ReceivedBytes()
        let client = EmbeddedChannel()
        try client.pipeline.syncOperations.addHandler(handler)
        try client.pipeline.syncOperations.addHandler(received)
        return Pair(client: client, server: server, handler: handler, received: received)
    }

    static func makeStore(_ certs: TestCertificates, alpn: [String] = ["h2", "http/1.1"]) throws -> TLSContextStore {
        try TLSContextStore(certificates: [TLSCertificateFiles(certificateChain: "\(certs.folder)/a.test.pem", privateKey: "\(certs.folder)/a.test.key")],
                            alpn: alpn, ticketKeys: try TLSSessionTicketKeys())
    }

    static func connect(_ pair: Pair) throws {
        try pair.server.connect(to: SocketAddress(ipAddress: "127.0.0.1", port: 1)).wait()
        try pair.client.connect(to: SocketAddress(ipAddress: "127.0.0.1", port: 443)).wait()
    }

    @Test("writes made before the handshake go out after it, in order; ALPN and the version are reported")
    func heldWrites() throws {
        let certs = try TestCertificates(names: ["a.test"])
        defer { certs.remove() }
        let pair = try Self.makePair(certs) { $0.alpn = ["h2", "http/1.1"] }
        try Self.connect(pair)
        let first = pair.client.eventLoop.makePromise(of: Void.self)
        pair.client.write(ByteBuffer(string: "hello "), promise: first)
        pair.client.writeAndFlush(ByteBuffer(string: "world"), promise: nil)
        try pair.pump()
        let handshake = try pair.handler.handshakeResult.wait()
        #expect(handshake.applicationProtocol == "h2")
        #expect(handshake.version == "TLSv1.3")
        #expect(!handshake.resumed)
        #expect(pair.received.events == [handshake])
        try first.futureResult.wait()
        #expect(try pair.serverPlaintext() == "hello world")
        // And back: the server's plaintext reaches the handler after the client's.
        try pair.server.writeAndFlush(ByteBuffer(string: "pong")).wait()
        try pair.pump()
        #expect(pair.received.text == "pong")
        _ = try? pair.server.finish()
        _ = try? pair.client.finish()
    }

    @Test("close sends close_notify, which closes the server side")
    func closeNotify() throws {
        let certs = try TestCertificates(names: ["a.test"])
        defer { certs.remove() }
        let pair = try Self.makePair(certs) { _ in }
        try Self.connect(pair)
        try pair.pump()
        _ = try pair.handler.handshakeResult.wait()
        pair.client.close(promise: nil)
        try pair.pump()
        #expect(!pair.server.isActive)
        _ = try? pair.server.finish()
    }

    @Test("a certificate for another name fails the handshake with the reason, and held writes fail too")
    func hostnameMismatch() throws {
        let certs = try TestCertificates(names: ["a.test"])
        defer { certs.remove() }
        let pair = try Self.makePair(certs, client: { _ in }, peer: TLSPeer(host: "127.0.0.1", serverName: "b.test"))
        try Self.connect(pair)
        let write = pair.client.eventLoop.makePromise(of: Void.self)
        pair.client.writeAndFlush(ByteBuffer(string: "never sent"), promise: write)
        // The embedded client channel rethrows the handshake error it saw.
        #expect(throws: TLSConnectionError.self) { try pair.pump() }
        #expect(throws: TLSConnectionError.self) { try pair.handler.handshakeResult.wait() }
        do {
            _ = try pair.handler.handshakeResult.wait()
        } catch let error as TLSConnectionError {
            #expect(error.reason == "TLS handshake failed: certificate verify failed: hostname mismatch")
        }
        #expect(throws: (any Error).self) { try write.futureResult.wait() }
        #expect(!pair.client.isActive)
        #expect(try pair.serverPlaintext() == "")
        _ = try? pair.server.finish()
    }

    @Test("up to the held-bytes limit waits for the handshake; one byte more fails the connection, not just that write")
    func heldLimit() throws {
        let certs = try TestCertificates(names: ["a.test"])
        defer { certs.remove() }
        let pair = try Self.makePair(certs) { _ in }
        let fits = pair.client.eventLoop.makePromise(of: Void.self)
        pair.client.write(ByteBuffer(repeating: 1, count: TLSClientHandler.maxBufferedBytes), promise: fits)
        try Self.connect(pair)
        pair.client.flush()
        try pair.pump()
        try fits.futureResult.wait()
        #expect(try pair.serverPlaintext().utf8.count == TLSClientHandler.maxBufferedBytes)
        _ = try? pair.server.finish()
        _ = try? pair.client.finish()

        let over = try Self.makePair(certs) { _ in }
        try Self.connect(over)
        let first = over.client.eventLoop.makePromise(of: Void.self)
        let tooMuch = over.client.eventLoop.makePromise(of: Void.self)
        over.client.write(ByteBuffer(repeating: 1, count: TLSClientHandler.maxBufferedBytes), promise: first)
        over.client.write(ByteBuffer(repeating: 2, count: 1), promise: tooMuch)
        #expect(throws: TLSConnectionError.self) { try tooMuch.futureResult.wait() }
        #expect(throws: TLSConnectionError.self) { try first.futureResult.wait() }
        #expect(throws: TLSConnectionError.self) { try over.handler.handshakeResult.wait() }
        #expect(!over.client.isActive)
        _ = try? over.server.finish()
    }

    @Test("with the session cache, every connection after the first resumes, also when the server does not renew tickets")
    func resumption() throws {
        let certs = try TestCertificates(names: ["a.test"])
        defer { certs.remove() }
        let cache = TLSClientSessionCache(slots: 1)
        let store = try Self.makeStore(certs)
        var seen: [Bool] = []
        for _ in 0..<4 {
            let pair = try Self.makePair(certs, client: { _ in }, sessions: cache, store: store)
            try Self.connect(pair)
            try pair.pump()
            // TLS 1.3 tickets come after the handshake, read with the first application data.
            try pair.server.writeAndFlush(ByteBuffer(string: "x")).wait()
            try pair.pump()
            seen.append(try pair.handler.handshakeResult.wait().resumed)
            _ = try? pair.server.finish()
            _ = try? pair.client.finish()
        }
        // Only the first needs a full handshake: each resumed one brings a ticket for the next.
        #expect(seen == [false, true, true, true])
    }
}
