#ifndef C_LUA_SHIMS_H
#define C_LUA_SHIMS_H

#include <stddef.h>
#include <lua.h>
#include <lauxlib.h>
#include <lualib.h>

// The C half of the Lua runtime. Everything that may raise a Lua error (a longjmp) lives here, so that
// no longjmp ever crosses a Swift frame: Swift-implemented functions run behind `pc_lua_push_swift`'s
// trampoline and report errors and yields by return code; the allocator and the instruction hook are C.

/// Per-state limits and bookkeeping; the allocator's userdata, so any thread of the state finds it.
typedef struct pc_lua_runtime {
    /// Bytes the state holds now, and the cap.
    size_t used;
    size_t limit;
    /// The cap applies only while Lua code runs (`pc_lua_resume`, `pc_lua_pcall`). While Swift pushes values
    /// an allocation never fails: a refused allocation would raise, and a raise must not unwind Swift frames.
    int enforce;
    /// Count-hook ticks (`PC_LUA_TICK` instructions each) left for the running invocation.
    long ticks_left;
    /// Set when the hook or the allocator stopped the running invocation; sandboxed `pcall` re-raises then,
    /// so a script cannot catch its own budget error and spin on.
    int budget_exceeded;
    int memory_exceeded;
    /// The Swift object that owns the state (unretained; it outlives the state).
    void *owner;
} pc_lua_runtime;

enum { PC_LUA_TICK = 1000 };
/// Returned by a Swift function: raise the error value on top of the stack (the trampoline adds the position).
enum { PC_LUA_RAISE = -1 };
/// Returned by a Swift function: yield the running coroutine with no values.
enum { PC_LUA_YIELD = -2 };

typedef int (*pc_swift_function)(lua_State *L);

/// A new state using `rt` for memory accounting, with the instruction hook installed. NULL if out of memory.
lua_State *pc_lua_newstate(pc_lua_runtime *rt);
/// The runtime of any thread of a state.
pc_lua_runtime *pc_lua_runtime_of(lua_State *L);
/// lua_resume / lua_pcall with the memory cap enforced for their duration.
int pc_lua_resume(lua_State *co, int nargs, int *nresults);
int pc_lua_pcall(lua_State *L, int nargs, int nresults);
/// Loads text only (mode "t": no precompiled bytecode).
int pc_lua_load_text(lua_State *L, const char *text, size_t length, const char *chunkname);
/// Pushes a Lua function that calls `fn` through the trampoline.
void pc_lua_push_swift(lua_State *L, pc_swift_function fn);
/// Opens the libraries a sandboxed script may use: base, coroutine, table, string, math, utf8.
void pc_lua_open_safe_libs(lua_State *L);
/// Sets gw's codec functions into the table on top of the stack: base64_encode/decode, hex_encode/decode,
/// sha256, hmac_sha256, now, and the `json` subtable (encode, decode, null).
void pc_lua_open_codecs(lua_State *L);
/// Restarts a thread that ended in an error so it can be reused (lua_resetthread / lua_closethread).
int pc_lua_reset_thread(lua_State *co);

/// Pushes the function the sandbox prelude uses to re-raise budget and memory errors.
void pc_lua_push_aborting(lua_State *L);

/// lua_gc (variadic in C, so Swift cannot call it): LUA_GCCOLLECT, LUA_GCCOUNT, ...
int pc_lua_gc(lua_State *L, int what);

/// Macro wrappers.
int pc_lua_registryindex(void);
int pc_lua_upvalueindex(int i);
void pc_lua_pop(lua_State *L, int n);
const char *pc_lua_tostring(lua_State *L, int idx, size_t *len);
int pc_lua_isyieldable(lua_State *L);

#endif
