/// What a proxy needs to know of the WebSocket opening handshake (RFC 6455 §4.1): a request carrying
/// `Connection: upgrade` and `Upgrade: websocket`. The rest of the handshake (key, version) is the
/// backend's to check; the proxy only decides whether to pass the upgrade on.
public enum WebSocketUpgrade {
    /// Whether the received field lines ask to switch to WebSocket.
    public static func isRequested(_ fields: HTTP1RawRequestFields) -> Bool {
        var connectionUpgrade = false
        var upgradeWebSocket = false
        fields.forEachLine { line, name in
            let value = fieldValue(line, nameLength: name.count)
            if name.count == 10, HTTP1FieldNames.same(name, "connection") {
                HTTP1Syntax.forEachListElement(value) { token in
                    if token.count == 7, HTTP1FieldNames.same(UnsafeRawBufferPointer(token), "upgrade") { connectionUpgrade = true }
                    return true
                }
            } else if name.count == 7, HTTP1FieldNames.same(name, "upgrade") {
                // A list of protocols is allowed; WebSocket clients send exactly one.
                upgradeWebSocket = value.count == 9 && HTTP1FieldNames.same(value, "websocket")
            }
        }
        return connectionUpgrade && upgradeWebSocket
    }

    /// The value of a `name: value` line, without the whitespace around it.
    private static func fieldValue(_ line: UnsafeRawBufferPointer, nameLength: Int) -> UnsafeRawBufferPointer {
        var start = nameLength + 1
        var end = line.count
        while start < end, line[start] == 0x20 || line[start] == 0x09 { start += 1 }
        while end > start, line[end - 1] == 0x20 || line[end - 1] == 0x09 { end -= 1 }
        return UnsafeRawBufferPointer(rebasing: line[start..<end])
    }
}
