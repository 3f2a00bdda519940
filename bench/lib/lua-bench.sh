# bench/lib/lua-bench.sh - what lua.sh and lua-ab.sh share: the Lua script under test, the gateway config
# with a plain and a Lua route to one origin, and that origin. Sourced; expects `work` (a temporary folder).

# The script of issue 5's target: read one header, set two.
write_lua_script() {
  cat > "$work/small.lua" <<'LUA'
function on_request(ctx, conf)
  local user = ctx.req:header("x-user")
  ctx.req:set_header("x-user-seen", user or "anonymous")
  ctx.req:set_header("x-edge", "lua")
end
LUA
}

# gateway_config PORT ORIGIN_PORT -> a config (stdout) with one event loop, /lua through the script, /swift
# through a built-in Swift filter setting the same two fields (what any filter route costs), the rest plain.
gateway_config() {
  cat <<YAML
workers: 1
listeners:
  - name: bench
    address: 127.0.0.1:$1
    routes:
      - match: { path_prefix: /lua }
        cluster: origin
        filters: [ { lua: { script: $work/small.lua } } ]
      - match: { path_prefix: /swift }
        cluster: origin
        filters: [ { headers: { request: { set: { x-user-seen: alice, x-edge: swift } } } } ]
      - match: { path_prefix: / }
        cluster: origin
clusters:
  - name: origin
    endpoints: [ { address: "127.0.0.1:$2" } ]
YAML
}

# start_origin KIND PORT BIN [PREFIX...] -> starts the origin in the background; its PID in `origin`.
#   KIND nginx: one nginx worker answering "hello" from memory, as in run.sh (/lua-check, for smoke tests,
#   also shows the x-user-seen header it got). KIND echo: the gateway's echo backend (BIN echo), which
#   JSON-encodes every request header. PREFIX: a command to run it under (taskset -c 0).
start_origin() {
  local kind="$1" port="$2" bin="$3"; shift 3
  if [ "$kind" = nginx ]; then
    command -v nginx >/dev/null || { echo "missing tool: nginx (apt-get install nginx), or run with ORIGIN=echo" >&2; exit 2; }
    mkdir -p "$work/nginx-tmp"
    cat > "$work/origin.conf" <<NGINX
worker_processes 1;
daemon off;
pid $work/origin.pid;
error_log $work/origin.err warn;
events { worker_connections 4096; }
http {
    access_log off;
    keepalive_requests 100000000;
    keepalive_timeout 300s;
    client_body_temp_path $work/nginx-tmp;
    proxy_temp_path $work/nginx-tmp; fastcgi_temp_path $work/nginx-tmp; uwsgi_temp_path $work/nginx-tmp; scgi_temp_path $work/nginx-tmp;
    server {
        listen 127.0.0.1:$port;
        location / { return 200 "hello"; }
        location = /lua-check { add_header x-user-seen \$http_x_user_seen; return 200 "hello"; }
    }
}
NGINX
    "$@" nginx -p "$work" -e "$work/origin.err" -c "$work/origin.conf" & origin=$!
  else
    "$@" "$bin" echo --port "$port" >/dev/null 2>&1 & origin=$!
  fi
}
