-- A call-out to an auth service with http_call: the request's Authorization goes to the `auth` cluster's
-- /check; a 200 lets the request through with the subject the service returned, anything else is 403.
-- The coroutine waits for the answer while the event loop serves other requests.
--
--   lua: { script: lua/auth_callout.lua, config: { cluster: auth, path: /check } }
schema = {
  cluster    = { type = "string", required = true },
  path       = { type = "string", default = "/check" },
  timeout_ms = { type = "integer", default = 1000 },
}

function on_request(ctx, conf)
  local token = ctx.req:header("authorization")
  if not token then return ctx:respond(401, nil, "missing credentials\n") end
  -- A span of the script's own (with tracing on): the decision, with the call's CLIENT span under it.
  local span = ctx:start_span("auth decision", { attributes = { ["auth.cluster"] = conf.cluster } })
  local res, err = ctx:http_call(conf.cluster, {
    parent = span,
    method = "GET",
    path = conf.path,
    headers = { authorization = token, ["x-original-path"] = ctx.req:path() },
    timeout_ms = conf.timeout_ms,
  })
  if not res then
    gw.log.warn("auth call failed: ", err)
    span:finish(err)
    return ctx:respond(503, nil, "auth unavailable\n")
  end
  span:set_attribute("auth.status", res.status)
  if res.status ~= 200 then
    span:finish("denied")
    return ctx:respond(403, nil, "denied\n")
  end
  span:finish()
  ctx.req:set_header("x-auth-status", tostring(res.status))
  ctx.req:set_header("x-auth-echo", res.headers["x-echo-name"] or "")
end
