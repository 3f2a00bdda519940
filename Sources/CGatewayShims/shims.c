#include "CGatewayShims.h"
#include <openssl/crypto.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>
#include <string.h>
#include <nghttp2/nghttp2.h>
#include <lua.h>
#include <lauxlib.h>

const char *pc_openssl_version(void) {
    return OpenSSL_version(OPENSSL_VERSION);
}

const char *pc_nghttp2_version(void) {
    return nghttp2_version(0)->version_str;
}

int pc_lua_runtime_version(void) {
    lua_State *L = luaL_newstate();
    if (L == NULL) return -1;
    int version = (int)lua_version(L);
    lua_close(L);
    return version;
}

void pc_ssl_ctx_set_servername_callback(void *ctx, pc_servername_callback callback, void *arg) {
    SSL_CTX_set_tlsext_servername_callback((SSL_CTX *)ctx, (int (*)(SSL *, int *, void *))callback);
    SSL_CTX_set_tlsext_servername_arg((SSL_CTX *)ctx, arg);
}

int pc_ssl_ctx_apply_defaults(void *ctx) {
    SSL_CTX *c = (SSL_CTX *)ctx;
    if (SSL_CTX_set_min_proto_version(c, TLS1_2_VERSION) != 1) return 0;
    SSL_CTX_set_mode(c, SSL_MODE_RELEASE_BUFFERS);
    SSL_CTX_set_options(c, SSL_OP_NO_RENEGOTIATION | SSL_OP_CIPHER_SERVER_PREFERENCE | SSL_OP_NO_COMPRESSION
                               | SSL_OP_PRIORITIZE_CHACHA);
    /* TLS 1.3 suites: OpenSSL's three, AES-128-GCM first (OpenSSL's default order puts AES-256-GCM-SHA384
       first, whose SHA-384 transcript hashing costs more per handshake for no practical gain); a client
       that prefers ChaCha20 (no AES hardware) still gets it (SSL_OP_PRIORITIZE_CHACHA). */
    if (SSL_CTX_set_ciphersuites(c, "TLS_AES_128_GCM_SHA256:TLS_AES_256_GCM_SHA384:TLS_CHACHA20_POLY1305_SHA256") != 1) return 0;
    /* Resumption through tickets only: a server-side cache costs a locked insert per handshake and
       periodic sweeps, and is useless across instances behind an L4 balancer anyway. */
    SSL_CTX_set_session_cache_mode(c, SSL_SESS_CACHE_OFF);
    /* TLS 1.3: one session ticket per full handshake instead of OpenSSL's two (one is what a client
       uses to resume; the second costs an encryption and a record on every new connection). */
    SSL_CTX_set_num_tickets(c, 1);
    return 1;
}

int pc_ssl_select_alpn(const unsigned char **out, unsigned char *outlen, const unsigned char *server, unsigned int server_len,
                       const unsigned char *client, unsigned int client_len) {
    int result = SSL_select_next_proto((unsigned char **)out, outlen, server, server_len, client, client_len);
    return result == OPENSSL_NPN_NEGOTIATED ? SSL_TLSEXT_ERR_OK : SSL_TLSEXT_ERR_NOACK;
}

static int append_name(char *out, int capacity, int used, const unsigned char *name, int length) {
    if (length <= 0 || used + length + 1 > capacity) return used;
    memcpy(out + used, name, (size_t)length);
    out[used + length] = '\n';
    return used + length + 1;
}

int pc_ssl_ctx_certificate_names(void *ctx, char *out, int capacity) {
    X509 *cert = SSL_CTX_get0_certificate((SSL_CTX *)ctx);
    if (cert == NULL) return -1;
    int used = 0;
    GENERAL_NAMES *names = X509_get_ext_d2i(cert, NID_subject_alt_name, NULL, NULL);
    if (names != NULL) {
        for (int i = 0; i < sk_GENERAL_NAME_num(names); i++) {
            const GENERAL_NAME *name = sk_GENERAL_NAME_value(names, i);
            if (name->type == GEN_DNS) {
                used = append_name(out, capacity, used, ASN1_STRING_get0_data(name->d.dNSName), ASN1_STRING_length(name->d.dNSName));
            }
        }
        GENERAL_NAMES_free(names);
    }
    if (used == 0) {
        char cn[256];
        int length = X509_NAME_get_text_by_NID(X509_get_subject_name(cert), NID_commonName, cn, sizeof cn);
        if (length > 0) used = append_name(out, capacity, used, (const unsigned char *)cn, length);
    }
    return used;
}

const char *pc_ssl_servername(void *ssl) {
    return SSL_get_servername((SSL *)ssl, TLSEXT_NAMETYPE_host_name);
}

int pc_alert_unrecognized_name(void) { return SSL_AD_UNRECOGNIZED_NAME; }

int pc_ssl_ctx_verify_clients(void *ctx, const char *ca_file, int required) {
    SSL_CTX *c = (SSL_CTX *)ctx;
    if (SSL_CTX_load_verify_locations(c, ca_file, NULL) != 1) return 0;
    STACK_OF(X509_NAME) *names = SSL_load_client_CA_file(ca_file);
    if (names == NULL) return 0;
    SSL_CTX_set_client_CA_list(c, names);
    SSL_CTX_set_verify(c, SSL_VERIFY_PEER | (required ? SSL_VERIFY_FAIL_IF_NO_PEER_CERT : 0), NULL);
    return 1;
}

int pc_ssl_peer_subject(void *ssl, char *out, int capacity) {
    SSL *s = (SSL *)ssl;
    X509 *cert = SSL_get0_peer_certificate(s);
    if (cert == NULL || SSL_get_verify_result(s) != X509_V_OK || capacity < 1) return 0;
    BIO *bio = BIO_new(BIO_s_mem());
    if (bio == NULL) return 0;
    X509_NAME_print_ex(bio, X509_get_subject_name(cert), 0, XN_FLAG_RFC2253);
    int length = BIO_read(bio, out, capacity - 1);
    BIO_free(bio);
    if (length < 0) length = 0;
    out[length] = 0;
    return length;
}

int pc_ssl_peer_sans(void *ssl, char *out, int capacity) {
    SSL *s = (SSL *)ssl;
    X509 *cert = SSL_get0_peer_certificate(s);
    if (cert == NULL || SSL_get_verify_result(s) != X509_V_OK || capacity < 1) return 0;
    GENERAL_NAMES *names = X509_get_ext_d2i(cert, NID_subject_alt_name, NULL, NULL);
    if (names == NULL) return 0;
    int used = 0;
    for (int i = 0; i < sk_GENERAL_NAME_num(names); i++) {
        const GENERAL_NAME *name = sk_GENERAL_NAME_value(names, i);
        const char *prefix = NULL;
        const ASN1_STRING *value = NULL;
        switch (name->type) {
        case GEN_DNS: prefix = "DNS:"; value = name->d.dNSName; break;
        case GEN_URI: prefix = "URI:"; value = name->d.uniformResourceIdentifier; break;
        case GEN_EMAIL: prefix = "email:"; value = name->d.rfc822Name; break;
        default: break;
        }
        if (prefix == NULL) continue;
        int prefix_length = (int)strlen(prefix);
        int length = ASN1_STRING_length(value);
        if (length <= 0 || used + prefix_length + length + 1 > capacity) continue;
        memcpy(out + used, prefix, (size_t)prefix_length);
        memcpy(out + used + prefix_length, ASN1_STRING_get0_data(value), (size_t)length);
        used += prefix_length + length;
        out[used++] = '\n';
    }
    GENERAL_NAMES_free(names);
    return used;
}

int pc_ssl_ctx_apply_client_defaults(void *ctx, int min_version) {
    SSL_CTX *c = (SSL_CTX *)ctx;
    if (SSL_CTX_set_min_proto_version(c, min_version) != 1) return 0;
    SSL_CTX_set_mode(c, SSL_MODE_RELEASE_BUFFERS | SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER);
    SSL_CTX_set_options(c, SSL_OP_NO_RENEGOTIATION | SSL_OP_NO_COMPRESSION);
    SSL_CTX_set_session_cache_mode(c, SSL_SESS_CACHE_CLIENT | SSL_SESS_CACHE_NO_INTERNAL_STORE);
    return 1;
}

int pc_ssl_set_sni(void *ssl, const char *name) {
    return (int)SSL_set_tlsext_host_name((SSL *)ssl, name);
}

int pc_ssl_verify_peer_name(void *ssl, const char *name, int is_ip) {
    SSL *s = (SSL *)ssl;
    if (is_ip) return X509_VERIFY_PARAM_set1_ip_asc(SSL_get0_param(s), name);
    SSL_set_hostflags(s, X509_CHECK_FLAG_NO_PARTIAL_WILDCARDS);
    return SSL_set1_host(s, name);
}

const char *pc_ssl_verify_error(void *ssl) {
    long result = SSL_get_verify_result((SSL *)ssl);
    if (result == X509_V_OK) return NULL;
    return X509_verify_cert_error_string(result);
}

const char *pc_ssl_version(void *ssl) {
    return SSL_get_version((SSL *)ssl);
}
