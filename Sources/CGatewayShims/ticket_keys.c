// Session-ticket keys with rotation (RFC 5077 style tickets, also TLS 1.3 PSK tickets).
//
// OpenSSL's own ticket key is random per SSL_CTX and never changes: a long-running process would accept a
// ticket forever, and every certificate reload would invalidate all tickets. A ring per listener fixes
// both: the newest key encrypts, older keys still decrypt (and every resumption gets a new ticket), and the ring
// survives certificate reloads. The ring is read by handshakes on every event loop and rotated by a
// timer: a mutex guards it (one lock per ticket operation, never per request).
#include "CGatewayShims.h"
#include <openssl/core_names.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/rand.h>
#include <openssl/ssl.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#define PC_TICKET_MAX_KEYS 8

typedef struct {
    unsigned char name[16];
    unsigned char hmac[32];
    unsigned char aes[32];
} pc_ticket_key;

struct pc_ticket_ring {
    pthread_mutex_t lock;
    pc_ticket_key keys[PC_TICKET_MAX_KEYS];  // keys[0] encrypts
    int count;
    int capacity;
};

static int ring_index = -1;
static pthread_once_t ring_index_once = PTHREAD_ONCE_INIT;

/* The ticket cipher, fetched once: EVP_aes_256_cbc() is a legacy object that OpenSSL 3 looks up in its
   provider store again on every EVP_EncryptInit_ex, i.e. on every full handshake. */
static EVP_CIPHER *ticket_cipher = NULL;

static void make_ring_index(void) {
    ring_index = SSL_CTX_get_ex_new_index(0, NULL, NULL, NULL, NULL);
    ticket_cipher = EVP_CIPHER_fetch(NULL, "AES-256-CBC", NULL);
}

pc_ticket_ring *pc_ticket_ring_new(int keep) {
    pthread_once(&ring_index_once, make_ring_index);
    pc_ticket_ring *ring = calloc(1, sizeof(pc_ticket_ring));
    if (ring == NULL) return NULL;
    pthread_mutex_init(&ring->lock, NULL);
    ring->capacity = keep < 1 ? 1 : (keep > PC_TICKET_MAX_KEYS ? PC_TICKET_MAX_KEYS : keep);
    if (pc_ticket_ring_rotate(ring) != 1) {
        free(ring);
        return NULL;
    }
    return ring;
}

int pc_ticket_ring_rotate(pc_ticket_ring *ring) {
    pc_ticket_key fresh;
    if (RAND_bytes((unsigned char *)&fresh, sizeof fresh) != 1) return 0;
    pthread_mutex_lock(&ring->lock);
    int kept = ring->count < ring->capacity ? ring->count : ring->capacity - 1;
    memmove(&ring->keys[1], &ring->keys[0], (size_t)kept * sizeof(pc_ticket_key));
    ring->keys[0] = fresh;
    ring->count = kept + 1;
    pthread_mutex_unlock(&ring->lock);
    OPENSSL_cleanse(&fresh, sizeof fresh);
    return 1;
}

int pc_ticket_ring_set(pc_ticket_ring *ring, const unsigned char *keys, int count) {
    if (count < 1 || count > PC_TICKET_MAX_KEYS) return 0;
    pthread_mutex_lock(&ring->lock);
    // 80 bytes per key, in the layout nginx uses: name (16), HMAC key (32), AES key (32).
    memcpy(ring->keys, keys, (size_t)count * sizeof(pc_ticket_key));
    ring->count = count;
    ring->capacity = count;
    pthread_mutex_unlock(&ring->lock);
    return 1;
}

static int ticket_callback(SSL *ssl, unsigned char key_name[16], unsigned char *iv, EVP_CIPHER_CTX *cipher,
                           EVP_MAC_CTX *mac, int encrypt) {
    pc_ticket_ring *ring = SSL_CTX_get_ex_data(SSL_get_SSL_CTX(ssl), ring_index);
    if (ring == NULL) return -1;
    pc_ticket_key key;
    int found = -1;
    pthread_mutex_lock(&ring->lock);
    if (encrypt) {
        key = ring->keys[0];
        found = 0;
    } else {
        for (int i = 0; i < ring->count; i++) {
            if (CRYPTO_memcmp(ring->keys[i].name, key_name, 16) == 0) {
                key = ring->keys[i];
                found = i;
                break;
            }
        }
    }
    pthread_mutex_unlock(&ring->lock);
    if (found < 0) return 0;  // unknown or retired key: a full handshake, and a fresh ticket

    int result = -1;
    const EVP_CIPHER *aes = ticket_cipher != NULL ? ticket_cipher : EVP_aes_256_cbc();
    OSSL_PARAM params[] = {
        OSSL_PARAM_construct_octet_string(OSSL_MAC_PARAM_KEY, key.hmac, sizeof key.hmac),
        OSSL_PARAM_construct_utf8_string(OSSL_MAC_PARAM_DIGEST, "SHA256", 0),
        OSSL_PARAM_construct_end(),
    };
    if (encrypt) {
        memcpy(key_name, key.name, 16);
        if (RAND_bytes(iv, EVP_CIPHER_get_iv_length(aes)) == 1
            && EVP_EncryptInit_ex(cipher, aes, NULL, key.aes, iv) == 1
            && EVP_MAC_CTX_set_params(mac, params) == 1) result = 1;
    } else {
        if (EVP_MAC_CTX_set_params(mac, params) == 1
            && EVP_DecryptInit_ex(cipher, aes, NULL, key.aes, iv) == 1) {
            // 2: valid, and issue a fresh ticket. Always, not only for an older key: TLS 1.3 clients use a
            // ticket once (RFC 8446 C.4), so a resumption that brings no new ticket leaves the client
            // nothing to resume with next time (OpenSSL's then saves a session without a ticket).
            result = 2;
        }
    }
    OPENSSL_cleanse(&key, sizeof key);
    return result;
}

int pc_ssl_ctx_use_ticket_ring(void *ctx, pc_ticket_ring *ring) {
    if (SSL_CTX_set_ex_data((SSL_CTX *)ctx, ring_index, ring) != 1) return 0;
    return SSL_CTX_set_tlsext_ticket_key_evp_cb((SSL_CTX *)ctx, ticket_callback) == 1;
}
