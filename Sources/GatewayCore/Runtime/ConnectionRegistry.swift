/// A client connection that can be asked to finish gracefully: HTTP/1.1 closes after the response in
/// progress (with `Connection: close`), HTTP/2 sends GOAWAY and closes once its open streams are done.
public protocol DrainableConnection: AnyObject {
    func drain()
}

/// The open client connections of one event loop, so a shutdown can drain them. Touched only on its loop.
public final class ConnectionRegistry {
    private var connections: [ObjectIdentifier: DrainableConnection] = [:]
    /// Set once a drain started: connections accepted after it (in flight at the listener close) drain at once.
    public private(set) var draining = false

    public init() {}

    public var count: Int { connections.count }

    public func add(_ connection: DrainableConnection) {
        connections[ObjectIdentifier(connection)] = connection
        if draining { connection.drain() }
    }

    public func remove(_ connection: DrainableConnection) {
        connections[ObjectIdentifier(connection)] = nil
    }

    public func drainAll() {
        draining = true
        for connection in Array(connections.values) { connection.drain() }
    }
}
