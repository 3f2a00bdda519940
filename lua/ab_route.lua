-- Header-based A/B routing: requests carrying the configured header (with the configured value) go to
-- the beta cluster; the decision is kept in ctx.vars for the access log (metadata `lua.variant`).
--
--   lua: { script: lua/ab_route.lua, config: { header: x-beta, value: "1", cluster: beta } }
schema = {
  header  = { type = "string", required = true },
  value   = { type = "string", default = "1" },
  cluster = { type = "string", required = true },
}

function on_request(ctx, conf)
  if ctx.req:header(conf.header) == conf.value then
    ctx:set_cluster(conf.cluster)
    ctx.vars.variant = "b"
  else
    ctx.vars.variant = "a"
  end
end

function on_response_headers(ctx, conf)
  ctx.resp:set_header("x-variant", ctx.vars.variant)
end
