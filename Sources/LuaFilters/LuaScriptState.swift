#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import CLua
import CLuaShims
import GatewayFilterAPI
import HTTPTypes
import NIOCore

/// Why a script could not be loaded into a state (syntax error, error at load time, schema mismatch).
struct LuaLoadError: Error, CustomStringConvertible {
    var description: String
}

/// One version of one script, compiled in its own `lua_State`, owned by one event loop (never touched from
/// another thread). Requests that started on it keep it alive after a reload replaces it.
final class LuaScriptState {
    let L: OpaquePointer
    private let runtime: UnsafeMutablePointer<pc_lua_runtime>
    let script: LuaScriptSnapshot
    let settings: LuaSettings
    /// The phase functions, held in the registry.
    private(set) var onRequest = Lua.noRef
    private(set) var onResponseHeaders = Lua.noRef
    private(set) var onResponseBody = Lua.noRef
    private(set) var onLog = Lua.noRef
    private(set) var confRef = Lua.noRef
    private(set) var ctxRef = Lua.noRef
    /// The request whose coroutine runs right now; the API functions act on it.
    var current: LuaFilter?
    /// A memory error left the state near its cap: new requests get a fresh state.
    var poisoned = false
    /// Finished coroutines, ready for the next request: no thread allocation on the common path.
    private var idleThreads: [(thread: OpaquePointer, ref: Int32)] = []
    /// `gw.shared` dictionaries this state has opened; userdata carry an index into this list.
    var sharedDicts: [LuaSharedDict] = []
    var sharedDictRef = Lua.noRef
    /// Spans scripts started (`ctx:start_span`) and have not finished, by the id their userdata carries.
    private(set) var spans: [Int: FilterSpan] = [:]
    private var lastSpanID = 0
    /// Parsed header names by the address of their (anchored) Lua string; see `LuaRequestAPI.fieldName`.
    /// The first few are searched linearly (a script uses a handful; no hashing), the rest in a dictionary.
    /// (Keys and names in two arrays: a search reads only keys, and copies no name on the way.)
    private var recentFieldKeys: [UnsafeRawPointer] = []
    private var recentFieldNames: [HTTPField.Name] = []
    private var moreFieldNames: [UnsafeRawPointer: HTTPField.Name] = [:]
    var fieldNameCount: Int { recentFieldNames.count + moreFieldNames.count }
    private var anchorRef = Lua.noRef
    /// The last field made per cached name (at most 16 names), for `lastField(nameKey:value:)`.
    private var lastFieldKeys: [UnsafeRawPointer] = []
    private var lastFields: [HTTPField] = []

    var phases: FilterPhases {
        var phases: FilterPhases = []
        if onRequest != Lua.noRef { phases.formUnion([.requestHead, .requestBody]) }
        if onResponseHeaders != Lua.noRef || onResponseBody != Lua.noRef { phases.insert(.responseHead) }
        if onResponseBody != Lua.noRef { phases.insert(.responseBody) }
        if onLog != Lua.noRef { phases.insert(.complete) }
        return phases
    }

    init(script: LuaScriptSnapshot, settings: LuaSettings) throws {
        self.script = script
        self.settings = settings
        runtime = .allocate(capacity: 1)
        runtime.initialize(to: pc_lua_runtime(used: 0, limit: settings.memoryBytes, enforce: 0, ticks_left: 0,
                                              budget_exceeded: 0, memory_exceeded: 0, owner: nil))
        guard let state = pc_lua_newstate(runtime) else {
            runtime.deallocate()
            throw LuaLoadError(description: "cannot create a Lua state")
        }
        L = state
        runtime.pointee.owner = Unmanaged.passUnretained(self).toOpaque()
        try setUp()
    }

    deinit {
        // Finalizers (__gc) may run Lua code while closing: give them a budget, too.
        runtime.pointee.ticks_left = 1000
        lua_close(L)
        runtime.deallocate()
    }

    /// The state of any thread of it, from inside a Swift function.
    @inline(__always)
    func addSpan(_ span: FilterSpan) -> Int {
        lastSpanID += 1
        spans[lastSpanID] = span
        return lastSpanID
    }

    /// Forgets an open span (finished by the script, or by its run at the end of the request's work).
    func removeSpan(_ id: Int) {
        spans[id] = nil
    }

    static func of(_ L: OpaquePointer) -> LuaScriptState {
        Unmanaged<LuaScriptState>.fromOpaque(pc_lua_runtime_of(L).pointee.owner).takeUnretainedValue()
    }

    var memoryInUse: Int { runtime.pointee.used }

    // MARK: - Building

    private func setUp() throws {
        pc_lua_open_safe_libs(L)
        openOSSubset()
        installGateway()
        LuaContextAPI.install(in: self)
        try runPrelude()
        try runScript()
    }

    /// `os` without execute, exit, getenv, remove, rename, tmpname, setlocale: time functions only.
    private func openOSSubset() {
        luaL_requiref(L, "os", luaopen_os, 0)
        lua_createtable(L, 0, 4)
        for name in ["time", "clock", "date", "difftime"] {
            Lua.rawField(L, -2, name)
            Lua.setRawField(L, -2, name)
        }
        lua_setglobal(L, "os")
        Lua.pop(L, 1)
    }

    private func installGateway() {
        lua_createtable(L, 0, 16)
        pc_lua_open_codecs(L)
        LuaGatewayAPI.install(in: self)
        LuaSpanAPI.install(in: self)
        lua_setglobal(L, "gw")
    }

    private func runPrelude() throws {
        let text = LuaSandbox.prelude
        guard load(text, chunkName: "=sandbox") else { throw LuaLoadError(description: "sandbox: \(popError())") }
        pc_lua_push_aborting(L)
        Lua.pushFunction(L, LuaGatewayAPI.loadLibrary)
        Lua.pushFunction(L, LuaGatewayAPI.print)
        runtime.pointee.ticks_left = 1_000_000
        guard pc_lua_pcall(L, 3, 0) == LUA_OK else { throw LuaLoadError(description: "sandbox: \(popError())") }
    }

    private func runScript() throws {
        guard load(script.text, chunkName: "@" + script.name) else { throw LuaLoadError(description: popError()) }
        startBudget()
        guard pc_lua_pcall(L, 0, 1) == LUA_OK else { throw LuaLoadError(description: popError()) }
        // A script may define its phases as globals, or return them in a table (module style).
        let module: Int32
        if lua_type(L, -1) == LUA_TTABLE {
            module = lua_gettop(L)
        } else {
            Lua.pop(L, 1)
            lua_rawgeti(L, Lua.registry, lua_Integer(LUA_RIDX_GLOBALS))
            module = lua_gettop(L)
        }
        onRequest = try functionRef(module, "on_request")
        onResponseHeaders = try functionRef(module, "on_response_headers")
        onResponseBody = try functionRef(module, "on_response_body")
        onLog = try functionRef(module, "on_log")
        if onRequest == Lua.noRef && onResponseHeaders == Lua.noRef && onResponseBody == Lua.noRef && onLog == Lua.noRef {
            throw LuaLoadError(description: "\(script.name): defines none of on_request, on_response_headers, on_response_body, on_log")
        }
        LuaConf.push(script.conf, in: L)
        let errors = LuaConf.validate(conf: lua_gettop(L), schemaOf: module, in: L)
        guard errors.isEmpty else {
            throw LuaLoadError(description: "\(script.name): config does not match the script's schema: " + errors.joined(separator: "; "))
        }
        confRef = luaL_ref(L, Lua.registry)
        lua_settop(L, 0)
    }

    private func functionRef(_ module: Int32, _ name: String) throws -> Int32 {
        let type = Lua.rawField(L, module, name)
        if type == LUA_TFUNCTION { return luaL_ref(L, Lua.registry) }
        Lua.pop(L, 1)
        if type != LUA_TNIL { throw LuaLoadError(description: "\(script.name): \(name) must be a function") }
        return Lua.noRef
    }

    /// Compiles `text` (never bytecode) onto the stack of `thread` (the main thread by default): the function, or the error.
    func load(_ text: String, chunkName: String, onto thread: OpaquePointer? = nil) -> Bool {
        var text = text
        let target = thread ?? L
        return text.withUTF8 { bytes in
            pc_lua_load_text(target, UnsafeRawPointer(bytes.baseAddress!).assumingMemoryBound(to: CChar.self), bytes.count, chunkName) == LUA_OK
        }
    }

    /// The error value on top of the stack as text (popped).
    func popError() -> String {
        defer { Lua.pop(L, 1) }
        return Self.errorText(L, -1)
    }

    static func errorText(_ L: OpaquePointer, _ index: Int32) -> String {
        Lua.string(L, index) ?? "(error object is a \(Lua.typeName(L, index)) value)"
    }

    func setCtxRef(_ ref: Int32) { ctxRef = ref }

    @inline(__always)
    func cachedFieldName(_ key: UnsafeRawPointer) -> HTTPField.Name? {
        var index = 0
        while index < recentFieldKeys.count {
            if recentFieldKeys[index] == key { return recentFieldNames[index] }
            index += 1
        }
        return moreFieldNames.isEmpty ? nil : moreFieldNames[key]
    }

    func cacheFieldName(_ key: UnsafeRawPointer, _ name: HTTPField.Name) {
        if recentFieldKeys.count < 16 {
            recentFieldKeys.append(key)
            recentFieldNames.append(name)
        } else {
            moreFieldNames[key] = name
        }
    }

    /// The field last made for the cached name at `nameKey` (see `LuaHeaders.field`), if its value has
    /// exactly the bytes of `value`.
    @inline(__always)
    func lastField(nameKey: UnsafeRawPointer, value: UnsafeBufferPointer<UInt8>) -> HTTPField? {
        var index = 0
        while index < lastFieldKeys.count {
            if lastFieldKeys[index] == nameKey {
                let same = lastFields[index].withUnsafeBytesOfValue { bytes in
                    bytes.count == value.count && (value.count == 0 || memcmp(bytes.baseAddress!, value.baseAddress!, value.count) == 0)
                }
                return same ? lastFields[index] : nil
            }
            index += 1
        }
        return nil
    }

    /// Remembers `field` (valid, made from the value's bytes) as the last one for its name, if that name is
    /// in the name cache: only an anchored name's address stays its own.
    func rememberField(nameKey: UnsafeRawPointer, _ field: HTTPField) {
        guard cachedFieldName(nameKey) != nil else { return }
        if let index = lastFieldKeys.firstIndex(of: nameKey) {
            lastFields[index] = field
        } else if lastFieldKeys.count < 16 {
            lastFieldKeys.append(nameKey)
            lastFields.append(field)
        }
    }

    /// Keeps the value at `index` alive for the state's lifetime (in a registry table).
    func anchor(_ thread: OpaquePointer, _ index: Int32) {
        let index = lua_absindex(thread, index)
        if anchorRef == Lua.noRef {
            lua_createtable(thread, 0, 16)
            anchorRef = luaL_ref(thread, Lua.registry)
        }
        lua_rawgeti(thread, Lua.registry, lua_Integer(anchorRef))
        lua_pushvalue(thread, index)
        lua_pushboolean(thread, 1)
        lua_rawset(thread, -3)
        Lua.pop(thread, 1)
    }

    // MARK: - Running

    /// Arms the instruction budget for a new invocation.
    func startBudget() {
        runtime.pointee.ticks_left = settings.instructionTicks
        runtime.pointee.budget_exceeded = 0
        runtime.pointee.memory_exceeded = 0
    }

    /// Resumes `thread` with `ticks` of budget; returns the status, the result count and the ticks left.
    func resume(_ thread: OpaquePointer, nargs: Int32, ticks: Int, for filter: LuaFilter) -> (status: Int32, results: Int32, ticks: Int, kind: LuaErrorKind) {
        runtime.pointee.ticks_left = ticks
        runtime.pointee.budget_exceeded = 0
        runtime.pointee.memory_exceeded = 0
        current = filter
        var results: Int32 = 0
        let status = pc_lua_resume(thread, nargs, &results)
        current = nil
        var kind = LuaErrorKind.script
        if runtime.pointee.budget_exceeded != 0 { kind = .instructionBudget }
        if runtime.pointee.memory_exceeded != 0 {
            kind = .memory
            // Free what the failed request held; if the state stays near its cap, retire it.
            _ = pc_lua_gc(L, LUA_GCCOLLECT)
            if runtime.pointee.used > settings.memoryBytes / 10 * 9 { poisoned = true }
        }
        return (status, results, runtime.pointee.ticks_left, kind)
    }

    func acquireThread() -> (thread: OpaquePointer, ref: Int32) {
        if let idle = idleThreads.popLast() { return idle }
        let thread = lua_newthread(L)!
        let ref = luaL_ref(L, Lua.registry)
        return (thread, ref)
    }

    /// A coroutine that returned normally can start the next call; one that failed or was abandoned is dropped.
    func releaseThread(_ thread: (thread: OpaquePointer, ref: Int32), reusable: Bool) {
        if reusable && idleThreads.count < 256 {
            lua_settop(thread.thread, 0)
            idleThreads.append(thread)
        } else {
            luaL_unref(L, Lua.registry, thread.ref)
        }
    }
}

/// What stopped a script.
enum LuaErrorKind: String, Sendable {
    case script
    case instructionBudget = "instruction_budget"
    case wallClock = "wall_clock_budget"
    case memory
}

extension Lua {
    @inline(__always)
    static func pop(_ L: OpaquePointer, _ count: Int32) { lua_settop(L, -count - 1) }
}
