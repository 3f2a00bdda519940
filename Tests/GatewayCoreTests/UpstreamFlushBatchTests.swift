import HTTP1
import HTTPTypes
import NIOCore
import NIOEmbedded
import Testing
@testable import Upstream

/// Upstream requests written during an event-loop tick leave together at its end (`UpstreamFlushBatch`).
@Suite("Upstream flush batch")
struct UpstreamFlushBatchTests {
    private final class Delegate: UpstreamResponseDelegate {
        func upstreamResponseHead(_ head: HTTP1ResponseHead) {}
        func upstreamResponseBody(_ body: ByteBuffer) {}
        func upstreamResponseEnd(_ trailers: HTTPFields?) {}
        func upstreamReadComplete() {}
        func upstreamFailed(_ error: UpstreamError) {}
        func upstreamWritabilityChanged(_ isWritable: Bool) {}
    }

    @Test("requests of one tick are written at once but flushed only when the tick's tasks run, each once, over every cluster of the loop")
    func flushedAtEndOfTick() throws {
        let loop = EmbeddedEventLoop()
        let batch = UpstreamFlushBatch(eventLoop: loop)
        let endpoint = Endpoint(address: try SocketAddress(ipAddress: "127.0.0.1", port: 9), label: "127.0.0.1:9", weight: 1, index: 0)
        let settings = UpstreamConnectionSettings(connectTimeout: .seconds(1), idleTimeout: nil, maxIdlePerEndpoint: 4, maxRequestsPerConnection: 0)
        func pool(_ name: String, _ index: Int) -> ClusterLoopState {
            ClusterLoopState(cluster: UpstreamCluster(name: name, index: index, endpoints: [endpoint], settings: settings),
                             eventLoop: loop, loopIndex: 0, flushBatch: batch)
        }
        let pools = [pool("a", 0), pool("b", 1)]
        var channels: [EmbeddedChannel] = []
        var connections: [HTTP1UpstreamConnection] = []
        for index in 0..<3 {
            let connection = HTTP1UpstreamConnection(endpoint: endpoint, pool: pools[index % 2])
            let channel = EmbeddedChannel(handler: connection, loop: loop)
            try channel.connect(to: endpoint.address).wait()
            channels.append(channel)
            connections.append(connection)
        }
        let delegate = Delegate()
        let edits = ForwardingEdits(requestID: "r", forwardedFor: "ip", forwardedProto: "http", stripConnectionFields: false, chunked: false, teTrailers: false)
        for (index, connection) in connections.enumerated() {
            connection.sendRequestHead(HTTPRequest(method: .get, scheme: nil, authority: "a", path: "/\(index)"), edits: edits, framing: .none, delegate: delegate)
            // Asking again in the same tick queues nothing more.
            connection.flush()
        }
        for channel in channels { #expect(try channel.readOutbound(as: ByteBuffer.self) == nil, "flushed before the tick ended") }
        loop.run()
        for (index, channel) in channels.enumerated() {
            let head = try #require(try channel.readOutbound(as: ByteBuffer.self), "not flushed at the end of the tick")
            #expect(String(buffer: head).hasPrefix("GET /\(index) HTTP/1.1\r\n"))
            #expect(try channel.readOutbound(as: ByteBuffer.self) == nil)
        }
        // The next tick's request is deferred again, and flushed again.
        try channels[0].writeInbound(ByteBuffer(string: "HTTP/1.1 204 No Content\r\n\r\n"))
        connections[0].sendRequestHead(HTTPRequest(method: .get, scheme: nil, authority: "a", path: "/next"), edits: edits, framing: .none, delegate: delegate)
        #expect(try channels[0].readOutbound(as: ByteBuffer.self) == nil)
        loop.run()
        #expect(String(buffer: try #require(try channels[0].readOutbound(as: ByteBuffer.self))).hasPrefix("GET /next HTTP/1.1\r\n"))
        for channel in channels { _ = try? channel.finish() }
    }
}
