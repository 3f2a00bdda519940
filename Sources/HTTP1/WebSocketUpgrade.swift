/// What a proxy needs to know of the WebSocket opening handshake (RFC 6455 §4.1): a request carrying
/// `Connection: upgrade` and `Upgrade: websocket`. The rest of the handshake (key, version) is the
/// backend's to check; the proxy only decides whether to pass the upgrade on.
public enum WebSocketUpgrade {
    /// Whether the received field lines ask to switch to WebSocket.
    public static func isRequested(_ fields: HTTP1RawRequestFields) -> Bool {
        var connectionUpgrade = false
        var upgradeWebSocket = false
        fields.forEachLine { line, name in
            let isConnection = name.count == 10 && HTTP1FieldNames.same(name, "connection")
            let isUpgrade = name.count == 7 && HTTP1FieldNames.same(name, "upgrade")
            // The parser checked these lines already; this only takes the trimmed value.
            guard isConnection || isUpgrade, let value = try? HTTP1Syntax.splitFieldLine(line[...]).value else { return }
            if isConnection {
                connectionUpgrade = connectionUpgrade || HTTP1Syntax.listContainsToken(value, "upgrade")
            } else {
                // A list of protocols is allowed; WebSocket clients send exactly one.
                upgradeWebSocket = value.count == 9 && HTTP1FieldNames.same(value, "websocket")
            }
        }
        return connectionUpgrade && upgradeWebSocket
    }
}
