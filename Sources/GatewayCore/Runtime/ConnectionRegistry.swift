/// A client connection that can be asked to finish gracefully: HTTP/1.1 closes after the response in
/// progress (with `Connection: close`), HTTP/2 sends GOAWAY and closes once its open streams are done.
public protocol DrainableConnection: AnyObject {
    /// `closeIdle`: shutting down, so an idle HTTP/1.1 connection closes now. A reload passes false: an
    /// idle connection then answers its next request with `Connection: close` (closing it while a
    /// request may be on its way would fail that request).
    func drain(closeIdle: Bool)
}

/// The open client connections of one event loop, so a shutdown can drain them. Touched only on its loop.
public final class ConnectionRegistry {
    private var connections: [ObjectIdentifier: DrainableConnection] = [:]
    /// Set once a drain started: connections accepted after it (in flight at the listener close) drain at once.
    public private(set) var draining = false
    private var closeIdle = false

    public init() {}

    public var count: Int { connections.count }

    public func add(_ connection: DrainableConnection) {
        connections[ObjectIdentifier(connection)] = connection
        if draining { connection.drain(closeIdle: closeIdle) }
    }

    public func remove(_ connection: DrainableConnection) {
        connections[ObjectIdentifier(connection)] = nil
    }

    public func drainAll(closeIdle: Bool) {
        draining = true
        self.closeIdle = self.closeIdle || closeIdle
        for connection in Array(connections.values) { connection.drain(closeIdle: closeIdle) }
    }
}
