#include "CLuaShims.h"
#include <stdlib.h>

/* The allocator: counts every byte, and refuses growth past the cap while Lua code runs. Lua then raises
   a memory error inside its own protected call, which fails the request, never the process. Shrinking and
   freeing never fail, as Lua requires. */
static void *pc_alloc(void *ud, void *ptr, size_t osize, size_t nsize) {
    pc_lua_runtime *rt = (pc_lua_runtime *)ud;
    size_t old = ptr != NULL ? osize : 0;
    if (nsize == 0) {
        rt->used -= old;
        free(ptr);
        return NULL;
    }
    if (nsize > old && rt->enforce && rt->used - old + nsize > rt->limit) {
        rt->memory_exceeded = 1;
        return NULL;
    }
    void *block = realloc(ptr, nsize);
    if (block == NULL) return NULL;
    rt->used = rt->used - old + nsize;
    return block;
}

pc_lua_runtime *pc_lua_runtime_of(lua_State *L) {
    void *ud = NULL;
    lua_getallocf(L, &ud);
    return (pc_lua_runtime *)ud;
}

/* Runs every PC_LUA_TICK instructions. Raising from a count hook is allowed; the error names the
   script line that was running. */
static void pc_budget_hook(lua_State *L, lua_Debug *ar) {
    pc_lua_runtime *rt = pc_lua_runtime_of(L);
    if (--rt->ticks_left > 0) return;
    rt->budget_exceeded = 1;
    if (lua_getinfo(L, "Sl", ar) && ar->currentline > 0) {
        lua_pushfstring(L, "%s:%d: instruction budget exceeded", ar->short_src, ar->currentline);
    } else {
        lua_pushliteral(L, "instruction budget exceeded");
    }
    lua_error(L);
}

static int pc_panic(lua_State *L) {
    /* Only reached if an error escapes every protected call, which the design rules out. Abort loudly
       rather than return into undefined state. */
    const char *message = lua_type(L, -1) == LUA_TSTRING ? lua_tostring(L, -1) : "(non-string error)";
    lua_writestringerror("portcullis: unprotected Lua error: %s\n", message);
    return 0;
}

lua_State *pc_lua_newstate(pc_lua_runtime *rt) {
    lua_State *L = lua_newstate(pc_alloc, rt);
    if (L == NULL) return NULL;
    lua_atpanic(L, pc_panic);
    /* Threads created later inherit the hook from the main thread. */
    lua_sethook(L, pc_budget_hook, LUA_MASKCOUNT, PC_LUA_TICK);
    return L;
}

int pc_lua_resume(lua_State *co, int nargs, int *nresults) {
    pc_lua_runtime *rt = pc_lua_runtime_of(co);
    rt->enforce = 1;
    int status = lua_resume(co, NULL, nargs, nresults);
    rt->enforce = 0;
    return status;
}

int pc_lua_pcall(lua_State *L, int nargs, int nresults) {
    pc_lua_runtime *rt = pc_lua_runtime_of(L);
    rt->enforce = 1;
    int status = lua_pcall(L, nargs, nresults, 0);
    rt->enforce = 0;
    return status;
}

int pc_lua_load_text(lua_State *L, const char *text, size_t length, const char *chunkname) {
    return luaL_loadbufferx(L, text, length, chunkname, "t");
}

/* Calls the Swift function in upvalue 1 with the memory cap lifted, then turns its return code into a
   raise or a yield here, in C. */
static int pc_trampoline(lua_State *L) {
    pc_swift_function fn = (pc_swift_function)lua_touserdata(L, lua_upvalueindex(1));
    pc_lua_runtime *rt = pc_lua_runtime_of(L);
    int enforced = rt->enforce;
    rt->enforce = 0;
    int n = fn(L);
    rt->enforce = enforced;
    if (n == PC_LUA_RAISE) {
        if (lua_type(L, -1) == LUA_TSTRING) {
            luaL_where(L, 1);
            lua_insert(L, -2);
            lua_concat(L, 2);
        }
        return lua_error(L);
    }
    if (n == PC_LUA_YIELD) return lua_yield(L, 0);
    if (enforced && rt->used > rt->limit) {
        rt->memory_exceeded = 1;
        return luaL_error(L, "not enough memory");
    }
    return n;
}

void pc_lua_push_swift(lua_State *L, pc_swift_function fn) {
    lua_pushlightuserdata(L, (void *)fn);
    lua_pushcclosure(L, pc_trampoline, 1);
}

void pc_lua_open_safe_libs(lua_State *L) {
    static const luaL_Reg libs[] = {
        {LUA_GNAME, luaopen_base},
        {LUA_COLIBNAME, luaopen_coroutine},
        {LUA_TABLIBNAME, luaopen_table},
        {LUA_STRLIBNAME, luaopen_string},
        {LUA_MATHLIBNAME, luaopen_math},
        {LUA_UTF8LIBNAME, luaopen_utf8},
        {NULL, NULL},
    };
    for (const luaL_Reg *lib = libs; lib->func; lib++) {
        luaL_requiref(L, lib->name, lib->func, 1);
        lua_pop(L, 1);
    }
}

int pc_lua_reset_thread(lua_State *co) {
#if LUA_VERSION_RELEASE_NUM >= 50406
    return lua_closethread(co, NULL);
#else
    return lua_resetthread(co);
#endif
}

int pc_lua_registryindex(void) { return LUA_REGISTRYINDEX; }
int pc_lua_upvalueindex(int i) { return lua_upvalueindex(i); }
void pc_lua_pop(lua_State *L, int n) { lua_pop(L, n); }
const char *pc_lua_tostring(lua_State *L, int idx, size_t *len) { return lua_tolstring(L, idx, len); }
int pc_lua_isyieldable(lua_State *L) { return lua_isyieldable(L); }

/* True once the running invocation hit its instruction budget or the memory cap: the sandbox's pcall,
   xpcall and coroutine.resume re-raise then instead of returning false. */
static int pc_aborting(lua_State *L) {
    pc_lua_runtime *rt = pc_lua_runtime_of(L);
    lua_pushboolean(L, rt->budget_exceeded || rt->memory_exceeded);
    return 1;
}

void pc_lua_push_aborting(lua_State *L) { lua_pushcfunction(L, pc_aborting); }

int pc_lua_gc(lua_State *L, int what) { return lua_gc(L, what, 0); }
