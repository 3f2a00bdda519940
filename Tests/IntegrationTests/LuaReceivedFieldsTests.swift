import Foundation
import Testing

/// Header reads and edits of a Lua filter on an HTTP/1.1 request whose fields are still the lines received
/// (no `HTTPFields` built): the edits are applied as the head is written upstream. HTTP/2 requests take the
/// `HTTPFields` path with the same script, so every case runs over both and must come out the same.
@Suite("Lua filter on received field lines")
struct LuaReceivedFieldsTests {
    static let edits = #"""
    function on_request(ctx)
      local req = ctx.req
      -- reads in any letter case, before and after edits
      local before = tostring(req:header("X-TOKEN")) .. "|" .. tostring(req:header("x-multi"))
      req:set_header("X-Replace", "new")
      req:remove_header("X-TOKEN")
      req:add_header("X-Multi", "3")
      req:set_header("x-list", { "p", "q" })
      req:add_header("x-added", "a1")
      req:remove_header("x-added")
      req:add_header("x-added", "a2")
      req:set_header("x-nil", nil)
      local after = tostring(req:header("x-token")) .. "|" .. req:header("X-MULTI") .. "|" .. req:header("x-replace")
        .. "|" .. req:header("X-List") .. "|" .. req:header("x-added")
      req:set_header("x-before", before)
      req:set_header("x-after", after)
      -- fields the proxy reads itself take the HTTPFields path, which must see the edits made so far
      if req:header("x-forward") then
        req:set_header("x-forwarded-for", "192.0.2.7")
        req:set_header("cookie", "c=1")
        local all = req:headers()
        req:set_header("x-seen-all", tostring(all["x-replace"]) .. "|" .. tostring(all["x-token"]) .. "|" .. tostring(all["x-added"]))
        req:set_header("x-after-take", req:header("x-multi"))
      end
    end
    """#

    @Test("set, add and remove on received lines in any letter case, multi-value fields, reads seeing the edits", arguments: [false, true])
    func edits(h2: Bool) async throws {
        let scripts = try LuaScripts()
        let path = try scripts.write("edits.lua", Self.edits)
        try await withLuaGateway(scripts, luaConfig("[ { lua: { script: \(path) } } ]")) { gw in
            let result = try curl(h2: h2, ["-H", "X-Token: secret", "-H", "X-MULTI: 1", "-H", "x-multi: 2", "-H", "x-REPLACE: old1",
                                          "-H", "X-Replace: old2", "-H", "X-Nil: gone", "-H", "X-Keep: kept", "\(gw.baseURL)/edits"])
            #expect(result.status == 200)
            let headers = try #require(result.json["headers"] as? [String: Any])
            #expect(headers["x-before"] as? String == "secret|1, 2")
            #expect(headers["x-after"] as? String == "nil|1, 2, 3|new|p, q|a2")
            #expect(headers["x-token"] == nil)
            #expect(headers["x-nil"] == nil)
            #expect(headers["x-replace"] as? String == "new")
            #expect(headers["x-multi"] as? String == "1, 2, 3")
            #expect(headers["x-list"] as? String == "p, q")
            #expect(headers["x-added"] as? String == "a2")
            #expect(headers["x-keep"] as? String == "kept")
            #expect(headers["x-forwarded-proto"] as? String == "http")
            #expect(headers["x-seen-all"] == nil)
        }
    }

    @Test("after edits on received lines, a field the proxy reads (X-Forwarded-For, Cookie) or headers() builds the fields with the edits", arguments: [false, true])
    func fallbackKeepsEdits(h2: Bool) async throws {
        let scripts = try LuaScripts()
        let path = try scripts.write("edits.lua", Self.edits)
        try await withLuaGateway(scripts, luaConfig("[ { lua: { script: \(path) } } ]")) { gw in
            let result = try curl(h2: h2, ["-H", "X-Token: secret", "-H", "x-multi: 1", "-H", "x-forward: 1", "-H", "X-Replace: old",
                                          "-H", "Cookie: a=b", "\(gw.baseURL)/fallback"])
            #expect(result.status == 200)
            let headers = try #require(result.json["headers"] as? [String: Any])
            #expect(headers["x-seen-all"] as? String == "new|nil|a2")
            #expect(headers["x-after-take"] as? String == "1, 3")
            #expect(headers["x-multi"] as? String == "1, 3")
            #expect(headers["x-replace"] as? String == "new")
            #expect(headers["x-token"] == nil)
            #expect(headers["cookie"] as? String == "c=1")
            // The filter's value, then the client's address, as the proxy appends it.
            #expect(headers["x-forwarded-for"] as? String == "192.0.2.7, 127.0.0.1")
        }
    }

    @Test("edits on received lines reach an upstream on a retried attempt, and a second Lua filter reads them")
    func secondFilterAndRetry() async throws {
        let scripts = try LuaScripts()
        let first = try scripts.write("first.lua", #"""
            function on_request(ctx) ctx.req:set_header("x-stage", "one"); ctx.req:remove_header("x-drop") end
            """#)
        let second = try scripts.write("second.lua", #"""
            function on_request(ctx) ctx.req:set_header("x-stage-seen", tostring(ctx.req:header("x-stage")) .. "/" .. tostring(ctx.req:header("x-drop"))) end
            """#)
        try await withLuaGateway(scripts, luaConfig("[ { lua: { script: \(first) } }, { lua: { script: \(second) } } ]")) { gw in
            let result = try curl(["-H", "x-drop: 1", "-H", "X-Stage: zero", "\(gw.baseURL)/two"])
            #expect(result.status == 200)
            let headers = try #require(result.json["headers"] as? [String: Any])
            #expect(headers["x-stage"] as? String == "one")
            #expect(headers["x-stage-seen"] as? String == "one/nil")
            #expect(headers["x-drop"] == nil)
        }
    }

    @Test("pipelined requests on one connection (early replies, errors, waits, edits) carry nothing over to the next")
    func reuseCarriesNothingOver() async throws {
        let scripts = try LuaScripts()
        let path = try scripts.write("mixed.lua", #"""
            function on_request(ctx)
              local p = ctx.req:path()
              if p == "/respond" then return ctx:respond(201, {}, "early") end
              if p == "/error" then error("boom") end
              if p == "/sleep" then gw.sleep(0.001) end
              if ctx.req:header("x-stale") then ctx.req:set_header("x-stale-seen", "yes") end
              ctx.req:set_header("x-path", p)
            end
            """#)
        try await withLuaGateway(scripts, luaConfig("[ { lua: { script: \(path) } } ]")) { gw in
            let client = try RawClient(port: gw.port())
            let paths = ["/respond", "/error", "/sleep", "/plain"]
            for round in 0..<3 {
                var text = ""
                for path in paths {
                    let stale = path == "/sleep" ? "x-stale: 1\r\n" : ""
                    text += "GET \(path) HTTP/1.1\r\nHost: test\r\n\(stale)\r\n"
                }
                try client.send(text)
                let responses = try client.readResponses(paths.count)
                #expect(responses.map(\.status) == [201, 500, 200, 200], "round \(round)")
                #expect(responses.first?.body == "early")
                let sleepHeaders = responses[2].json["headers"] as? [String: Any]
                #expect(sleepHeaders?["x-path"] as? String == "/sleep")
                #expect(sleepHeaders?["x-stale-seen"] as? String == "yes")
                let plainHeaders = responses[3].json["headers"] as? [String: Any]
                #expect(plainHeaders?["x-path"] as? String == "/plain")
                #expect(plainHeaders?["x-stale-seen"] == nil)
            }
        }
    }

    @Test("values set from request data are each request's own: a field made for one value is reused only for the same bytes and name")
    func repeatedValues() async throws {
        let scripts = try LuaScripts()
        let path = try scripts.write("copy.lua", #"""
            function on_request(ctx)
              local v = ctx.req:header("x-in") or "none"
              ctx.req:set_header("x-copy", v)
              ctx.req:set_header("x-other", v .. "")
              ctx.req:add_header("x-const", "k")
            end
            """#)
        try await withLuaGateway(scripts, luaConfig("[ { lua: { script: \(path) } } ]")) { gw in
            let client = try RawClient(port: gw.port())
            let values = ["a", "a", "b", "", "a", "bb", "b"]
            var text = ""
            for value in values { text += "GET /copy HTTP/1.1\r\nHost: test\r\nx-in: \(value)\r\n\r\n" }
            text += "GET /copy HTTP/1.1\r\nHost: test\r\n\r\n"
            try client.send(text)
            let responses = try client.readResponses(values.count + 1)
            for (index, expected) in (values + ["none"]).enumerated() {
                let headers = responses[index].json["headers"] as? [String: Any]
                #expect(headers?["x-copy"] as? String == expected, "request \(index)")
                #expect(headers?["x-other"] as? String == expected, "request \(index)")
                #expect(headers?["x-const"] as? String == "k", "request \(index)")
            }
        }
    }

    @Test("requests on one loop share the filter instance: a request waiting for its body keeps its own run while others come and go")
    func waitingRunStaysWithItsStream() async throws {
        let scripts = try LuaScripts()
        let path = try scripts.write("body.lua", #"""
            function on_request(ctx)
              local id = ctx.req:header("x-id")
              if ctx.req:method() == "POST" then
                local body = ctx.req:body()
                ctx.req:set_header("x-body", body)
              end
              ctx.req:set_header("x-seen-id", id)
            end
            """#)
        let yaml = luaConfig("[ { lua: { script: \(path) } } ]").replacingOccurrences(of: "workers: 2", with: "workers: 1")
        try await withLuaGateway(scripts, yaml) { gw in
            let waiting = try RawClient(port: gw.port())
            let other = try RawClient(port: gw.port())
            // The head only: the script waits in ctx.req:body().
            try waiting.send("POST /upload HTTP/1.1\r\nHost: test\r\nx-id: waiter\r\nContent-Length: 5\r\n\r\n")
            for round in 0..<3 {
                try other.send("GET /fast HTTP/1.1\r\nHost: test\r\nx-id: fast-\(round)\r\n\r\n")
                let fast = try other.readResponses(1)
                let headers = fast.first?.json["headers"] as? [String: Any]
                #expect(headers?["x-seen-id"] as? String == "fast-\(round)")
                #expect(headers?["x-body"] == nil)
            }
            try waiting.send("hello")
            let responses = try waiting.readResponses(1)
            #expect(responses.first?.status == 200)
            let headers = responses.first?.json["headers"] as? [String: Any]
            #expect(headers?["x-seen-id"] as? String == "waiter")
            #expect(headers?["x-body"] as? String == "hello")
            // The loop goes on serving requests (a body wait again, then a plain one) on the same connection.
            try waiting.send("POST /upload HTTP/1.1\r\nHost: test\r\nx-id: second\r\nContent-Length: 2\r\n\r\nok")
            try waiting.send("GET /after HTTP/1.1\r\nHost: test\r\nx-id: third\r\n\r\n")
            let more = try waiting.readResponses(2)
            #expect((more.first?.json["headers"] as? [String: Any])?["x-body"] as? String == "ok")
            #expect((more.first?.json["headers"] as? [String: Any])?["x-seen-id"] as? String == "second")
            #expect((more.last?.json["headers"] as? [String: Any])?["x-seen-id"] as? String == "third")
        }
    }
}
