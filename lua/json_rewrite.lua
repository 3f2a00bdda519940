-- A JSON body rewrite: reads the request body (up to max_bytes, 413 beyond), adds fields, drops others,
-- and sends the rewritten JSON upstream with its new length. Non-JSON bodies get 400.
--
--   lua: { script: lua/json_rewrite.lua, config: { max_bytes: 65536, drop: [password] } }
schema = {
  max_bytes = { type = "integer", default = 65536 },
  drop      = { type = "table", default = {} },
}

function on_request(ctx, conf)
  local method = ctx.req:method()
  if method ~= "POST" and method ~= "PUT" then return end
  local body = ctx.req:body{ max_bytes = conf.max_bytes }
  local doc, err = gw.json.decode(body)
  if type(doc) ~= "table" then
    return ctx:respond(400, { ["content-type"] = "application/json" }, gw.json.encode({ error = err or "expected a JSON object" }))
  end
  for _, field in ipairs(conf.drop) do doc[field] = nil end
  doc.received_at = math.floor(gw.now())
  doc.request_id = ctx:request_id()
  ctx.req:set_body(gw.json.encode(doc))
  ctx.req:set_header("content-type", "application/json")
end
