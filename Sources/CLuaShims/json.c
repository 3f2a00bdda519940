#include "CLuaShims.h"
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* gw.json.encode / gw.json.decode. JSON null is gw.json.null (a light userdata NULL), so that a decoded
   `{"a":null}` keeps its key. Memory comes from the state's allocator, so the memory cap applies. */

enum { JSON_MAX_DEPTH = 100 };

typedef struct jbuf {
    char *data;
    size_t len, cap;
    lua_Alloc alloc;
    void *ud;
} jbuf;

static int jbuf_gc(lua_State *L) {
    jbuf *b = (jbuf *)lua_touserdata(L, 1);
    if (b->data) b->alloc(b->ud, b->data, b->cap, 0);
    b->data = NULL;
    b->cap = 0;
    return 0;
}

/* A growable buffer owned by a userdata on the stack: an error anywhere leaves it to the collector. */
static jbuf *jbuf_new(lua_State *L) {
    jbuf *b = (jbuf *)lua_newuserdatauv(L, sizeof(jbuf), 0);
    memset(b, 0, sizeof *b);
    b->alloc = lua_getallocf(L, &b->ud);
    if (luaL_newmetatable(L, "portcullis.jsonbuffer")) {
        lua_pushcfunction(L, jbuf_gc);
        lua_setfield(L, -2, "__gc");
    }
    lua_setmetatable(L, -2);
    return b;
}

static void jbuf_reserve(lua_State *L, jbuf *b, size_t extra) {
    if (b->len + extra <= b->cap) return;
    size_t cap = b->cap ? b->cap * 2 : 256;
    while (cap < b->len + extra) cap *= 2;
    char *data = (char *)b->alloc(b->ud, b->data, b->data ? b->cap : 0, cap);
    if (data == NULL) luaL_error(L, "not enough memory");
    b->data = data;
    b->cap = cap;
}

static void jbuf_add(lua_State *L, jbuf *b, const char *s, size_t n) {
    jbuf_reserve(L, b, n);
    memcpy(b->data + b->len, s, n);
    b->len += n;
}

static void jbuf_char(lua_State *L, jbuf *b, char c) { jbuf_add(L, b, &c, 1); }

/* ---- encode ---- */

static void encode_string(lua_State *L, jbuf *b, const char *s, size_t n) {
    static const char hex[] = "0123456789abcdef";
    jbuf_char(L, b, '"');
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        switch (c) {
        case '"': jbuf_add(L, b, "\\\"", 2); break;
        case '\\': jbuf_add(L, b, "\\\\", 2); break;
        case '\n': jbuf_add(L, b, "\\n", 2); break;
        case '\r': jbuf_add(L, b, "\\r", 2); break;
        case '\t': jbuf_add(L, b, "\\t", 2); break;
        default:
            if (c < 0x20 || c == 0x7f) {
                char esc[6] = {'\\', 'u', '0', '0', hex[c >> 4], hex[c & 15]};
                jbuf_add(L, b, esc, 6);
            } else {
                jbuf_char(L, b, (char)c);
            }
        }
    }
    jbuf_char(L, b, '"');
}

static void encode_value(lua_State *L, jbuf *b, int idx, int depth);

static void encode_table(lua_State *L, jbuf *b, int idx, int depth) {
    if (depth > JSON_MAX_DEPTH) luaL_error(L, "json.encode: nesting deeper than %d (a cycle?)", JSON_MAX_DEPTH);
    luaL_checkstack(L, 4, "json.encode");
    lua_Unsigned n = lua_rawlen(L, idx);
    lua_Unsigned count = 0;
    lua_pushnil(L);
    while (lua_next(L, idx)) {
        count++;
        lua_pop(L, 1);
    }
    if (n > 0 && count == n) {
        jbuf_char(L, b, '[');
        for (lua_Unsigned i = 1; i <= n; i++) {
            if (i > 1) jbuf_char(L, b, ',');
            lua_rawgeti(L, idx, (lua_Integer)i);
            encode_value(L, b, lua_gettop(L), depth + 1);
            lua_pop(L, 1);
        }
        jbuf_char(L, b, ']');
        return;
    }
    jbuf_char(L, b, '{');
    int first = 1;
    lua_pushnil(L);
    while (lua_next(L, idx)) {
        int keytype = lua_type(L, -2);
        if (keytype != LUA_TSTRING && keytype != LUA_TNUMBER) luaL_error(L, "json.encode: keys must be strings or numbers");
        if (!first) jbuf_char(L, b, ',');
        first = 0;
        /* Convert a copy: converting the key itself would break lua_next. */
        lua_pushvalue(L, -2);
        size_t klen;
        const char *key = lua_tolstring(L, -1, &klen);
        encode_string(L, b, key, klen);
        lua_pop(L, 1);
        jbuf_char(L, b, ':');
        encode_value(L, b, lua_gettop(L), depth + 1);
        lua_pop(L, 1);
    }
    jbuf_char(L, b, '}');
}

static void encode_value(lua_State *L, jbuf *b, int idx, int depth) {
    switch (lua_type(L, idx)) {
    case LUA_TNIL: jbuf_add(L, b, "null", 4); return;
    case LUA_TBOOLEAN:
        if (lua_toboolean(L, idx)) jbuf_add(L, b, "true", 4); else jbuf_add(L, b, "false", 5);
        return;
    case LUA_TNUMBER: {
        char text[64];
        int len;
        if (lua_isinteger(L, idx)) {
            len = snprintf(text, sizeof text, LUA_INTEGER_FMT, (LUAI_UACINT)lua_tointeger(L, idx));
        } else {
            lua_Number x = lua_tonumber(L, idx);
            if (!isfinite(x)) luaL_error(L, "json.encode: cannot encode %s", isnan(x) ? "NaN" : "infinity");
            len = snprintf(text, sizeof text, "%.14g", (double)x);
        }
        jbuf_add(L, b, text, (size_t)len);
        return;
    }
    case LUA_TSTRING: {
        size_t n;
        const char *s = lua_tolstring(L, idx, &n);
        encode_string(L, b, s, n);
        return;
    }
    case LUA_TTABLE: encode_table(L, b, idx, depth); return;
    case LUA_TLIGHTUSERDATA:
        if (lua_touserdata(L, idx) == NULL) {
            jbuf_add(L, b, "null", 4);
            return;
        }
        /* fallthrough */
    default:
        luaL_error(L, "json.encode: cannot encode a %s", luaL_typename(L, idx));
    }
}

int pc_lua_json_encode(lua_State *L) {
    luaL_checkany(L, 1);
    lua_settop(L, 1);
    jbuf *b = jbuf_new(L);
    encode_value(L, b, 1, 0);
    lua_pushlstring(L, b->data ? b->data : "", b->len);
    return 1;
}

/* ---- decode: parse errors are returned (nil, message), not raised; only memory errors raise ---- */

typedef struct jdec {
    const char *start, *p, *end;
    jbuf *buf;
    const char *error;
} jdec;

static void skip_ws(jdec *d) {
    while (d->p < d->end && (*d->p == ' ' || *d->p == '\t' || *d->p == '\n' || *d->p == '\r')) d->p++;
}

static int fail(jdec *d, const char *message) {
    d->error = message;
    return 0;
}

static void add_utf8(lua_State *L, jbuf *b, unsigned long cp) {
    char out[4];
    size_t n;
    if (cp < 0x80) { out[0] = (char)cp; n = 1; }
    else if (cp < 0x800) { out[0] = (char)(0xC0 | (cp >> 6)); out[1] = (char)(0x80 | (cp & 0x3F)); n = 2; }
    else if (cp < 0x10000) { out[0] = (char)(0xE0 | (cp >> 12)); out[1] = (char)(0x80 | ((cp >> 6) & 0x3F)); out[2] = (char)(0x80 | (cp & 0x3F)); n = 3; }
    else { out[0] = (char)(0xF0 | (cp >> 18)); out[1] = (char)(0x80 | ((cp >> 12) & 0x3F)); out[2] = (char)(0x80 | ((cp >> 6) & 0x3F)); out[3] = (char)(0x80 | (cp & 0x3F)); n = 4; }
    jbuf_add(L, b, out, n);
}

static int read_hex4(jdec *d, unsigned long *out) {
    if (d->end - d->p < 4) return 0;
    unsigned long v = 0;
    for (int i = 0; i < 4; i++) {
        char c = d->p[i];
        v <<= 4;
        if (c >= '0' && c <= '9') v |= (unsigned long)(c - '0');
        else if (c >= 'a' && c <= 'f') v |= (unsigned long)(c - 'a' + 10);
        else if (c >= 'A' && c <= 'F') v |= (unsigned long)(c - 'A' + 10);
        else return 0;
    }
    d->p += 4;
    *out = v;
    return 1;
}

static int decode_string(lua_State *L, jdec *d) {
    jbuf *b = d->buf;
    b->len = 0;
    d->p++; /* opening quote */
    while (d->p < d->end) {
        unsigned char c = (unsigned char)*d->p++;
        if (c == '"') {
            lua_pushlstring(L, b->data ? b->data : "", b->len);
            return 1;
        }
        if (c < 0x20) return fail(d, "control character in string");
        if (c != '\\') {
            jbuf_char(L, b, (char)c);
            continue;
        }
        if (d->p >= d->end) break;
        char e = *d->p++;
        switch (e) {
        case '"': jbuf_char(L, b, '"'); break;
        case '\\': jbuf_char(L, b, '\\'); break;
        case '/': jbuf_char(L, b, '/'); break;
        case 'b': jbuf_char(L, b, '\b'); break;
        case 'f': jbuf_char(L, b, '\f'); break;
        case 'n': jbuf_char(L, b, '\n'); break;
        case 'r': jbuf_char(L, b, '\r'); break;
        case 't': jbuf_char(L, b, '\t'); break;
        case 'u': {
            unsigned long cp;
            if (!read_hex4(d, &cp)) return fail(d, "bad \\u escape");
            if (cp >= 0xD800 && cp <= 0xDBFF) {
                unsigned long low;
                if (d->end - d->p < 6 || d->p[0] != '\\' || d->p[1] != 'u') return fail(d, "unpaired surrogate");
                d->p += 2;
                if (!read_hex4(d, &low) || low < 0xDC00 || low > 0xDFFF) return fail(d, "unpaired surrogate");
                cp = 0x10000 + ((cp - 0xD800) << 10) + (low - 0xDC00);
            } else if (cp >= 0xDC00 && cp <= 0xDFFF) {
                return fail(d, "unpaired surrogate");
            }
            add_utf8(L, b, cp);
            break;
        }
        default: return fail(d, "bad escape");
        }
    }
    return fail(d, "unterminated string");
}

static int decode_number(lua_State *L, jdec *d) {
    const char *s = d->p;
    int integral = 1;
    if (d->p < d->end && *d->p == '-') d->p++;
    if (d->p >= d->end || *d->p < '0' || *d->p > '9') return fail(d, "bad number");
    if (*d->p == '0') d->p++;
    else while (d->p < d->end && *d->p >= '0' && *d->p <= '9') d->p++;
    if (d->p < d->end && *d->p == '.') {
        integral = 0;
        d->p++;
        if (d->p >= d->end || *d->p < '0' || *d->p > '9') return fail(d, "bad number");
        while (d->p < d->end && *d->p >= '0' && *d->p <= '9') d->p++;
    }
    if (d->p < d->end && (*d->p == 'e' || *d->p == 'E')) {
        integral = 0;
        d->p++;
        if (d->p < d->end && (*d->p == '+' || *d->p == '-')) d->p++;
        if (d->p >= d->end || *d->p < '0' || *d->p > '9') return fail(d, "bad number");
        while (d->p < d->end && *d->p >= '0' && *d->p <= '9') d->p++;
    }
    char text[64];
    size_t n = (size_t)(d->p - s);
    if (n >= sizeof text) return fail(d, "number too long");
    memcpy(text, s, n);
    text[n] = 0;
    if (integral && n <= 18) {
        lua_pushinteger(L, (lua_Integer)strtoll(text, NULL, 10));
    } else {
        lua_pushnumber(L, (lua_Number)strtod(text, NULL));
    }
    return 1;
}

static int literal(jdec *d, const char *word) {
    size_t n = strlen(word);
    if ((size_t)(d->end - d->p) < n || memcmp(d->p, word, n) != 0) return fail(d, "unexpected character");
    d->p += n;
    return 1;
}

static int decode_value(lua_State *L, jdec *d, int depth) {
    skip_ws(d);
    if (d->p >= d->end) return fail(d, "unexpected end");
    if (depth > JSON_MAX_DEPTH) return fail(d, "nesting too deep");
    luaL_checkstack(L, 3, "json.decode");
    switch (*d->p) {
    case '{': {
        d->p++;
        lua_newtable(L);
        skip_ws(d);
        if (d->p < d->end && *d->p == '}') { d->p++; return 1; }
        while (1) {
            skip_ws(d);
            if (d->p >= d->end || *d->p != '"') return fail(d, "expected a string key");
            if (!decode_string(L, d)) return 0;
            skip_ws(d);
            if (d->p >= d->end || *d->p != ':') return fail(d, "expected ':'");
            d->p++;
            if (!decode_value(L, d, depth + 1)) return 0;
            lua_rawset(L, -3);
            skip_ws(d);
            if (d->p < d->end && *d->p == ',') { d->p++; continue; }
            if (d->p < d->end && *d->p == '}') { d->p++; return 1; }
            return fail(d, "expected ',' or '}'");
        }
    }
    case '[': {
        d->p++;
        lua_newtable(L);
        skip_ws(d);
        if (d->p < d->end && *d->p == ']') { d->p++; return 1; }
        for (lua_Integer i = 1;; i++) {
            if (!decode_value(L, d, depth + 1)) return 0;
            lua_rawseti(L, -2, i);
            skip_ws(d);
            if (d->p < d->end && *d->p == ',') { d->p++; continue; }
            if (d->p < d->end && *d->p == ']') { d->p++; return 1; }
            return fail(d, "expected ',' or ']'");
        }
    }
    case '"': return decode_string(L, d);
    case 't': if (!literal(d, "true")) return 0; lua_pushboolean(L, 1); return 1;
    case 'f': if (!literal(d, "false")) return 0; lua_pushboolean(L, 0); return 1;
    case 'n': if (!literal(d, "null")) return 0; lua_pushlightuserdata(L, NULL); return 1;
    default: return decode_number(L, d);
    }
}

int pc_lua_json_decode(lua_State *L) {
    size_t n;
    const char *text = luaL_checklstring(L, 1, &n);
    lua_settop(L, 1);
    jdec d = {text, text, text + n, jbuf_new(L), NULL};
    int ok = decode_value(L, &d, 0);
    if (ok) {
        skip_ws(&d);
        if (d.p != d.end) ok = fail(&d, "trailing characters");
    }
    if (!ok) {
        lua_settop(L, 2);
        lua_pushnil(L);
        lua_pushfstring(L, "invalid JSON at byte %d: %s", (int)(d.p - d.start) + 1, d.error);
        return 2;
    }
    return 1;
}
