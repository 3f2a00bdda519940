#!/usr/bin/env bash
# bench/sticky.sh - what cookie stickiness costs on a small GET: one gateway (1 event loop), three routes
# to the same origin: plain, sticky with a valid cookie (verify: one HMAC-SHA256 per request), and sticky
# without a cookie (issue: a Set-Cookie per response). Interleaved wrk rounds (HTTP/1.1 keep-alive).
#
# From the project root after `swift build -c release`:   bench/sticky.sh [path/to/portcullis]
# Knobs (env): ROUNDS=3 DUR=5 CONNS=64 PORT=28400 PIN=1 (gateway+origin on CPU 0, wrk on CPU 1)
# Only 127.0.0.1 is targeted; every run is bounded by wrk's -d.
set -u -o pipefail
BIN="${1:-.build/release/portcullis}"
ROUNDS="${ROUNDS:-3}"; DUR="${DUR:-5}"; CONNS="${CONNS:-64}"; PORT="${PORT:-28400}"; PIN="${PIN:-1}"
ORIGIN_PORT=$((PORT + 1))
work="$(mktemp -d)"
server=(); client=()
if [ "$PIN" = 1 ] && command -v taskset >/dev/null; then server=(taskset -c 0); client=(taskset -c 1); fi

cat > "$work/gateway.yaml" <<YAML
workers: 1
access_log: { enabled: false }
listeners:
  - name: bench
    address: 127.0.0.1:$PORT
    routes:
      - { match: { path_prefix: /sticky }, cluster: sticky }
      - { match: { path_prefix: / }, cluster: origin }
clusters:
  - name: origin
    endpoints: [ { address: "127.0.0.1:$ORIGIN_PORT" } ]
  - name: sticky
    endpoints: [ { address: "127.0.0.1:$ORIGIN_PORT" } ]
    sticky: { cookie: { name: pc_aff, ttl: 1h }, key: "bench-key-0123456789abcdef-bench" }
YAML

"${server[@]}" "$BIN" echo --port "$ORIGIN_PORT" >/dev/null 2>&1 & origin=$!
"${server[@]}" "$BIN" run --config "$work/gateway.yaml" >/dev/null 2>"$work/gateway.err" & gateway=$!
trap 'kill $gateway $origin 2>/dev/null; rm -rf "$work"' EXIT
for _ in $(seq 50); do curl -sf "http://127.0.0.1:$PORT/plain" >/dev/null 2>&1 && break; sleep 0.1; done
cookie="$(curl -s -D - -o /dev/null "http://127.0.0.1:$PORT/sticky" | tr -d '\r' | awk -F'[ ;]' 'tolower($1)=="set-cookie:" {print $2}')"
[ -n "$cookie" ] || { echo "smoke test failed: no cookie"; cat "$work/gateway.err"; exit 1; }
curl -s -D - -o /dev/null -b "$cookie" "http://127.0.0.1:$PORT/sticky" | grep -qi '^set-cookie' && { echo "a valid cookie was re-issued"; exit 1; }

# Prints "req/s:cpu_us_per_request" — the gateway's CPU time (utime+stime from /proc) per request, which
# other load on the machine disturbs less than the rate does.
cpu_ticks() { awk '{print $14 + $15}' "/proc/$gateway/stat"; }
rate() {
  local before after out
  before="$(cpu_ticks)"
  out="$("${client[@]}" wrk -t1 -c"$CONNS" -d"${DUR}s" "$@")"
  after="$(cpu_ticks)"
  echo "$out" | awk -v ticks="$((after - before))" -v hz="$(getconf CLK_TCK)" '
    / requests in / {requests = $1}
    /Requests\/sec/ {rps = $2}
    END {printf "%s:%.1f\n", rps, ticks / hz * 1e6 / requests}'
}
plain_url="http://127.0.0.1:$PORT/plain"; sticky_url="http://127.0.0.1:$PORT/sticky"
rate "$plain_url" >/dev/null; rate -H "cookie: $cookie" "$sticky_url" >/dev/null    # warm-up
plain=(); valid=(); issue=()
for round in $(seq "$ROUNDS"); do
  plain+=("$(rate "$plain_url")"); valid+=("$(rate -H "cookie: $cookie" "$sticky_url")"); issue+=("$(rate "$sticky_url")")
done
python3 - "${plain[*]}" "${valid[*]}" "${issue[*]}" <<'PY'
import statistics, sys
rows = [("plain", sys.argv[1]), ("sticky, valid cookie (verify)", sys.argv[2]), ("sticky, no cookie (issue Set-Cookie)", sys.argv[3])]
def parse(text): return [tuple(float(v) for v in x.split(":")) for x in text.split()]
base_rate = statistics.median(r for r, _ in parse(rows[0][1]))
base_cpu = statistics.median(c for _, c in parse(rows[0][1]))
print("| route | req/s per round | median req/s | vs plain | gateway CPU µs/req (median) | vs plain |")
print("|---|---|---|---|---|---|")
for name, text in rows:
    values = parse(text)
    rate = statistics.median(r for r, _ in values)
    cpu = statistics.median(c for _, c in values)
    print(f"| {name} | {' / '.join(f'{r:,.0f}' for r, _ in values)} | {rate:,.0f} | {rate / base_rate:.3f} | {cpu:.1f} | +{cpu - base_cpu:.1f} |")
PY
