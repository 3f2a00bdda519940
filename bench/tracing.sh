#!/usr/bin/env bash
# bench/tracing.sh - what span writing costs per request: two gateways (1 event loop each) in front of the
# same origin, one with `tracing: { sample_rate: 1.0 }` (a SERVER and a CLIENT span line per request, plus
# the access-log line) and one with `sample_rate: 0` (trace context propagated, no span work). Interleaved
# rounds of wrk (HTTP/1.1 keep-alive). The gateways' stdout (access log + spans) goes to /dev/null. Reported:
# each gateway's CPU time per request (all threads, the stdout writer included), which other load on the
# machine disturbs far less than requests per second.
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

# CPU time of a process (all its threads, ns), from the scheduler's accounting: robust to other load on
# the machine, unlike req/s.
cpu_ns() { local total=0; for f in /proc/"$1"/task/*/schedstat; do read -r ns _ < "$f" && total=$((total + ns)); done; echo $total; }
# One wrk run against a gateway: "requests cpu_ns" (gateway CPU spent during the run).
run() {
  local before after requests
  before=$(cpu_ns "$2")
  requests=$("${client[@]}" wrk -t1 -c"$CONNS" -d"${DUR}s" "http://127.0.0.1:$1/item" | awk '/requests in/ {print $1}')
  after=$(cpu_ns "$2")
  echo "$requests $((after - before))"
}
run $PORT $sampled >/dev/null; run $((PORT + 1)) $unsampled >/dev/null    # warm-up
on=(); off=()
for round in $(seq "$ROUNDS"); do
  if [ $((round % 2)) = 1 ]; then on+=("$(run $PORT $sampled)"); off+=("$(run $((PORT + 1)) $unsampled)")
  else off+=("$(run $((PORT + 1)) $unsampled)"); on+=("$(run $PORT $sampled)"); fi
done
python3 - "$(IFS=,; echo "${on[*]}")" "$(IFS=,; echo "${off[*]}")" "$DUR" <<'PY'
import statistics, sys
def parse(text): return [tuple(int(v) for v in pair.split()) for pair in text.split(",")]
on, off, dur = parse(sys.argv[1]), parse(sys.argv[2]), float(sys.argv[3])
def us(runs): return [cpu / 1000 / requests for requests, cpu in runs]
def rates(runs): return [requests / dur for requests, _ in runs]
print("| tracing | gateway CPU µs per request, per round | median | req/s per round (noisy on a shared box) |")
print("|---|---|---|---|")
for name, runs in (("sample_rate 1.0 (2 span lines + access line)", on), ("sample_rate 0 (access line only)", off)):
    print(f"| {name} | {' / '.join(f'{x:.1f}' for x in us(runs))} | {statistics.median(us(runs)):.1f} | {' / '.join(f'{x:,.0f}' for x in rates(runs))} |")
delta = statistics.median(us(on)) - statistics.median(us(off))
print(f"\nspans cost ≈ {delta:.1f} µs of gateway CPU per request ({delta / statistics.median(us(off)) * 100:+.1f} %)")
PY
