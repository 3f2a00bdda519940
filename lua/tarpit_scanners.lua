-- Hands clients that probe for well-known admin paths to the tarpit (put a `tarpit` filter after this one):
--   filters:
--     - lua: { script: lua/tarpit_scanners.lua }
--     - tarpit: { match: { requested: true }, delay: 2s, drip: { bytes: 1, interval: 200ms } }
local probes = { "/wp-admin", "/.env", "/phpmyadmin", "/.git/" }

function on_request(ctx, conf)
  local path = ctx.req:path()
  for _, prefix in ipairs(probes) do
    if path:sub(1, #prefix) == prefix then
      ctx:tarpit()
      return
    end
  end
end
