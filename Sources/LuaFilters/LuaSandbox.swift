/// The Lua side of the sandbox, run once in every new state after the safe libraries are open and before
/// the script. It receives the C and Swift helpers as arguments, so none of them stays reachable as a global.
enum LuaSandbox {
    static let prelude = #"""
    local aborting, loadlib, log = ...
    local error, type, select = error, type, select
    local rawpcall, rawxpcall, coresume, rawload = pcall, xpcall, coroutine.resume, load

    -- A script must not catch the error that stops it for its budget or memory cap and carry on.
    local function pass(ok, ...)
      if not ok and aborting() then error((...), 0) end
      return ok, ...
    end
    pcall = function(f, ...) return pass(rawpcall(f, ...)) end
    xpcall = function(f, handler, ...) return pass(rawxpcall(f, handler, ...)) end
    coroutine.resume = function(co, ...) return pass(coresume(co, ...)) end

    -- Text chunks only: precompiled bytecode can break the VM's invariants.
    load = function(chunk, name, mode, env)
      if env ~= nil then return rawload(chunk, name, "t", env) end
      return rawload(chunk, name, "t")
    end
    dofile, loadfile = nil, nil
    string.dump = nil

    local rawcollect = collectgarbage
    collectgarbage = function(what)
      if what == nil or what == "count" then return rawcollect("count") end
      error("collectgarbage: only \"count\" is available in the sandbox", 2)
    end

    -- Modules come from the script's lib/ folder only (loadlib checks the name), loaded once per state.
    local loaded = {}
    require = function(name)
      if type(name) ~= "string" then error("bad argument #1 to 'require' (string expected)", 2) end
      local module = loaded[name]
      if module ~= nil then return module end
      local chunk, err = loadlib(name)
      if not chunk then error(err, 2) end
      module = chunk(name)
      if module == nil then module = true end
      loaded[name] = module
      return module
    end

    print = function(...)
      local parts = {}
      for i = 1, select("#", ...) do parts[i] = tostring((select(i, ...))) end
      log(table.concat(parts, "\t"))
    end
    """#
}
