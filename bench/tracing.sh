#!/usr/bin/env bash
# bench/tracing.sh - what span writing costs per request: two gateways (1 event loop each) in front of the
# same origin, one with `tracing: { sample_rate: 1.0 }` (a SERVER and a CLIENT span line per request, plus
# the access-log line) and one with `sample_rate: 0` (trace context propagated, no span work). Interleaved
# rounds of wrk (HTTP/1.1 keep-alive). The gateways' stdout (access log + spans) goes to /dev/null.
#
# From the project root after `swift build -c release`:   bench/tracing.sh [path/to/portcullis]
# Knobs (env): ROUNDS=3 DUR=5 CONNS=64 PORT=28500 PIN=1 (gateways+origin on CPU 0, wrk on CPU 1)
# Only 127.0.0.1 is targeted; every run is bounded by wrk's -d.
set -u -o pipefail
BIN="${1:-.build/release/portcullis}"
ROUNDS="${ROUNDS:-3}"; DUR="${DUR:-5}"; CONNS="${CONNS:-64}"; PORT="${PORT:-28500}"; PIN="${PIN:-1}"
ORIGIN_PORT=$((PORT + 2))
work="$(mktemp -d)"
server=(); client=()
if [ "$PIN" = 1 ] && command -v taskset >/dev/null; then server=(taskset -c 0); client=(taskset -c 1); fi

for rate in 1.0 0; do
  port=$PORT; [ "$rate" = 0 ] && port=$((PORT + 1))
  cat > "$work/gateway-$rate.yaml" <<YAML
workers: 1
tracing: { sample_rate: $rate }
listeners:
  - name: bench
    address: 127.0.0.1:$port
    routes: [ { match: { path_prefix: / }, cluster: origin } ]
clusters:
  - name: origin
    endpoints: [ { address: "127.0.0.1:$ORIGIN_PORT" } ]
YAML
done

"${server[@]}" "$BIN" echo --port "$ORIGIN_PORT" >/dev/null 2>&1 & origin=$!
"${server[@]}" "$BIN" run --config "$work/gateway-1.0.yaml" >/dev/null 2>"$work/sampled.err" & sampled=$!
"${server[@]}" "$BIN" run --config "$work/gateway-0.yaml" >/dev/null 2>"$work/unsampled.err" & unsampled=$!
trap 'kill $sampled $unsampled $origin 2>/dev/null; rm -rf "$work"' EXIT
for port in $PORT $((PORT + 1)); do
  for _ in $(seq 50); do curl -sf "http://127.0.0.1:$port/" >/dev/null 2>&1 && break; sleep 0.1; done
  curl -sf "http://127.0.0.1:$port/" >/dev/null || { echo "gateway on $port does not answer"; cat "$work"/*.err; exit 1; }
done

rate() { "${client[@]}" wrk -t1 -c"$CONNS" -d"${DUR}s" "http://127.0.0.1:$1/item" | awk '/Requests\/sec/ {print $2}'; }
rate $PORT >/dev/null; rate $((PORT + 1)) >/dev/null    # warm-up
on=(); off=()
for round in $(seq "$ROUNDS"); do
  if [ $((round % 2)) = 1 ]; then on+=("$(rate $PORT)"); off+=("$(rate $((PORT + 1)))"); else off+=("$(rate $((PORT + 1)))"); on+=("$(rate $PORT)"); fi
done
python3 - "${on[*]}" "${off[*]}" <<'PY'
import statistics, sys
on = [float(x) for x in sys.argv[1].split()]
off = [float(x) for x in sys.argv[2].split()]
mon, moff = statistics.median(on), statistics.median(off)
print("| tracing | req/s per round | median | µs per request (1 loop) |")
print("|---|---|---|---|")
print(f"| sample_rate 1.0 | {' / '.join(f'{x:,.0f}' for x in on)} | {mon:,.0f} | {1e6 / mon:.2f} |")
print(f"| sample_rate 0 | {' / '.join(f'{x:,.0f}' for x in off)} | {moff:,.0f} | {1e6 / moff:.2f} |")
print(f"\nratio sampled/unsampled: {mon / moff:.3f}; spans cost ≈ {1e6 / mon - 1e6 / moff:.2f} µs per request")
PY
