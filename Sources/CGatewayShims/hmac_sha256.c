// The low-level SHA-256 calls are deprecated in OpenSSL 3 in favour of EVP, whose contexts cannot be
// copied without an allocation; copying a prepared SHA256_CTX is what makes this fast.
#define OPENSSL_SUPPRESS_DEPRECATED
#include "CGatewayShims.h"
#include <openssl/sha.h>
#include <string.h>

typedef struct {
    SHA256_CTX inner;
    SHA256_CTX outer;
} pc_hmac_state;

_Static_assert(sizeof(pc_hmac_state) <= PC_HMAC_SHA256_STATE_BYTES, "PC_HMAC_SHA256_STATE_BYTES is too small");

int pc_hmac_sha256_prepare(unsigned char *state, const unsigned char *key, size_t key_length) {
    unsigned char block[SHA256_CBLOCK];
    unsigned char pad[SHA256_CBLOCK];
    memset(block, 0, sizeof block);
    if (key_length > SHA256_CBLOCK) {
        if (SHA256(key, key_length, block) == NULL) return 0;
    } else {
        memcpy(block, key, key_length);
    }
    pc_hmac_state prepared;
    for (int i = 0; i < SHA256_CBLOCK; i++) pad[i] = block[i] ^ 0x36;
    if (SHA256_Init(&prepared.inner) != 1 || SHA256_Update(&prepared.inner, pad, sizeof pad) != 1) return 0;
    for (int i = 0; i < SHA256_CBLOCK; i++) pad[i] = block[i] ^ 0x5c;
    if (SHA256_Init(&prepared.outer) != 1 || SHA256_Update(&prepared.outer, pad, sizeof pad) != 1) return 0;
    memcpy(state, &prepared, sizeof prepared);
    return 1;
}

void pc_hmac_sha256(const unsigned char *state, const unsigned char *message, size_t length, unsigned char *out) {
    pc_hmac_state prepared;
    memcpy(&prepared, state, sizeof prepared);
    unsigned char inner[SHA256_DIGEST_LENGTH];
    SHA256_Update(&prepared.inner, message, length);
    SHA256_Final(inner, &prepared.inner);
    SHA256_Update(&prepared.outer, inner, sizeof inner);
    SHA256_Final(out, &prepared.outer);
}
