import COpenSSL

/// The last TLS session per endpoint, for one event loop: a new connection to an endpoint offers it,
/// and a resumed handshake skips the certificate exchange and its signature checks. Per loop, so
/// no lock: only handlers on that loop read and replace it.
///
/// A session that fails to resume is dropped; the new handshake's session replaces it.
public final class TLSClientSessionCache {
    private var sessions: [OpaquePointer?]

    public init(slots: Int) {
        sessions = Array(repeating: nil, count: slots)
    }

    deinit {
        for session in sessions { if let session { SSL_SESSION_free(session) } }
    }

    func session(slot: Int) -> OpaquePointer? {
        sessions.indices.contains(slot) ? sessions[slot] : nil
    }

    /// Takes over the caller's reference to `session`. Returns false (the caller keeps it) when it
    /// cannot be resumed or the slot is unknown.
    func store(_ session: OpaquePointer, slot: Int) -> Bool {
        guard sessions.indices.contains(slot), SSL_SESSION_is_resumable(session) == 1 else { return false }
        if let old = sessions[slot] { SSL_SESSION_free(old) }
        sessions[slot] = session
        return true
    }

    func remove(slot: Int) {
        guard sessions.indices.contains(slot), let old = sessions[slot] else { return }
        SSL_SESSION_free(old)
        sessions[slot] = nil
    }
}
