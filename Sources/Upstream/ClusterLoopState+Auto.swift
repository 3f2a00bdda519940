import GatewayTLS
import NIOCore
import NIOPosix

/// `protocol: auto` on a TLS cluster: a new connection offers ALPN `h2` and `http/1.1`, and the handler
/// that speaks the chosen protocol is added once the handshake is done. What an endpoint chose is
/// remembered (`learnedProtocol`, read by `acquire`): an h2 endpoint then gets its requests multiplexed
/// over the HTTP/2 connections (as on an `http2` cluster), an HTTP/1.1 one reuses idle connections (as on
/// an `http1` one).
/// A server that changes its mind is learned again on the next new connection. An exchange that must be
/// HTTP/1.1 (a WebSocket upgrade) gets an idle HTTP/1.1 connection or one that offers only `http/1.1`.
extension ClusterLoopState {
    /// A new connection; with `http1Only` it offers only `http/1.1` and learns nothing of the endpoint.
    func connectAuto(_ endpoint: Endpoint, http1Only: Bool, _ callback: @escaping AcquireCallback) {
        let loopBoundSelf = NIOLoopBound(self, eventLoop: eventLoop)
        let context = http1Only ? cluster.options.tlsHTTP1Only : nil
        openConnections += 1
        let future = ClientBootstrap(group: eventLoop)
            .connectTimeout(cluster.settings.connectTimeout)
            .channelOption(.socketOption(.tcp_nodelay), value: 1)
            .channelInitializer { channel in
                channel.eventLoop.makeCompletedFuture { try loopBoundSelf.value.addTLSHandler(to: channel, endpoint: endpoint, context: context) }
            }
            .connect(to: endpoint.address)
        future.assumeIsolated().whenComplete { result in
            switch result {
            case .success(let channel):
                self.afterHandshake(of: channel) { handshake in
                    switch handshake {
                    case .success(let completed):
                        let kind: UpstreamProtocol = completed?.applicationProtocol == "h2" ? .http2 : .http1
                        if !http1Only { self.learnedProtocol[endpoint.index] = kind }
                        self.adopt(channel, speaking: kind, endpoint: endpoint, callback)
                    case .failure(let error):
                        // No protocol handler saw the channel: its slot is released here.
                        self.connectionGone()
                        callback(.failure(error))
                    }
                }
            case .failure(let error):
                self.connectionGone()
                callback(.failure(Self.connectError(error)))
            }
        }
    }

    /// Puts the handler for the negotiated protocol on a connected, handshaken channel.
    private func adopt(_ channel: Channel, speaking kind: UpstreamProtocol, endpoint: Endpoint, _ callback: @escaping AcquireCallback) {
        if kind == .http2 {
            // Counted already (connectAuto); the connection counts itself out when it ends.
            let connection = HTTP2UpstreamConnection(endpoint: endpoint, pool: self, tls: true)
            http2[endpoint.index].append(connection)
            connection.reserve(callback)
            do {
                try channel.pipeline.syncOperations.addHandler(connection)
                connection.handshakeCompleted()
            } catch {
                channel.close(promise: nil)
                connection.connectFailed(.connectFailed("\(error)"))
            }
            return
        }
        let connection = HTTP1UpstreamConnection(endpoint: endpoint, pool: self)
        do {
            try channel.pipeline.syncOperations.addHandler(connection)
            callback(.success(connection))
        } catch {
            // The handler never joined the pipeline, so its close accounting will not run.
            channel.close(promise: nil)
            connectionGone()
            callback(.failure(.connectFailed("\(error)")))
        }
    }

    /// A connection that never got a protocol handler is gone: its count and breaker slot go too.
    private func connectionGone() {
        openConnections -= 1
        cluster.resources.release(.maxConnections)
    }
}
