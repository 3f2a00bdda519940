import Foundation
import Testing

/// The Lua API through real requests over HTTP/1.1 and HTTP/2 (h2c prior knowledge), one script per
/// concern, each in a fresh folder.
@Suite("Lua filter API")
struct LuaAPITests {
    static let api = #"""
    function on_request(ctx, conf)
      local path = ctx.req:path()
      if path == "/read" then
        local info = {
          method = ctx.req:method(), path = path, query = ctx.req:query(), a = ctx.req:query_arg("a"),
          args = ctx.req:query_args(), authority = ctx.req:authority(), scheme = ctx.req:scheme(),
          client = ctx.req:client_addr(), ip = ctx.req:client_ip(), multi = ctx.req:header("X-Multi"),
          values = ctx.req:header_values("x-multi"), missing = ctx.req:header("x-missing"),
          sni = ctx.req:tls_sni(), id = ctx:request_id(), listener = ctx:listener(), cluster = ctx:cluster(),
          conf = conf.greeting,
        }
        return ctx:respond(200, { ["content-type"] = "application/json" }, gw.json.encode(info))
      elseif path == "/write" then
        ctx.req:set_header("x-set", "one")
        ctx.req:add_header("x-add", "1")
        ctx.req:add_header("x-add", "2")
        ctx.req:remove_header("X-Remove")
        ctx.req:set_path("/rewritten")
        ctx.req:set_query({ b = "x y", a = "1" })
        ctx.req:set_method("PUT")
        if ctx.req:header("x-beta") then ctx:set_cluster("beta") end
      elseif path == "/respond" then
        return ctx:respond(418, { ["x-a"] = "1", ["x-list"] = { "p", "q" } }, "teapot\n")
      end
    end

    function on_response_headers(ctx, conf)
      if ctx.req:path() ~= "/resp" then return end
      ctx.resp:set_header("x-seen-status", ctx.resp:status())
      ctx.resp:set_header("x-seen-up", ctx.resp:header("X-Up"))
      ctx.resp:remove_header("x-echo-name")
      ctx.resp:add_header("x-multi", "1")
      ctx.resp:add_header("x-multi", "2")
      ctx.resp:set_status(202)
    end
    """#

    @Test("request reads: method, path, query args, authority, scheme, client address, headers (case-insensitive, multi-value), ids", arguments: [false, true])
    func requestReads(h2: Bool) async throws {
        let scripts = try LuaScripts()
        let path = try scripts.write("api.lua", Self.api)
        try await withLuaGateway(scripts, luaConfig("[ { lua: { script: \(path), config: { greeting: hi } } } ]")) { gw in
            let result = try curl(h2: h2, ["-H", "X-Multi: a", "-H", "x-multi: b", "-H", "X-Request-Id: lua-read-\(h2)",
                                          "\(gw.baseURL)/read?a=1%202&b=two&a=3"])
            #expect(result.status == 200)
            let info = result.json
            #expect(info["method"] as? String == "GET")
            #expect(info["path"] as? String == "/read")
            #expect(info["query"] as? String == "a=1%202&b=two&a=3")
            #expect(info["a"] as? String == "1 2")
            #expect(info["args"] as? [String: String] == ["a": "1 2", "b": "two"])
            #expect(info["authority"] as? String == "127.0.0.1:\(gw.port())")
            #expect(info["scheme"] as? String == "http")
            #expect((info["client"] as? String)?.hasPrefix("127.0.0.1:") == true)
            #expect(info["ip"] as? String == "127.0.0.1")
            #expect(info["multi"] as? String == "a, b")
            #expect(info["values"] as? [String] == ["a", "b"])
            #expect(info["missing"] == nil)
            #expect(info["sni"] == nil)
            #expect(info["id"] as? String == "lua-read-\(h2)")
            #expect(info["listener"] as? String == "test")
            #expect(info["cluster"] as? String == "backend")
            #expect(info["conf"] as? String == "hi")
        }
    }

    @Test("request writes: set/add/remove headers, path and query rewrite, method, cluster choice", arguments: [false, true])
    func requestWrites(h2: Bool) async throws {
        let scripts = try LuaScripts()
        let path = try scripts.write("api.lua", Self.api)
        try await withLuaGateway(scripts, luaConfig("[ { lua: { script: \(path) } } ]")) { gw in
            let result = try curl(h2: h2, ["-H", "X-Remove: gone", "-H", "x-set: old", "\(gw.baseURL)/write?old=1"])
            #expect(result.status == 200)
            let echoed = result.json
            #expect(echoed["name"] as? String == "echo-0")
            #expect(echoed["method"] as? String == "PUT")
            #expect(echoed["path"] as? String == "/rewritten?a=1&b=x%20y")
            let headers = try #require(echoed["headers"] as? [String: Any])
            #expect(headers["x-set"] as? String == "one")
            #expect(headers["x-add"] as? String == "1, 2")
            #expect(headers["x-remove"] == nil)
            let beta = try curl(h2: h2, ["-H", "x-beta: 1", "\(gw.baseURL)/write"])
            #expect(beta.json["name"] as? String == "echo-1")
        }
    }

    @Test("response: status and headers read, set, added and removed in on_response_headers", arguments: [false, true])
    func response(h2: Bool) async throws {
        let scripts = try LuaScripts()
        let path = try scripts.write("api.lua", Self.api)
        try await withLuaGateway(scripts, luaConfig("[ { lua: { script: \(path) } } ]")) { gw in
            let result = try curl(h2: h2, ["\(gw.baseURL)/resp?status=201&header=x-up:abc"])
            #expect(result.status == 202)
            #expect(result.header("x-seen-status") == "201")
            #expect(result.header("x-seen-up") == "abc")
            #expect(result.header("x-echo-name") == nil)
            #expect(result.headerValues("x-multi") == ["1", "2"])
            #expect(result.json["path"] as? String == "/resp?status=201&header=x-up:abc")
        }
    }

    @Test("ctx:respond answers early with status, headers (also repeated) and body; the upstream never sees it", arguments: [false, true])
    func respond(h2: Bool) async throws {
        let scripts = try LuaScripts()
        let path = try scripts.write("api.lua", Self.api)
        try await withLuaGateway(scripts, luaConfig("[ { lua: { script: \(path) } } ]")) { gw in
            let result = try curl(h2: h2, ["\(gw.baseURL)/respond"])
            #expect(result.status == 418)
            #expect(result.body == "teapot\n")
            #expect(result.header("x-a") == "1")
            #expect(result.headerValues("x-list") == ["p", "q"])
            #expect(gw.echoes[0].stats.requests == 0)
            let line = try await gw.accessLogLine(path: "/respond")
            #expect(line["local_reply_filter"] as? String == "lua")
        }
    }

    @Test("ctx.vars is shared by the phases and by two Lua filters of a request, and printed in the access log", arguments: [false, true])
    func vars(h2: Bool) async throws {
        let scripts = try LuaScripts()
        let first = try scripts.write("first.lua", """
            function on_request(ctx) ctx.vars.user = ctx.req:header("x-user"); ctx.vars.n = 41 end
            function on_response_headers(ctx) ctx.resp:set_header("x-user-var", ctx.vars.user .. "/" .. ctx.vars.n) end
            """)
        let second = try scripts.write("second.lua", """
            function on_request(ctx) ctx.vars.n = ctx.vars.n + 1; ctx.req:set_header("x-from-vars", ctx.vars.user) end
            """)
        let yaml = luaConfig("[ { lua: { script: \(first) } }, { lua: { script: \(second) } } ]",
                             accessLog: "access_log: { metadata: [lua.user, lua.n] }")
        try await withLuaGateway(scripts, yaml) { gw in
            let result = try curl(h2: h2, ["-H", "x-user: alice", "\(gw.baseURL)/vars-\(h2)"])
            #expect(result.header("x-user-var") == "alice/42")
            let headers = try #require(result.json["headers"] as? [String: Any])
            #expect(headers["x-from-vars"] as? String == "alice")
            let line = try await gw.accessLogLine(path: "/vars-\(h2)")
            let metadata = try #require(line["metadata"] as? [String: Any])
            #expect(metadata["lua.user"] as? String == "alice")
            #expect(metadata["lua.n"] as? String == "42")
        }
    }

    @Test("gw codecs: base64, hex, sha256, hmac_sha256, JSON round trip with null; gw.now", arguments: [false, true])
    func codecs(h2: Bool) async throws {
        let scripts = try LuaScripts()
        let path = try scripts.write("codecs.lua", #"""
            function on_request(ctx)
              local doc = gw.json.decode('{"a":[1,2.5,"x\\u00e9"],"n":null,"t":true}')
              local bad, err = gw.json.decode("{oops")
              local out = {
                b64 = gw.base64_encode("hello?>"), b64url = gw.base64_encode("hello?>", true),
                unb64 = gw.base64_decode("aGVsbG8/Pg=="), hex = gw.hex_encode("\1\255"), unhex = gw.hex_decode("414243"),
                sha = gw.hex_encode(gw.sha256("abc")),
                hmac = gw.hex_encode(gw.hmac_sha256("key", "The quick brown fox jumps over the lazy dog")),
                a2 = doc.a[2], a3 = doc.a[3], null_kept = doc.n == gw.json.null, t = doc.t, bad = bad == nil and err ~= nil,
                now_ok = math.abs(gw.now() - os.time()) < 5,
              }
              return ctx:respond(200, nil, gw.json.encode(out))
            end
            """#)
        try await withLuaGateway(scripts, luaConfig("[ { lua: { script: \(path) } } ]")) { gw in
            let out = try curl(h2: h2, ["\(gw.baseURL)/"]).json
            #expect(out["b64"] as? String == "aGVsbG8/Pg==")
            #expect(out["b64url"] as? String == "aGVsbG8_Pg")
            #expect(out["unb64"] as? String == "hello?>")
            #expect(out["hex"] as? String == "01ff")
            #expect(out["unhex"] as? String == "ABC")
            #expect(out["sha"] as? String == "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad")
            #expect(out["hmac"] as? String == "f7bc83f430538424b13298e6aa6fb143ef4d59a14946175997479dbc2d1a3cd8")
            #expect(out["a2"] as? Double == 2.5)
            #expect(out["a3"] as? String == "xé")
            #expect(out["null_kept"] as? Bool == true)
            #expect(out["t"] as? Bool == true)
            #expect(out["bad"] as? Bool == true)
            #expect(out["now_ok"] as? Bool == true)
        }
    }

    @Test("gw.log writes a JSON line with the script, level, request id and trace id; gw.sleep waits", arguments: [false, true])
    func logAndSleep(h2: Bool) async throws {
        let scripts = try LuaScripts()
        let path = try scripts.write("log.lua", """
            function on_request(ctx)
              local before = gw.now()
              gw.sleep(100)
              gw.log.warn("slept", math.floor((gw.now() - before) * 1000) >= 90, ctx.req:header("x-tag"))
            end
            """)
        try await withLuaGateway(scripts, luaConfig("[ { lua: { script: \(path) } } ]")) { gw in
            let id = "lua-log-\(h2)-\(UUID().uuidString)"
            let traceID = UUID().uuidString.replacingOccurrences(of: "-", with: "").lowercased()
            let result = try curl(h2: h2, ["-H", "X-Request-Id: \(id)", "-H", "x-tag: t1",
                                           "-H", "traceparent: 00-\(traceID)-00f067aa0ba902b7-01", "\(gw.baseURL)/"])
            #expect(result.status == 200)
            let line = try await LuaLogLines.waitFor([id])
            #expect(line.contains("\"trace_id\":\"\(traceID)\""), "the line carries the request's trace id: \(line)")
            #expect(line.contains("\"level\":\"warn\""))
            #expect(line.contains("\"script\":\"\(path)\""))
            #expect(line.contains("\"message\":\"slept true t1\""))
        }
    }

    @Test("ctx.req:body buffers on demand and set_body sends a new body upstream; over max_bytes is 413", arguments: [false, true])
    func body(h2: Bool) async throws {
        let scripts = try LuaScripts()
        let path = try scripts.write("body.lua", """
            function on_request(ctx)
              local body = ctx.req:body{ max_bytes = 100 }
              ctx.req:set_header("x-body-len", #body)
              if #body > 0 then ctx.req:set_body(string.upper(body) .. "!") end
            end
            """)
        try await withLuaGateway(scripts, luaConfig("[ { lua: { script: \(path) } } ]")) { gw in
            let result = try curl(h2: h2, ["--data-binary", "hello body", "\(gw.baseURL)/b"])
            #expect(result.status == 200)
            #expect(result.json["body"] as? String == "HELLO BODY!")
            let headers = try #require(result.json["headers"] as? [String: Any])
            #expect(headers["x-body-len"] as? String == "10")
            #expect(headers["content-length"] as? String == "11")
            let empty = try curl(h2: h2, ["\(gw.baseURL)/empty"])
            #expect(empty.json["body"] as? String == "")
            let large = try curl(h2: h2, ["--data-binary", String(repeating: "x", count: 500), "\(gw.baseURL)/large"])
            #expect(large.isEarlyReply(413))
            let chunked = try shell("head -c 300 /dev/zero | curl -s \(h2 ? "--http2-prior-knowledge" : "--http1.1") -o /dev/null -w '%{http_code}' -T - '\(gw.baseURL)/chunked'")
            #expect(chunked.stdout == "413")
        }
    }

    @Test("a request without a body runs no body hooks: body() gives \"\" at once; a body still streams past a script that does not read it", arguments: [false, true])
    func bodyHooksOnlyWithABody(h2: Bool) async throws {
        let scripts = try LuaScripts()
        let path = try scripts.write("stream.lua", """
            function on_request(ctx)
              ctx.req:set_header("x-streamed", "yes")
              if ctx.req:path() == "/read" then
                local read = ctx.req["bo" .. "dy"]
                ctx.req:set_header("x-read-bytes", tostring(#read(ctx.req)))
              end
            end
            """)
        try await withLuaGateway(scripts, luaConfig("[ { lua: { script: \(path) } } ]")) { gw in
            let payload = String(repeating: "0123456789", count: 2000)
            let streamed = try curl(h2: h2, ["--data-binary", payload, "\(gw.baseURL)/post"])
            #expect(streamed.status == 200)
            #expect(streamed.json["body"] as? String == payload)
            let headers = try #require(streamed.json["headers"] as? [String: Any])
            #expect(headers["x-streamed"] as? String == "yes")
            // However the script reaches body(), it works: with a body it waits for it, without one it is "".
            let read = try curl(h2: h2, ["--data-binary", "abc", "\(gw.baseURL)/read"])
            #expect((read.json["headers"] as? [String: Any])?["x-read-bytes"] as? String == "3")
            #expect(read.json["body"] as? String == "abc")
            let get = try curl(h2: h2, ["\(gw.baseURL)/read"])
            #expect(get.status == 200)
            #expect((get.json["headers"] as? [String: Any])?["x-read-bytes"] as? String == "0")
        }
    }

    @Test("header values: numbers become text, UTF-8 passes, invalid values raise, set replaces repeated fields in place", arguments: [false, true])
    func headerValues(h2: Bool) async throws {
        let scripts = try LuaScripts()
        let path = try scripts.write("values.lua", #"""
            function on_request(ctx)
              local failures = {}
              for _, bad in ipairs({ "a\r\nb", " lead", "trail\t", "nul\0" }) do
                if not pcall(ctx.req.set_header, ctx.req, "x-bad", bad) then failures[#failures + 1] = "set" end
                if not pcall(ctx.req.add_header, ctx.req, "x-bad", bad) then failures[#failures + 1] = "add" end
              end
              ctx.req:set_header("x-failures", table.concat(failures, ","))
              ctx.req:set_header("x-int", 42)
              ctx.req:set_header("x-float", 1.5)
              ctx.req:set_header("x-utf", "caf\u{e9}")
              ctx.req:set_header("X-Dup", "new")
              ctx.req:set_header("x-read", ctx.req:header("x-int") .. "|" .. ctx.req:header("x-missing-too", "") .. "|" .. tostring(ctx.req:header("x-gone")) .. "|" .. ctx.req:header("x-utf-in"))
            end
            """#)
        try await withLuaGateway(scripts, luaConfig("[ { lua: { script: \(path) } } ]")) { gw in
            let result = try curl(h2: h2, ["-H", "x-dup: 1", "-H", "x-other: o", "-H", "x-dup: 2", "-H", "x-missing-too: m", "-H", "x-utf-in: d\u{e9}j\u{e0}", "\(gw.baseURL)/values"])
            #expect(result.status == 200)
            let headers = try #require(result.json["headers"] as? [String: Any])
            #expect(headers["x-failures"] as? String == "set,add,set,add,set,add,set,add")
            #expect(headers["x-bad"] == nil)
            #expect(headers["x-int"] as? String == "42")
            #expect(headers["x-float"] as? String == "1.5")
            #expect(headers["x-utf"] as? String == "caf\u{e9}")
            #expect(headers["x-dup"] as? String == "new")
            #expect(headers["x-other"] as? String == "o")
            #expect(headers["x-read"] as? String == "42|m|nil|d\u{e9}j\u{e0}")
        }
    }

    @Test("on_response_body sees every chunk with eof and may replace it; the length adapts", arguments: [false, true])
    func responseBody(h2: Bool) async throws {
        let scripts = try LuaScripts()
        let path = try scripts.write("rbody.lua", """
            function on_response_body(ctx, chunk, eof)
              local out = string.gsub(chunk, "x", "yy")
              if eof then out = out .. "<eof>" end
              return out
            end
            """)
        try await withLuaGateway(scripts, luaConfig("[ { lua: { script: \(path) } } ]")) { gw in
            let result = try curl(h2: h2, ["\(gw.baseURL)/?bytes=50000"])
            #expect(result.status == 200)
            let expected = String(repeating: "yy", count: 50000) + "<eof>"
            #expect(result.body.count == expected.count)
            #expect(result.body == expected)
        }
    }

    @Test("ctx:http_call reaches a cluster through the pool and returns status, headers, body; unknown clusters give nil, err", arguments: [false, true])
    func httpCall(h2: Bool) async throws {
        let scripts = try LuaScripts()
        let path = try scripts.write("call.lua", """
            function on_request(ctx)
              if ctx.req:path() == "/fails-at-once" then
                -- The call fails before the first wait: the coroutine still resumes cleanly, on a later tick.
                local none, nerr = ctx:http_call("nope", {})
                return ctx:respond(200, nil, tostring(none) .. " " .. nerr)
              end
              local res, err = ctx:http_call("beta", { method = "POST", path = "/check?status=201&header=x-r:1",
                                                       headers = { ["x-token"] = "t" }, body = "payload", timeout_ms = 2000 })
              local none, nerr = ctx:http_call("nope", { path = "/" })
              local sent = gw.json.decode(res.body)
              ctx:respond(200, nil, gw.json.encode({ status = res.status, header = res.headers["x-r"], echo = res.headers["x-echo-name"],
                method = sent.method, token = sent.headers["x-token"], rid = sent.headers["x-request-id"], body = sent.body,
                none = none == nil, nerr = nerr }))
            end
            """)
        try await withLuaGateway(scripts, luaConfig("[ { lua: { script: \(path) } } ]")) { gw in
            let result = try curl(h2: h2, ["-H", "X-Request-Id: call-\(h2)", "\(gw.baseURL)/"])
            let out = result.json
            #expect(out["status"] as? Int == 201)
            #expect(out["header"] as? String == "1")
            #expect(out["echo"] as? String == "echo-1")
            #expect(out["method"] as? String == "POST")
            #expect(out["token"] as? String == "t")
            #expect(out["rid"] as? String == "call-\(h2)")
            #expect(out["body"] as? String == "payload")
            #expect(out["none"] as? Bool == true)
            #expect((out["nerr"] as? String)?.contains("unknown cluster") == true)
            let atOnce = try curl(h2: h2, ["\(gw.baseURL)/fails-at-once"])
            #expect(atOnce.status == 200)
            #expect(atOnce.body == "nil unknown cluster 'nope'")
        }
    }

    @Test("optional arguments may be left out, not only passed as nil: respond(status), http_call(cluster), set_query()")
    func optionalArguments() async throws {
        let scripts = try LuaScripts()
        let path = try scripts.write("optional.lua", """
            function on_request(ctx)
              local path = ctx.req:path()
              if path == "/respond" then return ctx:respond(403) end
              if path == "/call" then
                local res = ctx:http_call("beta")
                local sent = gw.json.decode(res.body)
                return ctx:respond(200, nil, res.status .. " " .. sent.method .. " " .. sent.path)
              end
              ctx.req:set_query()
            end
            """)
        try await withLuaGateway(scripts, luaConfig("[ { lua: { script: \(path) } } ]")) { gw in
            let denied = try curl(["\(gw.baseURL)/respond"])
            #expect(denied.status == 403)
            #expect(denied.body.isEmpty)
            let call = try curl(["\(gw.baseURL)/call"])
            #expect(call.status == 200)
            #expect(call.body == "200 GET /")
            let cleared = try curl(["\(gw.baseURL)/query?a=1&b=2"])
            #expect(cleared.status == 200)
            #expect(cleared.json["path"] as? String == "/query")
        }
    }

    @Test("on_log runs after the response with the final status, and may still make an async call")
    func onLog() async throws {
        let scripts = try LuaScripts()
        let path = try scripts.write("onlog.lua", """
            function on_log(ctx)
              gw.log.info("done", ctx.resp:status(), ctx.req:path())
              ctx:http_call("beta", { path = "/from-on-log" })
              gw.log.info("after call", ctx.req:path())
            end
            """)
        try await withLuaGateway(scripts, luaConfig("[ { lua: { script: \(path) } } ]")) { gw in
            for h2 in [false, true] {
                let id = "onlog-\(h2)-\(UUID().uuidString)"
                let result = try curl(h2: h2, ["-H", "X-Request-Id: \(id)", "\(gw.baseURL)/logged-\(h2)?status=203"])
                #expect(result.status == 203)
                _ = try await LuaLogLines.waitFor([id, "done 203 /logged-\(h2)"])
                _ = try await LuaLogLines.waitFor([id, "after call /logged-\(h2)"])
            }
            #expect(gw.echoes[1].stats.requests == 2)
        }
    }
}
