import GatewayFilterAPI
import GatewayTLS

extension DownstreamTLS {
    init(_ handshake: TLSHandshakeCompleted) {
        self.init(serverName: handshake.serverName, clientSubject: handshake.clientSubject, clientSANs: handshake.clientSANs)
    }
}
