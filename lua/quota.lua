-- Per-user quota with incr: each user (from a header) may make `limit` requests per `window` seconds,
-- counted in a shared dictionary across every event loop of this instance.
--
--   lua: { script: lua/quota.lua, config: { limit: 100, window: 60 } }
schema = {
  header = { type = "string", default = "x-user" },
  limit  = { type = "integer", required = true },
  window = { type = "number", default = 60 },
}

local counters = gw.shared("quota")

function on_request(ctx, conf)
  local user = ctx.req:header(conf.header)
  if not user then return ctx:respond(400, nil, "missing " .. conf.header .. "\n") end
  local window = math.floor(gw.now() / conf.window)
  local used, err = counters:incr(user .. ":" .. window, 1, 0, conf.window)
  if not used then
    gw.log.err("quota counter failed: ", err)
    return                                    -- fail open on a full dictionary
  end
  ctx.vars.quota_remaining = math.max(conf.limit - used, 0)
  if used > conf.limit then
    return ctx:respond(429, { ["retry-after"] = tostring(conf.window) }, "quota exceeded\n")
  end
end

function on_response_headers(ctx, conf)
  ctx.resp:set_header("x-quota-remaining", ctx.vars.quota_remaining)
end
