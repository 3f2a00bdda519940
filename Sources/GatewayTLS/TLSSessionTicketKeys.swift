import CGatewayShims
import NIOConcurrencyHelpers
#if canImport(Glibc)
import Glibc
#endif

/// A listener's session-ticket keys: the newest encrypts new tickets, the older ones still decrypt (and
/// the ticket is re-issued), so rotating every interval bounds how long a stolen ticket key is useful
/// without breaking resumption for clients that come back. The keys outlive certificate reloads.
///
/// Either random keys rotated on a timer, or keys from files (`openssl rand 80 > ticket.key`) shared by
/// every instance behind the L4 tier, so a ticket from one instance resumes on another.
public final class TLSSessionTicketKeys: @unchecked Sendable {
    // The C ring guards itself with a mutex; it is read by handshakes on any event loop.
    let ring: OpaquePointer
    public let keyFiles: [String]
    private let rotationCount = NIOLockedValueBox(0)

    /// How many times `rotate()` ran (for `/metrics`-style checks and tests).
    public var rotations: Int { rotationCount.withLockedValue { $0 } }

    /// Random keys; `keep` of them (current plus older) decrypt.
    public init(keep: Int = 3) throws(TLSConfigurationError) {
        guard let ring = pc_ticket_ring_new(Int32(keep)) else { throw TLSConfigurationError("cannot create session-ticket keys") }
        self.ring = ring
        self.keyFiles = []
    }

    /// Keys from files of 80 bytes each (name, HMAC key, AES key); the first file's key encrypts.
    public init(files: [String]) throws(TLSConfigurationError) {
        guard let ring = pc_ticket_ring_new(Int32(max(1, files.count))) else { throw TLSConfigurationError("cannot create session-ticket keys") }
        self.ring = ring
        self.keyFiles = files
        try reloadFiles()
    }

    /// A new random key takes over encryption; the oldest is dropped.
    public func rotate() {
        _ = pc_ticket_ring_rotate(ring)
        rotationCount.withLockedValue { $0 += 1 }
    }

    /// Re-reads the key files (a no-op for random keys).
    public func reloadFiles() throws(TLSConfigurationError) {
        guard !keyFiles.isEmpty else { return }
        var bytes: [UInt8] = []
        for path in keyFiles {
            let key = try Self.readKey(path)
            bytes += key
        }
        guard pc_ticket_ring_set(ring, bytes, Int32(keyFiles.count)) == 1 else { throw TLSConfigurationError("at most 8 session-ticket key files") }
    }

    func attach(to context: OpaquePointer) -> Bool {
        pc_ssl_ctx_use_ticket_ring(UnsafeMutableRawPointer(context), ring) == 1
    }

    private static func readKey(_ path: String) throws(TLSConfigurationError) -> [UInt8] {
        let fd = open(path, O_RDONLY)
        guard fd >= 0 else { throw TLSConfigurationError("cannot read session-ticket key \(path)") }
        defer { close(fd) }
        var buffer = [UInt8](repeating: 0, count: 81)
        let count = read(fd, &buffer, buffer.count)
        guard count == 80 else { throw TLSConfigurationError("session-ticket key \(path) must hold exactly 80 bytes (openssl rand 80 > file)") }
        return Array(buffer.prefix(80))
    }
}
