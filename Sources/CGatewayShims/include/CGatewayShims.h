#ifndef C_GATEWAY_SHIMS_H
#define C_GATEWAY_SHIMS_H

#include <stddef.h>

// Function wrappers for C macros and computed constants that Swift cannot import.
// Keep each wrapper trivial: logic belongs in Swift.

/// OpenSSL's runtime version string, e.g. "OpenSSL 3.0.17 1 Jul 2025".
const char *pc_openssl_version(void);
/// libnghttp2's runtime version string, e.g. "1.52.0".
const char *pc_nghttp2_version(void);
/// Liblua's version as a number (504 for 5.4), read from a fresh state so the runtime library is exercised.
int pc_lua_runtime_version(void);

// --- TLS (OpenSSL). Pointers are passed as void* so this header does not re-export OpenSSL's types.

/// SNI callback: return 0 (SSL_TLSEXT_ERR_OK) to continue, 2 (ALERT_FATAL) to refuse with `*alert`.
typedef int (*pc_servername_callback)(void *ssl, int *alert, void *arg);

/// SSL_CTX_set_tlsext_servername_callback + _arg (macros).
void pc_ssl_ctx_set_servername_callback(void *ctx, pc_servername_callback callback, void *arg);
/// TLS 1.2 minimum, released buffers on idle connections, no renegotiation, server cipher preference.
int pc_ssl_ctx_apply_defaults(void *ctx);
/// SSL_select_next_proto with the const casts Swift cannot express. Returns SSL_TLSEXT_ERR_OK or _NOACK.
int pc_ssl_select_alpn(const unsigned char **out, unsigned char *outlen, const unsigned char *server, unsigned int server_len,
                       const unsigned char *client, unsigned int client_len);
/// The certificate's DNS names (SAN dNSName entries, else the subject CN), '\n'-separated, into `out`.
/// Returns the length written, or -1.
int pc_ssl_ctx_certificate_names(void *ctx, char *out, int capacity);
/// The SNI name the client sent, or NULL.
const char *pc_ssl_servername(void *ssl);
/// Require (required != 0) or request client certificates signed by the CAs in `ca_file`. Returns 1 on success.
int pc_ssl_ctx_verify_clients(void *ctx, const char *ca_file, int required);
/// The verified client certificate's subject (RFC 2253) into `out`; returns its length, 0 when the client
/// sent none or it did not verify.
int pc_ssl_peer_subject(void *ssl, char *out, int capacity);
/// The verified client certificate's SAN entries (DNS:, URI:, email:), '\n'-separated, into `out`;
/// returns the length written, 0 when none or not verified.
int pc_ssl_peer_sans(void *ssl, char *out, int capacity);
/// SSL_AD_UNRECOGNIZED_NAME.
int pc_alert_unrecognized_name(void);

// --- TLS client (upstream connections)

/// Client defaults: minimum version (0x0303 TLS 1.2, 0x0304 TLS 1.3), released buffers on idle
/// connections, moving write buffers allowed (a write retried after WANT_READ may come from another
/// copy), no renegotiation or compression, and a client-side session cache that stores nothing
/// itself: new sessions go to the new-session callback. Returns 1 on success.
int pc_ssl_ctx_apply_client_defaults(void *ctx, int min_version);
/// SSL_set_tlsext_host_name (a macro): the SNI name sent in the ClientHello. Returns 1 on success.
int pc_ssl_set_sni(void *ssl, const char *name);
/// Verify the peer certificate against `name`: a DNS name (SSL_set1_host) or, when `is_ip` is
/// non-zero, an IP address literal. Returns 1 on success.
int pc_ssl_verify_peer_name(void *ssl, const char *name, int is_ip);
/// Why certificate verification failed, or NULL when it did not (or was not the cause).
const char *pc_ssl_verify_error(void *ssl);
/// The negotiated protocol version as text, e.g. "TLSv1.3".
const char *pc_ssl_version(void *ssl);

// --- Session-ticket keys (ticket_keys.c): a per-listener ring, newest key encrypts, all decrypt.

typedef struct pc_ticket_ring pc_ticket_ring;
/// A ring holding up to `keep` keys (1...8), with one fresh random key. Lives as long as its listener.
pc_ticket_ring *pc_ticket_ring_new(int keep);
/// A fresh random key becomes the encrypting one; the oldest beyond `keep` is dropped. Returns 1 on success.
int pc_ticket_ring_rotate(pc_ticket_ring *ring);
/// Replaces the ring with `count` keys of 80 bytes each (name 16, HMAC 32, AES 32; the first encrypts).
int pc_ticket_ring_set(pc_ticket_ring *ring, const unsigned char *keys, int count);
/// Encrypts and decrypts this context's tickets with the ring. Returns 1 on success.
int pc_ssl_ctx_use_ticket_ring(void *ctx, pc_ticket_ring *ring);

// --- HMAC-SHA256 with a prepared key: the key's inner and outer SHA-256 states are computed once, so a MAC
// over a short message costs two compressions and no allocation. (OpenSSL 3's one-shot HMAC() fetches the
// algorithm and allocates a context on each call: ~2 us against ~0.2 us here.)

/// Bytes of a prepared key's state.
#define PC_HMAC_SHA256_STATE_BYTES 256
/// Fills `state` from `key` (hashed first when longer than a block, as HMAC says). Returns 1 on success.
int pc_hmac_sha256_prepare(unsigned char *state, const unsigned char *key, size_t key_length);
/// HMAC-SHA256(key, message) into `out` (32 bytes). `state` is only read: one state serves every thread.
void pc_hmac_sha256(const unsigned char *state, const unsigned char *message, size_t length, unsigned char *out);

#endif
