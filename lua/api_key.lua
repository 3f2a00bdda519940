-- API-key check backed by a shared dictionary: keys live in gw.shared("api_keys") (key -> consumer name),
-- loaded from the config on first use (and shared by every event loop). Unknown or missing keys get 401.
--
--   lua: { script: lua/api_key.lua, config: { keys: { k-123: alice, k-456: bob } } }
schema = {
  header = { type = "string", default = "x-api-key" },
  keys   = { type = "table", required = true },
}

local keys = gw.shared("api_keys")

local function load_keys(conf)
  if keys:get("__loaded") then return end
  for key, consumer in pairs(conf.keys) do keys:set(key, consumer) end
  keys:set("__loaded", true)
end

function on_request(ctx, conf)
  load_keys(conf)
  local key = ctx.req:header(conf.header)
  local consumer = key and key ~= "__loaded" and keys:get(key)
  if not consumer then
    return ctx:respond(401, { ["content-type"] = "application/json", ["www-authenticate"] = "ApiKey" },
                       gw.json.encode({ error = "invalid or missing API key" }))
  end
  ctx.req:remove_header(conf.header)          -- the key stays at the edge
  ctx.req:set_header("x-consumer", consumer)
  ctx.vars.consumer = consumer
end
