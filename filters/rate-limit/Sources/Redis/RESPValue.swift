import NIOCore

/// A RESP2 reply (the Redis serialization protocol): the five types a server sends.
enum RESPValue: Sendable, Equatable {
    case simpleString(String)
    case error(String)
    case integer(Int64)
    /// nil is the null bulk string (`$-1`).
    case bulkString(ByteBuffer?)
    /// nil is the null array (`*-1`).
    case array([RESPValue]?)

    var integer: Int64? {
        switch self {
        case .integer(let value): value
        case .bulkString(let buffer?): Int64(String(buffer: buffer))
        default: nil
        }
    }
}

/// Writes commands as RESP arrays of bulk strings, the one form a client needs.
enum RESPEncoder {
    static func encode(_ arguments: [String], into buffer: inout ByteBuffer) {
        buffer.writeString("*\(arguments.count)\r\n")
        for argument in arguments {
            buffer.writeString("$\(argument.utf8.count)\r\n")
            buffer.writeString(argument)
            buffer.writeString("\r\n")
        }
    }
}
