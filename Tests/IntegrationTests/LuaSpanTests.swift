import Foundation
import Testing

/// `ctx:start_span`: a Lua script's own spans, children of the request's server span, read back from the
/// span lines field by field (helpers from `FilterSpanTests`).
@Suite("Lua ctx:start_span", .serialized)
struct LuaSpanTests {
    static let script = """
        function on_request(ctx)
          local span = ctx:start_span("quota lookup", { kind = "client", attributes = { ["db.system"] = "redis", retries = 2, cached = false } })
          span:set_attribute("user", ctx.req:header("x-user") or "none")
          local recording = span:is_recording()
          local parent = span:traceparent()
          span:finish()
          span:finish("too late: a finished span stays finished")
          span:set_attribute("ignored", "after finish")
          local failed = ctx:start_span("policy")
          failed:finish("policy said no")
          ctx:start_span("forgotten")
          if ctx.req:header("x-keep") then kept = span end
          return ctx:respond(200, nil, tostring(parent) .. " " .. tostring(recording))
        end
        """

    @Test("spans under the server span, with kind, attributes and status; an unfinished one ends with the phase; unsampled: none written, the trace still usable")
    func spans() async throws {
        let scripts = try LuaScripts()
        let path = try scripts.write("spans.lua", Self.script)
        try await withLuaGateway(scripts, luaConfig("[ { lua: { script: \(path) } } ]") + "\ntracing: { sample_rate: 1.0 }") { gw in
            let caller = FilterSpanTests.traceparent(40)
            let result = try curl(["-H", "traceparent: \(caller.header)", "-H", "x-user: alice", "\(gw.baseURL)/s"])
            #expect(result.status == 200)
            let (server, children) = try await FilterSpanTests.spans(gw, trace: caller.traceID, atLeast: 4)
            #expect(children.count == 3, "the script's three spans and nothing else (it answered itself): \(children)")
            for child in children { try FilterSpanTests.expectChild(child, of: server) }

            let lookup = try #require(children.first { $0["name"] as? String == "quota lookup" })
            #expect(lookup["kind"] as? String == "CLIENT")
            #expect(FilterSpanTests.status(lookup) == "OK", "the second finish changed nothing")
            let attributes = FilterSpanTests.attributes(lookup)
            #expect(attributes["db.system"] as? String == "redis")
            #expect(attributes["retries"] as? Int == 2)
            #expect(attributes["cached"] as? Bool == false)
            #expect(attributes["user"] as? String == "alice")
            #expect(attributes["ignored"] == nil)

            let policy = try #require(children.first { $0["name"] as? String == "policy" })
            #expect(policy["kind"] as? String == "INTERNAL")
            #expect(FilterSpanTests.status(policy) == "ERROR")
            #expect((policy["status"] as? [String: Any])?["message"] as? String == "policy said no")

            let forgotten = try #require(children.first { $0["name"] as? String == "forgotten" })
            #expect(FilterSpanTests.status(forgotten) == "OK")

            // What span:traceparent() gives: this trace, the span as the parent.
            let parts = result.body.split(separator: " ").map(String.init)
            #expect(parts.count == 2 && parts[1] == "true", "is_recording: \(result.body)")
            let parent = (parts.first ?? "").split(separator: "-").map(String.init)
            #expect(parent.count == 4 && parent[1] == caller.traceID && parent[2] == lookup["span_id"] as? String && parent[3] == "01")

            // Not sampled: the spans are inert and nothing is written, but the trace context is still there.
            let unsampled = FilterSpanTests.traceparent(41, sampled: false)
            let quiet = try curl(["-H", "traceparent: \(unsampled.header)", "\(gw.baseURL)/quiet"])
            #expect(quiet.status == 200)
            let quietParts = quiet.body.split(separator: " ").map(String.init)
            #expect(quietParts.count == 2 && quietParts[1] == "false")
            let quietParent = (quietParts.first ?? "").split(separator: "-").map(String.init)
            #expect(quietParent.count == 4 && quietParent[1] == unsampled.traceID && quietParent[3] == "00")
            _ = try await gw.accessLogLine(path: "/quiet")
            #expect(!(try await gw.accessLog(atLeast: 0, within: 0)).contains { $0["span_id"] != nil && $0["trace_id"] as? String == unsampled.traceID })
        }
    }

    @Test("bad arguments are script errors (500 and a log line); a span kept past its request does nothing; the spans per request are limited")
    func errors() async throws {
        let scripts = try LuaScripts()
        let path = try scripts.write("span-errors.lua", """
            function on_request(ctx)
              local what = ctx.req:header("x-case")
              if what == "kind" then ctx:start_span("s", { kind = "server" })
              elseif what == "float" then ctx:start_span("s"):set_attribute("ratio", 0.5)
              elseif what == "name" then ctx:start_span("")
              elseif what == "keep" then kept = ctx:start_span("kept")
              elseif what == "stale" then if kept then kept:set_attribute("late", "yes"); kept:finish("late") end
              elseif what == "many" then for i = 1, 65 do ctx:start_span("s" .. i) end
              end
              return ctx:respond(200, nil, "ok")
            end
            """)
        try await withLuaGateway(scripts, luaConfig("[ { lua: { script: \(path) } } ]")) { gw in
            for (name, message) in [("kind", "kind must be"), ("float", "must be a string, an integer or a boolean"), ("name", "bad argument #1"),
                                    ("many", "more than 64 spans")] {
                let id = "span-error-\(name)-\(UUID().uuidString)"
                let result = try curl(["-H", "x-case: \(name)", "-H", "X-Request-Id: \(id)", "\(gw.baseURL)/\(name)"])
                #expect(result.status == 500, "\(name)")
                _ = try await LuaLogLines.waitFor([id, message])
            }
            // A span kept in a global past its request: calls on it later do nothing (workers: 2, so a later
            // request may run on the other loop's state, where nothing was kept).
            for _ in 0..<4 { #expect(try curl(["-H", "x-case: keep", "\(gw.baseURL)/keep"]).status == 200) }
            for _ in 0..<4 { #expect(try curl(["-H", "x-case: stale", "\(gw.baseURL)/stale"]).status == 200) }
        }
    }

    @Test("parent = span: an http_call and a nested span go under the script's span instead of the server span; a parent that is not a span is a script error")
    func parentSpan() async throws {
        let scripts = try LuaScripts()
        let path = try scripts.write("span-parent.lua", """
            function on_request(ctx)
              if ctx.req:header("x-bad") then return ctx:http_call("beta", { path = "/x", parent = "not a span" }) end
              local outer = ctx:start_span("authorize")
              local inner = ctx:start_span("cache", { parent = outer })
              inner:finish()
              local res = ctx:http_call("beta", { path = "/check", parent = outer })
              outer:finish()
              local plain = ctx:http_call("beta", { path = "/plain" })
              return ctx:respond(200, nil, tostring(res.status) .. " " .. tostring(plain.status))
            end
            """)
        try await withLuaGateway(scripts, luaConfig("[ { lua: { script: \(path) } } ]") + "\ntracing: { sample_rate: 1.0 }") { gw in
            let caller = FilterSpanTests.traceparent(42)
            let result = try curl(["-H", "traceparent: \(caller.header)", "\(gw.baseURL)/p"])
            #expect(result.status == 200 && result.body == "200 200", "\(result.status) \(result.body)")
            let (server, children) = try await FilterSpanTests.spans(gw, trace: caller.traceID, atLeast: 5)
            let outer = try #require(children.first { $0["name"] as? String == "authorize" })
            try FilterSpanTests.expectChild(outer, of: server)
            let inner = try #require(children.first { $0["name"] as? String == "cache" })
            #expect(inner["parent_span_id"] as? String == outer["span_id"] as? String, "nested span's parent")
            let calls = children.filter { $0["kind"] as? String == "CLIENT" && $0["name"] as? String == "GET" }
            let underOuter = try #require(calls.first { FilterSpanTests.attributes($0)["url.path"] as? String == "/check" })
            #expect(underOuter["parent_span_id"] as? String == outer["span_id"] as? String, "the call made under the span")
            let plain = try #require(calls.first { FilterSpanTests.attributes($0)["url.path"] as? String == "/plain" })
            try FilterSpanTests.expectChild(plain, of: server)

            let id = "span-parent-bad-\(UUID().uuidString)"
            #expect(try curl(["-H", "x-bad: 1", "-H", "X-Request-Id: \(id)", "\(gw.baseURL)/bad"]).status == 500)
            _ = try await LuaLogLines.waitFor([id, "parent must be a span"])
        }
    }
}
