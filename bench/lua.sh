#!/usr/bin/env bash
# bench/lua.sh - what the Lua filter costs: one gateway (1 event loop), two routes to the same origin, one
# plain and one with a small Lua filter that reads a header and sets two (the issue's target: >= 0.9x).
# Interleaved rounds of wrk (HTTP/1.1 keep-alive, -c64) against each route; prints req/s and the ratio.
#
# From the project root after `swift build -c release`:   bench/lua.sh [path/to/portcullis]
# Knobs (env): ROUNDS=3 DUR=5 CONNS=64 PORT=28300 PIN=1 (gateway+origin on CPU 0, wrk on CPU 1)
# Only 127.0.0.1 is targeted; every run is bounded by wrk's -d.
set -u -o pipefail
BIN="${1:-.build/release/portcullis}"
ROUNDS="${ROUNDS:-3}"; DUR="${DUR:-5}"; CONNS="${CONNS:-64}"; PORT="${PORT:-28300}"; PIN="${PIN:-1}"
ORIGIN_PORT=$((PORT + 1))
work="$(mktemp -d)"
server=(); client=()
if [ "$PIN" = 1 ] && command -v taskset >/dev/null; then server=(taskset -c 0); client=(taskset -c 1); fi

cat > "$work/small.lua" <<'LUA'
function on_request(ctx, conf)
  local user = ctx.req:header("x-user")
  ctx.req:set_header("x-user-seen", user or "anonymous")
  ctx.req:set_header("x-edge", "lua")
end
LUA
cat > "$work/gateway.yaml" <<YAML
workers: 1
listeners:
  - name: bench
    address: 127.0.0.1:$PORT
    routes:
      - match: { path_prefix: /lua }
        cluster: origin
        filters: [ { lua: { script: $work/small.lua } } ]
      - match: { path_prefix: / }
        cluster: origin
clusters:
  - name: origin
    endpoints: [ { address: "127.0.0.1:$ORIGIN_PORT" } ]
YAML

"${server[@]}" "$BIN" echo --port "$ORIGIN_PORT" >/dev/null 2>&1 & origin=$!
"${server[@]}" "$BIN" run --config "$work/gateway.yaml" >/dev/null 2>"$work/gateway.err" & gateway=$!
trap 'kill $gateway $origin 2>/dev/null; rm -rf "$work"' EXIT
for _ in $(seq 50); do curl -sf "http://127.0.0.1:$PORT/plain" >/dev/null 2>&1 && break; sleep 0.1; done
curl -sf -H 'x-user: alice' "http://127.0.0.1:$PORT/lua" | grep -q '"x-user-seen":"alice"' || { echo "smoke test failed"; cat "$work/gateway.err"; exit 1; }

rate() { "${client[@]}" wrk -t1 -c"$CONNS" -d"${DUR}s" -H 'x-user: alice' "http://127.0.0.1:$PORT$1" | awk '/Requests\/sec/ {print $2}'; }
rate /plain >/dev/null; rate /lua >/dev/null    # warm-up
plain=(); lua=()
for round in $(seq "$ROUNDS"); do
  if [ $((round % 2)) = 1 ]; then plain+=("$(rate /plain)"); lua+=("$(rate /lua)"); else lua+=("$(rate /lua)"); plain+=("$(rate /plain)"); fi
done
python3 - "${plain[*]}" "${lua[*]}" <<'PY'
import statistics, sys
plain = [float(x) for x in sys.argv[1].split()]
lua = [float(x) for x in sys.argv[2].split()]
mp, ml = statistics.median(plain), statistics.median(lua)
print("| route | req/s per round | median |")
print("|---|---|---|")
print(f"| plain | {' / '.join(f'{x:,.0f}' for x in plain)} | {mp:,.0f} |")
print(f"| lua (read 1 header, set 2) | {' / '.join(f'{x:,.0f}' for x in lua)} | {ml:,.0f} |")
print(f"\nratio lua/plain: {ml / mp:.3f}")
PY
