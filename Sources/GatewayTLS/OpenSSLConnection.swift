import COpenSSL
import NIOCore

/// What the server and client handlers both do with an `SSL*` over memory BIOs.
enum OpenSSLConnection {
    /// Largest ciphertext storage a handler keeps for reuse (per connection, also while idle).
    static let recycledCiphertextCapacity = 8 * 1024

    /// Everything OpenSSL has written to `writeBIO`, moved into `out` (emptied first); false when nothing
    /// is pending. `out`'s storage is reused when nobody else holds it (the last ciphertext write has
    /// left the socket), so a connection does not allocate a buffer per flush.
    static func takeCiphertext(from writeBIO: OpaquePointer, into out: inout ByteBuffer) -> Bool {
        let pending = Int(BIO_ctrl_pending(writeBIO))
        guard pending > 0 else { return false }
        out.clear(minimumCapacity: pending)
        out.writeWithUnsafeMutableBytes(minimumWritableBytes: pending) { bytes in
            max(0, Int(BIO_read(writeBIO, bytes.baseAddress, Int32(pending))))
        }
        return true
    }

    /// Empties the thread's OpenSSL error queue before a call whose failure `SSL_get_error` will classify.
    /// The queue is almost always empty already: peeking costs ~40 ns, `ERR_clear_error` ~230 ns (it wipes
    /// every slot), and the TLS handlers make several such calls per record and per handshake.
    @inline(__always)
    static func clearErrors() {
        if ERR_peek_error() != 0 { ERR_clear_error() }
    }

    /// The protocol ALPN settled on, if any.
    static func selectedALPN(_ ssl: OpaquePointer) -> String? {
        var data: UnsafePointer<UInt8>?
        var length: UInt32 = 0
        SSL_get0_alpn_selected(ssl, &data, &length)
        guard let data, length > 0 else { return nil }
        return String(decoding: UnsafeBufferPointer(start: data, count: Int(length)), as: UTF8.self)
    }
}
