#!/usr/bin/env bash
# bench/lua.sh - what the Lua filter costs: one gateway (1 event loop), two routes to the same origin, one
# plain and one with a small Lua filter that reads a header and sets two (the issue's target: >= 0.9x).
# Interleaved rounds of wrk (HTTP/1.1 keep-alive, -c64) against each route; prints req/s, the gateway's CPU
# time per request, and the ratios.
#
# From the project root after `swift build -c release`:   bench/lua.sh [path/to/portcullis]
# Knobs (env): ROUNDS=9 DUR=4 CONNS=64 PORT=28300 PIN=1 (gateway+origin on CPU 0, wrk on CPU 1)
#   (Nine interleaved rounds by default: single rounds on a shared VM vary by more than the effect measured.)
#   SWIFT=1 also measures /swift, a built-in Swift filter setting the same two fields: what a route with any
#   filter costs, so that the Lua filter's own share shows.
#   ORIGIN=nginx (default: one nginx worker answering "hello" from memory, as in run.sh) or ORIGIN=echo (the
#   gateway's own echo backend, which JSON-encodes every request header: the Lua route's two added headers
#   then cost the origin work too, which is not the filter's cost).
# Only 127.0.0.1 is targeted; every run is bounded by wrk's -d.
set -u -o pipefail
BIN="${1:-.build/release/portcullis}"
ROUNDS="${ROUNDS:-9}"; DUR="${DUR:-4}"; CONNS="${CONNS:-64}"; PORT="${PORT:-28300}"; PIN="${PIN:-1}"
ORIGIN="${ORIGIN:-nginx}"
ORIGIN_PORT=$((PORT + 1))
work="$(mktemp -d)"
server=(); client=()
if [ "$PIN" = 1 ] && command -v taskset >/dev/null; then server=(taskset -c 0); client=(taskset -c 1); fi

. "$(dirname "$0")/lib/lua-bench.sh"
write_lua_script
gateway_config "$PORT" "$ORIGIN_PORT" > "$work/gateway.yaml"
start_origin "$ORIGIN" "$ORIGIN_PORT" "$BIN" "${server[@]}"
"${server[@]}" "$BIN" run --config "$work/gateway.yaml" >/dev/null 2>"$work/gateway.err" & gateway=$!
trap 'kill $gateway $origin 2>/dev/null; rm -rf "$work"' EXIT
for _ in $(seq 50); do curl -sf "http://127.0.0.1:$PORT/plain" >/dev/null 2>&1 && break; sleep 0.1; done
# The smoke test checks that the filter ran: the origin shows the header it set.
if [ "$ORIGIN" = echo ]; then
  curl -sf -H 'x-user: alice' "http://127.0.0.1:$PORT/lua" | grep -q '"x-user-seen":"alice"' || { echo "smoke test failed"; cat "$work/gateway.err"; exit 1; }
else
  curl -sf -D - -o /dev/null -H 'x-user: alice' "http://127.0.0.1:$PORT/lua-check" | grep -qi '^x-user-seen: alice' || { echo "smoke test failed"; cat "$work/gateway.err"; exit 1; }
fi

# Prints "req/s:cpu_us_per_request": the gateway's CPU time (utime+stime from /proc) per request, which
# other load on the machine disturbs less than the rate does.
cpu_ticks() { awk '{print $14 + $15}' "/proc/$gateway/stat"; }
rate() {
  local before after out
  before="$(cpu_ticks)"
  out="$("${client[@]}" wrk -t1 -c"$CONNS" -d"${DUR}s" -H 'x-user: alice' "http://127.0.0.1:$PORT$1")"
  after="$(cpu_ticks)"
  echo "$out" | awk -v ticks="$((after - before))" -v hz="$(getconf CLK_TCK)" '
    / requests in / {requests = $1}
    /Requests\/sec/ {rps = $2}
    END {printf "%s:%.1f\n", rps, ticks / hz * 1e6 / requests}'
}
rate /plain >/dev/null; rate /lua >/dev/null    # warm-up
plain=(); lua=(); swift=()
for round in $(seq "$ROUNDS"); do
  if [ $((round % 2)) = 1 ]; then plain+=("$(rate /plain)"); lua+=("$(rate /lua)"); else lua+=("$(rate /lua)"); plain+=("$(rate /plain)"); fi
  if [ "${SWIFT:-0}" = 1 ]; then swift+=("$(rate /swift)"); fi
done
python3 - "${plain[*]}" "${lua[*]}" "${swift[*]:-}" <<'PY'
import statistics, sys
plain = [tuple(map(float, x.split(":"))) for x in sys.argv[1].split()]
lua = [tuple(map(float, x.split(":"))) for x in sys.argv[2].split()]
swift = [tuple(map(float, x.split(":"))) for x in sys.argv[3].split()]
def med(rows, i): return statistics.median(r[i] for r in rows)
print("| route | req/s per round | median req/s | median gateway CPU µs/req |")
print("|---|---|---|---|")
print(f"| plain | {' / '.join(f'{r[0]:,.0f}' for r in plain)} | {med(plain, 0):,.0f} | {med(plain, 1):.1f} |")
print(f"| lua (read 1 header, set 2) | {' / '.join(f'{r[0]:,.0f}' for r in lua)} | {med(lua, 0):,.0f} | {med(lua, 1):.1f} |")
pairs = statistics.median(l[0] / p[0] for p, l in zip(plain, lua))
added = statistics.median(l[1] - p[1] for p, l in zip(plain, lua))
print(f"\nratio lua/plain: medians {med(lua, 0) / med(plain, 0):.3f}, per-round pairs {pairs:.3f}; "
      f"CPU per request {med(plain, 1) / med(lua, 1):.3f} (plain/lua)")
print(f"CPU µs per request the Lua filter adds: {added:.1f} (median of the per-round differences)")
if swift:
    swift_pairs = statistics.median(w[0] / p[0] for p, w in zip(plain, swift))
    swift_added = statistics.median(w[1] - p[1] for p, w in zip(plain, swift))
    print(f"swift headers filter (same two fields): ratio {med(swift, 0) / med(plain, 0):.3f} by medians, {swift_pairs:.3f} by pairs; "
          f"adds {swift_added:.1f} µs per request")
PY
