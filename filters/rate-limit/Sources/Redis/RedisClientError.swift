/// Why a Redis command got no usable answer. Every case is a decision made without Redis: the filter
/// then fails open or closed as configured.
public enum RedisClientError: Error, Sendable, Equatable, CustomStringConvertible {
    /// No reply within the timeout.
    case timeout
    /// Not connected (connecting failed; waiting before the next attempt).
    case unavailable
    /// The bounded queue of commands in flight is full.
    case overloaded
    /// The connection closed with the command in flight.
    case connectionClosed
    /// Redis answered with an error (`-ERR ...`), or with something the script cannot have returned.
    case server(String)

    public var description: String {
        switch self {
        case .timeout: "timeout"
        case .unavailable: "unavailable"
        case .overloaded: "overloaded"
        case .connectionClosed: "connection_closed"
        case .server(let message): "server_error: \(message)"
        }
    }

    /// A stable snake_case name for logs and counters.
    public var kind: String {
        switch self {
        case .server: "server_error"
        default: description
        }
    }
}
