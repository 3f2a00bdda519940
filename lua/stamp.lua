-- Request-id and response-header stamping: the upstream sees who called and when; the client sees the
-- request id, the time spent and the gateway's name. Uses lib/stamp_util.lua through require.
--
--   lua: { script: lua/stamp.lua, config: { server: edge-1 } }
local util = require("stamp_util")

schema = {
  server = { type = "string", default = "portcullis" },
}

function on_request(ctx, conf)
  ctx.vars.started = gw.now()
  ctx.req:set_header("x-request-start", util.millis(ctx.vars.started))
  ctx.req:set_header("x-client-ip", ctx.req:client_ip())
end

function on_response_headers(ctx, conf)
  ctx.resp:set_header("x-request-id", ctx:request_id())
  ctx.resp:set_header("server", conf.server)
  ctx.resp:set_header("x-upstream-time-ms", util.millis(gw.now() - ctx.vars.started))
end
