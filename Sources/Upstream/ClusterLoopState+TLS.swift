import GatewayTLS
import NIOCore

/// TLS to a cluster's endpoints: the client handler goes first in a new connection's pipeline, and the
/// connection reaches its user only once the handshake succeeded. Apart from the HTTP/1 connection so
/// that other upstream protocols (HTTP/2 over TLS) can share it.
extension ClusterLoopState {
    /// Adds the TLS client handler for `endpoint` when the cluster speaks TLS. Runs on the loop, in the
    /// channel initializer.
    /// `context` replaces the cluster's (`protocol: auto` connections that must speak HTTP/1.1).
    func addTLSHandler(to channel: Channel, endpoint: Endpoint, context: TLSClientContext? = nil) throws {
        guard let tls = context ?? cluster.options.tls else { return }
        let handler = TLSClientHandler(context: tls, peer: cluster.tlsPeers[endpoint.index], sessions: tlsSessions,
                                       sessionSlot: endpoint.index, handshakeTimeout: cluster.settings.connectTimeout)
        try channel.pipeline.syncOperations.addHandler(handler)
    }

    /// Calls `then` once the channel's TLS handshake is over (at once without TLS). A failed handshake
    /// has closed the channel already; its reason becomes a connect failure (or timeout).
    func afterHandshake(of channel: Channel, _ then: @escaping (Result<TLSClientHandshakeCompleted?, UpstreamError>) -> Void) {
        guard cluster.options.tls != nil else {
            then(.success(nil))
            return
        }
        guard let handler = try? channel.pipeline.syncOperations.handler(type: TLSClientHandler.self) else {
            channel.close(promise: nil)
            then(.failure(.connectFailed("TLS handshake failed: connection closed before the handshake")))
            return
        }
        handler.handshakeResult.assumeIsolated().whenComplete { result in
            switch result {
            case .success(let handshake):
                self.tlsHandshakes += 1
                if handshake.resumed { self.tlsResumed += 1 }
                then(.success(handshake))
            case .failure(let error):
                self.tlsHandshakeFailures += 1
                if let tlsError = error as? TLSConnectionError {
                    then(.failure(tlsError.isTimeout ? .connectTimeout : .connectFailed(tlsError.reason)))
                } else {
                    then(.failure(.connectFailed("TLS handshake failed: \(error)")))
                }
            }
        }
    }
}
