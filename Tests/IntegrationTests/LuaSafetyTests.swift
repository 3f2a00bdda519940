import Foundation
import LuaFilters
import Testing

/// What a script must not be able to do, and what happens when it misbehaves: the request fails (or goes
/// on, failing open), a line is logged and counted, and the gateway keeps serving.
@Suite("Lua filter safety")
struct LuaSafetyTests {
    @Test("sandbox: no os.execute, io, debug, loadfile, dofile, package, bytecode load; require only from lib/", arguments: [false, true])
    func sandbox(h2: Bool) async throws {
        let scripts = try LuaScripts()
        try scripts.write("lib/helper.lua", "return { name = 'helper' }")
        try scripts.write("outside.lua", "return { name = 'outside' }")
        let path = try scripts.write("sandbox.lua", #"""
            function on_request(ctx)
              local ok_dotdot = pcall(require, "../outside")
              local ok_abs = pcall(require, "/etc/passwd")
              local ok_outside = pcall(require, "outside")
              local f, load_err = load("\27Lua\84\0\25\147\13\10\26\10")
              local collect_ok = pcall(collectgarbage, "stop")
              local out = {
                os_execute = os.execute == nil, os_exit = os.exit == nil, getenv = os.getenv == nil, io = io == nil,
                debug = debug == nil, loadfile = loadfile == nil, dofile = dofile == nil, package = package == nil,
                dump = string.dump == nil, bytecode_refused = f == nil and load_err:find("binary") ~= nil,
                text_load = load("return 1 + 1")(), require_dotdot = not ok_dotdot, require_abs = not ok_abs,
                require_outside = not ok_outside, helper = require("helper").name, collect_stop = not collect_ok,
                time = type(os.time()) == "number",
              }
              return ctx:respond(200, nil, gw.json.encode(out))
            end
            """#)
        try await withLuaGateway(scripts, luaConfig("[ { lua: { script: \(path) } } ]")) { gw in
            let out = try curl(h2: h2, ["\(gw.baseURL)/"]).json
            for key in ["os_execute", "os_exit", "getenv", "io", "debug", "loadfile", "dofile", "package", "dump", "bytecode_refused",
                        "require_dotdot", "require_abs", "require_outside", "collect_stop", "time"] {
                #expect(out[key] as? Bool == true, "\(key)")
            }
            #expect(out["text_load"] as? Int == 2)
            #expect(out["helper"] as? String == "helper")
        }
    }

    static let misbehaving = #"""
        function on_request(ctx)
          local what = ctx.req:query_arg("do")
          if what == "loop" then
            while true do end
          elseif what == "pcall-loop" then
            while true do pcall(function() while true do end end) end
          elseif what == "memory" then
            local hoard = {}
            for i = 1, 1e9 do hoard[i] = string.rep("x", 1024) .. i end
          elseif what == "error" then
            error("deliberate")
          elseif what == "sleep" then
            gw.sleep(5000)
          end
        end
        """#

    @Test("a runaway loop is stopped by the instruction budget: 500, a log line with script and line, a count; the gateway keeps serving", arguments: [false, true])
    func runawayLoop(h2: Bool) async throws {
        let scripts = try LuaScripts()
        let path = try scripts.write("runaway.lua", Self.misbehaving)
        try await withLuaGateway(scripts, luaConfig("[ { lua: { script: \(path), budget: { instructions: 100000 } } } ]")) { gw in
            for what in ["loop", "pcall-loop"] {
                let id = "runaway-\(what)-\(h2)-\(UUID().uuidString)"
                let result = try curl(h2: h2, ["-H", "X-Request-Id: \(id)", "\(gw.baseURL)/?do=\(what)"])
                #expect(result.status == 500)
                let line = try await LuaLogLines.waitFor([id])
                #expect(line.contains("\"kind\":\"instruction_budget\""))
                #expect(line.contains("runaway.lua:\(what == "loop" ? 4 : 6): instruction budget exceeded"))
            }
            #expect((LuaFilterCounters.forScript(path)?.instructionBudget ?? 0) >= 2)
            for index in 0..<8 {
                #expect(try curl(h2: h2, ["\(gw.baseURL)/ok-\(index)"]).status == 200)
            }
            let line = try await gw.accessLogLine(path: "/?do=loop")
            #expect((line["error"] as? String)?.contains("instruction budget exceeded") == true)
        }
    }

    @Test("a memory bomb fails its request at the state's memory cap, and the next requests are served", arguments: [false, true])
    func memoryBomb(h2: Bool) async throws {
        let scripts = try LuaScripts()
        let path = try scripts.write("bomb.lua", Self.misbehaving)
        try await withLuaGateway(scripts, luaConfig("[ { lua: { script: \(path), budget: { memory: 4m, instructions: 100000000 } } } ]")) { gw in
            let id = "bomb-\(h2)-\(UUID().uuidString)"
            let result = try curl(h2: h2, ["-H", "X-Request-Id: \(id)", "\(gw.baseURL)/?do=memory"])
            #expect(result.status == 500)
            let line = try await LuaLogLines.waitFor([id])
            #expect(line.contains("\"kind\":\"memory\""))
            for index in 0..<6 {
                #expect(try curl(h2: h2, ["\(gw.baseURL)/after-\(index)"]).status == 200)
            }
            #expect((LuaFilterCounters.forScript(path)?.memory ?? 0) >= 1)
        }
    }

    @Test("the wall-clock budget stops a phase that waits too long, across its yields")
    func wallClock() async throws {
        let scripts = try LuaScripts()
        let path = try scripts.write("slow.lua", Self.misbehaving)
        try await withLuaGateway(scripts, luaConfig("[ { lua: { script: \(path), budget: { wall_time: 200ms } } } ]")) { gw in
            let started = Date()
            let result = try curl(h2: false, ["\(gw.baseURL)/?do=sleep"])
            #expect(result.status == 500)
            #expect(Date().timeIntervalSince(started) < 2)
            let line = try await gw.accessLogLine(path: "/?do=sleep")
            #expect((line["error"] as? String)?.contains("wall-clock budget") == true)
        }
    }

    @Test("fail_open lets the request go on when the script fails; without it the answer is 500")
    func failOpen() async throws {
        let scripts = try LuaScripts()
        let path = try scripts.write("fails.lua", Self.misbehaving)
        try await withLuaGateway(scripts, luaConfig("[ { lua: { script: \(path), fail_open: true, budget: { instructions: 100000 } } } ]")) { gw in
            let failed = try curl(h2: false, ["\(gw.baseURL)/?do=error"])
            let looped = try curl(h2: true, ["\(gw.baseURL)/?do=loop"])
            #expect(failed.status == 200)
            #expect(looped.status == 200)
            #expect(gw.echoes[0].stats.requests == 2)
        }
    }

    @Test("a script that does not compile, or a config its schema rejects, is a config error at load")
    func loadErrors() async throws {
        let scripts = try LuaScripts()
        defer { scripts.remove() }
        let broken = try scripts.write("broken.lua", "function on_request(ctx)\n  if then end\nend\n")
        let schema = try scripts.write("schema.lua", "schema = { limit = { type = 'integer', required = true } }\nfunction on_request() end\n")
        for (path, config, message) in [(broken, "", "broken.lua:2:"), (schema, ", config: { limit: many }", "'limit' must be an integer"),
                                        (schema, "", "'limit' is required"), (schema, ", config: { limit: 1, typo: 2 }", "unknown key 'typo'")] {
            do {
                let gateway = try await TestGateway.start(backends: 2, luaConfig("[ { lua: { script: \(path)\(config) } } ]"))
                await gateway.stop()
                Issue.record("expected a config error for \(path)\(config)")
            } catch {
                #expect("\(error)".contains(message), "\(error)")
            }
        }
    }

    @Test("hot reload: a changed script serves new requests within a second; a syntax error keeps the old one and is logged; shared dicts survive; in-flight requests finish on their version")
    func reload() async throws {
        let scripts = try LuaScripts()
        let dict = "reload-\(UUID().uuidString)"
        func version(_ n: Int) -> String {
            """
            function on_request(ctx)
              local seen = gw.shared("\(dict)"):incr("hits", 1, 0)
              if ctx.req:path() == "/slow" then gw.sleep(1500) end
              ctx:respond(200, nil, "v\(n) " .. seen .. "\\n")
            end
            """
        }
        let path = try scripts.write("reload.lua", version(1))
        try await withLuaGateway(scripts, luaConfig("[ { lua: { script: \(path) } } ]")) { gw in
            #expect(try curl(["\(gw.baseURL)/"]).body == "v1 1\n")
            try scripts.write("reload.lua", version(2))
            let changed = Date()
            var body = ""
            while Date().timeIntervalSince(changed) < 8 {
                body = try curl(["\(gw.baseURL)/"]).body
                if body.hasPrefix("v2") { break }
                try await Task.sleep(for: .milliseconds(50))
            }
            #expect(body.hasPrefix("v2"))
            // The gateway checks every 200 ms; the rest is curl start-up on a busy machine (LuaScriptSourceTests
            // pins the check itself).
            #expect(Date().timeIntervalSince(changed) < 5)
            // The dictionary kept counting across the reload.
            #expect((Int(body.dropFirst(3).dropLast()) ?? 0) >= 2)

            try scripts.write("reload.lua", "function on_request(ctx)\n  this is not lua\nend\n")
            // The file is checked as requests come: these both trigger the check and show v2 still serving.
            let broke = Date()
            var logged = false
            while !logged && Date().timeIntervalSince(broke) < 5 {
                #expect(try curl(["\(gw.baseURL)/"]).body.hasPrefix("v2"))
                logged = !LuaLogLines.matching("reload failed").filter { $0.contains(path) && $0.contains("reload.lua:2:") }.isEmpty
            }
            #expect(logged)
            for _ in 0..<3 { #expect(try curl(["\(gw.baseURL)/"]).body.hasPrefix("v2")) }

            // A slow request on v2 is in flight while v3 arrives: it finishes on v2, new requests see v3.
            try scripts.write("reload.lua", version(2) + "\n-- v2 again\n")
            try await Task.sleep(for: .milliseconds(1200))
            let base = gw.baseURL
            async let slow = offPool { try curl(["\(base)/slow"]) }
            try await Task.sleep(for: .milliseconds(200))
            try scripts.write("reload.lua", version(3))
            let changedAgain = Date()
            var fresh = ""
            while Date().timeIntervalSince(changedAgain) < 8 {
                fresh = try curl(["\(gw.baseURL)/"]).body
                if fresh.hasPrefix("v3") { break }
                try await Task.sleep(for: .milliseconds(50))
            }
            #expect(fresh.hasPrefix("v3"))
            #expect(try await slow.body.hasPrefix("v2"))
        }
    }

    @Test("many requests whose scripts wait (gw.sleep, http_call) do not hold up other requests on the same loops", arguments: ["sleep", "call"])
    func concurrentYields(kind: String) async throws {
        let scripts = try LuaScripts()
        let path = try scripts.write("wait.lua", """
            function on_request(ctx)
              if ctx.req:path() ~= "/wait" then return end
              if ctx.req:query_arg("kind") == "sleep" then
                gw.sleep(2000)
                ctx.req:set_header("x-waited", "sleep")
              else
                local res, err = ctx:http_call("beta", { path = "/slow?delay_ms=2000" })
                ctx.req:set_header("x-waited", res and tostring(res.status) or err)
              end
            end
            """)
        try await withLuaGateway(scripts, luaConfig("[ { lua: { script: \(path) } } ]")) { gw in
            let base = gw.baseURL
            let started = Date()
            // h2load multiplexes 40 waiting requests over 4 HTTP/2 connections; 10 curls add HTTP/1.1 ones. One shell
            // starts them all: Foundation's Process.run is not safe to call from many threads at once.
            async let waiters = offPool { try shell("""
                h2load -n 40 -c 4 -m 10 '\(base)/wait?kind=\(kind)' > '\(scripts.directory)/h2load.txt' 2>&1 &
                for i in $(seq 10); do curl -s -o /dev/null -w '%{http_code}\\n' '\(base)/wait?kind=\(kind)' & done
                wait; cat '\(scripts.directory)/h2load.txt'
                """) }
            try await Task.sleep(for: .milliseconds(100))
            // Meanwhile, requests that do not wait are answered at once.
            // (Timed by curl itself: starting processes on a busy 2-core machine takes long, serving does not.)
            for index in 0..<5 {
                let fast = try await offPool { try shell("curl -s -o /dev/null -w '%{http_code} %{time_total}' '\(base)/fast-\(index)'") }
                let parts = fast.stdout.split(separator: " ")
                #expect(parts.first == "200")
                #expect((parts.last.flatMap { Double($0) } ?? 9) < 1, "\(fast.stdout)")
            }
            let output = try await waiters.stdout
            #expect(output.split(separator: "\n").filter { $0 == "200" }.count == 10, "\(output)")
            #expect(output.contains("40 succeeded"), "\(output)")
            #expect(output.contains("status codes: 40 2xx"), "\(output)")
            // 50 waits of 2 s overlapped: far less than one after another (100 s).
            #expect(Date().timeIntervalSince(started) < 12)
            let line = try await gw.accessLog(atLeast: 55)
            #expect(line.filter { $0["path"] as? String == "/wait?kind=\(kind)" && $0["status"] as? Int == 200 }.count == 50)
        }
    }
}
