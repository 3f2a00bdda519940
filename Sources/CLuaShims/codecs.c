#include "CLuaShims.h"
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <string.h>
#include <time.h>

/* Pure functions for gw.*: C, so argument checks may raise as usual (no Swift frame is involved). */

static const char b64chars[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
static const char b64url[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

/* gw.base64_encode(s [, url]): standard alphabet with padding, or base64url without padding. */
static int gw_base64_encode(lua_State *L) {
    size_t n;
    const unsigned char *s = (const unsigned char *)luaL_checklstring(L, 1, &n);
    int url = lua_toboolean(L, 2);
    const char *alphabet = url ? b64url : b64chars;
    luaL_Buffer b;
    luaL_buffinit(L, &b);
    size_t i = 0;
    for (; i + 2 < n; i += 3) {
        unsigned v = (unsigned)s[i] << 16 | (unsigned)s[i + 1] << 8 | s[i + 2];
        char out[4] = {alphabet[v >> 18], alphabet[(v >> 12) & 63], alphabet[(v >> 6) & 63], alphabet[v & 63]};
        luaL_addlstring(&b, out, 4);
    }
    if (i < n) {
        unsigned v = (unsigned)s[i] << 16 | (i + 1 < n ? (unsigned)s[i + 1] << 8 : 0);
        char out[4] = {alphabet[v >> 18], alphabet[(v >> 12) & 63], i + 1 < n ? alphabet[(v >> 6) & 63] : '=', '='};
        luaL_addlstring(&b, out, url ? (i + 1 < n ? 3 : 2) : 4);
    }
    luaL_pushresult(&b);
    return 1;
}

static int b64value(unsigned char c) {
    if (c >= 'A' && c <= 'Z') return c - 'A';
    if (c >= 'a' && c <= 'z') return c - 'a' + 26;
    if (c >= '0' && c <= '9') return c - '0' + 52;
    if (c == '+' || c == '-') return 62;
    if (c == '/' || c == '_') return 63;
    return -1;
}

/* gw.base64_decode(s): either alphabet, padding optional. nil for invalid input. */
static int gw_base64_decode(lua_State *L) {
    size_t n;
    const unsigned char *s = (const unsigned char *)luaL_checklstring(L, 1, &n);
    while (n > 0 && s[n - 1] == '=') n--;
    if (n % 4 == 1) { lua_pushnil(L); return 1; }
    luaL_Buffer b;
    luaL_buffinit(L, &b);
    unsigned acc = 0;
    int bits = 0;
    for (size_t i = 0; i < n; i++) {
        int v = b64value(s[i]);
        if (v < 0) { lua_pushnil(L); return 1; }
        acc = (acc << 6) | (unsigned)v;
        bits += 6;
        if (bits >= 8) {
            bits -= 8;
            luaL_addchar(&b, (char)((acc >> bits) & 0xFF));
        }
    }
    luaL_pushresult(&b);
    return 1;
}

static int gw_hex_encode(lua_State *L) {
    size_t n;
    const unsigned char *s = (const unsigned char *)luaL_checklstring(L, 1, &n);
    static const char digits[] = "0123456789abcdef";
    luaL_Buffer b;
    char *out = luaL_buffinitsize(L, &b, n * 2);
    for (size_t i = 0; i < n; i++) {
        out[2 * i] = digits[s[i] >> 4];
        out[2 * i + 1] = digits[s[i] & 15];
    }
    luaL_pushresultsize(&b, n * 2);
    return 1;
}

static int hexvalue(unsigned char c) {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
}

static int gw_hex_decode(lua_State *L) {
    size_t n;
    const unsigned char *s = (const unsigned char *)luaL_checklstring(L, 1, &n);
    if (n % 2) { lua_pushnil(L); return 1; }
    luaL_Buffer b;
    char *out = luaL_buffinitsize(L, &b, n / 2);
    for (size_t i = 0; i < n; i += 2) {
        int hi = hexvalue(s[i]), lo = hexvalue(s[i + 1]);
        if (hi < 0 || lo < 0) { lua_pushnil(L); return 1; }
        out[i / 2] = (char)(hi << 4 | lo);
    }
    luaL_pushresultsize(&b, n / 2);
    return 1;
}

/* gw.sha256(s): the raw 32-byte digest (gw.hex_encode it for text). */
static int gw_sha256(lua_State *L) {
    size_t n;
    const char *s = luaL_checklstring(L, 1, &n);
    unsigned char md[EVP_MAX_MD_SIZE];
    unsigned int len = 0;
    if (EVP_Digest(s, n, md, &len, EVP_sha256(), NULL) != 1) return luaL_error(L, "sha256 failed");
    lua_pushlstring(L, (const char *)md, len);
    return 1;
}

/* gw.hmac_sha256(key, message): the raw 32-byte MAC. */
static int gw_hmac_sha256(lua_State *L) {
    size_t klen, n;
    const char *key = luaL_checklstring(L, 1, &klen);
    const char *s = luaL_checklstring(L, 2, &n);
    unsigned char md[EVP_MAX_MD_SIZE];
    unsigned int len = 0;
    if (HMAC(EVP_sha256(), key, (int)klen, (const unsigned char *)s, n, md, &len) == NULL) return luaL_error(L, "hmac failed");
    lua_pushlstring(L, (const char *)md, len);
    return 1;
}

/* gw.now(): wall-clock seconds since the epoch, with sub-millisecond precision. */
static int gw_now(lua_State *L) {
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    lua_pushnumber(L, (lua_Number)ts.tv_sec + (lua_Number)ts.tv_nsec / 1e9);
    return 1;
}

int pc_lua_json_encode(lua_State *L);
int pc_lua_json_decode(lua_State *L);

void pc_lua_open_codecs(lua_State *L) {
    static const luaL_Reg functions[] = {
        {"base64_encode", gw_base64_encode},
        {"base64_decode", gw_base64_decode},
        {"hex_encode", gw_hex_encode},
        {"hex_decode", gw_hex_decode},
        {"sha256", gw_sha256},
        {"hmac_sha256", gw_hmac_sha256},
        {"now", gw_now},
        {NULL, NULL},
    };
    luaL_setfuncs(L, functions, 0);
    lua_createtable(L, 0, 3);
    lua_pushcfunction(L, pc_lua_json_encode);
    lua_setfield(L, -2, "encode");
    lua_pushcfunction(L, pc_lua_json_decode);
    lua_setfield(L, -2, "decode");
    lua_pushlightuserdata(L, NULL);
    lua_setfield(L, -2, "null");
    lua_setfield(L, -2, "json");
}
