-- Consistent hashing on a value the script chooses: every request of a tenant reaches the same endpoint
-- of a ring_hash or maglev cluster (and the same sticky endpoint with `sticky: { header: ... }`), on
-- every event loop and every gateway instance. The key replaces the cluster's `hash_on`; with
-- `hash_on: filter` the cluster hashes only what a filter set.
--
--   lua: { script: lua/hash_key.lua, config: { header: x-tenant, fallback_query: tenant } }
schema = {
  header         = { type = "string", default = "x-tenant" },
  fallback_query = { type = "string" },
}

function on_request(ctx, conf)
  local tenant = ctx.req:header(conf.header)
  if not tenant and conf.fallback_query then
    tenant = ctx.req:query_arg(conf.fallback_query)
  end
  if tenant then
    ctx:set_hash_key(tenant)
    ctx.vars.tenant = tenant
  end
end
