#!/usr/bin/env bash
# bench/lua-ab.sh - what the Lua filter adds, for two builds at once: both gateways run side by side (one event
# loop each, same origin, all on CPU 0) and wrk (on CPU 1) takes interleaved rounds against each build's plain
# and Lua routes, so drift in the machine's load hits both builds alike. Prints, per build, the median CPU µs
# per request the Lua route adds over the plain one (per-round differences), and the median per-round gap.
#
#   bench/lua-ab.sh path/to/portcullis-A path/to/portcullis-B
# Knobs (env): ROUNDS=10 DUR=2 CONNS=64 PORT=28300 (uses PORT..PORT+2) ORIGIN=nginx|echo (as in lua.sh).
# Only 127.0.0.1 is targeted.
set -u -o pipefail
A="$1"; B="$2"
ROUNDS="${ROUNDS:-10}"; DUR="${DUR:-2}"; CONNS="${CONNS:-64}"; PORT="${PORT:-28300}"; ORIGIN="${ORIGIN:-nginx}"
ORIGIN_PORT=$((PORT + 2))
work="$(mktemp -d)"
. "$(dirname "$0")/lib/lua-bench.sh"
write_lua_script
gateway_config "$PORT" "$ORIGIN_PORT" > "$work/a.yaml"; gateway_config "$((PORT + 1))" "$ORIGIN_PORT" > "$work/b.yaml"
start_origin "$ORIGIN" "$ORIGIN_PORT" "$A" taskset -c 0
taskset -c 0 "$A" run --config "$work/a.yaml" >/dev/null 2>&1 & ga=$!
taskset -c 0 "$B" run --config "$work/b.yaml" >/dev/null 2>&1 & gb=$!
trap 'kill $ga $gb $origin 2>/dev/null; rm -rf "$work"' EXIT
for port in "$PORT" "$((PORT + 1))"; do
  for _ in $(seq 50); do curl -sf "http://127.0.0.1:$port/plain" >/dev/null 2>&1 && break; sleep 0.1; done
done
cpu() { awk '{print $14 + $15}' "/proc/$1/stat"; }
# rate PID PORT ROUTE -> the gateway's CPU µs per request over one wrk round
rate() {
  local before after requests
  before="$(cpu "$1")"
  requests="$(taskset -c 1 wrk -t1 -c"$CONNS" -d"${DUR}s" -H 'x-user: alice' "http://127.0.0.1:$2$3" | awk '/ requests in /{print $1}')"
  after="$(cpu "$1")"
  awk -v ticks="$((after - before))" -v hz="$(getconf CLK_TCK)" -v n="$requests" 'BEGIN {printf "%.1f", ticks / hz * 1e6 / n}'
}
for port in "$PORT" "$((PORT + 1))"; do for route in /plain /lua; do taskset -c 1 wrk -t1 -c"$CONNS" -d1s "http://127.0.0.1:$port$route" >/dev/null; done; done
rows_a=(); rows_b=()
for round in $(seq "$ROUNDS"); do
  ap="$(rate $ga "$PORT" /plain)"; al="$(rate $ga "$PORT" /lua)"
  bp="$(rate $gb "$((PORT + 1))" /plain)"; bl="$(rate $gb "$((PORT + 1))" /lua)"
  echo "round $round: A plain $ap lua $al | B plain $bp lua $bl"
  rows_a+=("$ap:$al"); rows_b+=("$bp:$bl")
done
python3 - "${rows_a[*]}" "${rows_b[*]}" <<'PY'
import statistics, sys
a, b = ([tuple(map(float, x.split(":"))) for x in arg.split()] for arg in sys.argv[1:3])
for name, rows in (("A", a), ("B", b)):
    print(f"{name}: CPU µs/req plain {statistics.median(r[0] for r in rows):.1f}, lua {statistics.median(r[1] for r in rows):.1f}; "
          f"the Lua filter adds {statistics.median(r[1] - r[0] for r in rows):.1f} (median of per-round differences)")
gap = statistics.median((y[1] - y[0]) - (x[1] - x[0]) for x, y in zip(a, b))
print(f"B's Lua cost minus A's, median of per-round gaps: {gap:+.1f} µs/req")
PY
