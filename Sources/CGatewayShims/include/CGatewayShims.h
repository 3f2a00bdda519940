#ifndef C_GATEWAY_SHIMS_H
#define C_GATEWAY_SHIMS_H

// Function wrappers for C macros and computed constants that Swift cannot import.
// Keep each wrapper trivial: logic belongs in Swift.

/// OpenSSL's runtime version string, e.g. "OpenSSL 3.0.17 1 Jul 2025".
const char *pc_openssl_version(void);
/// libnghttp2's runtime version string, e.g. "1.52.0".
const char *pc_nghttp2_version(void);
/// Liblua's version as a number (504 for 5.4), read from a fresh state so the runtime library is exercised.
int pc_lua_runtime_version(void);

#endif
