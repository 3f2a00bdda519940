#include "CGatewayShims.h"
#include <openssl/crypto.h>
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
