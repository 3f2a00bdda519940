#!/usr/bin/env bash
# bench/filters.sh - what a typical filter stack costs (issue 4's target: >= 0.8x the same gateway without
# filters): one gateway (1 event loop), two routes to the same origin, one plain and one with JWT RS256
# auth + a local rate limit keyed by the token's subject + header routing. Interleaved rounds of wrk
# (HTTP/1.1 keep-alive, -c64, every request carrying the same valid token) against each route.
#
# From the project root after `swift build -c release`:   bench/filters.sh [path/to/portcullis]
# Knobs (env): ROUNDS=3 DUR=5 CONNS=64 PORT=28400 PIN=1 (gateway+origin on CPU 0, wrk on CPU 1)
# Only 127.0.0.1 is targeted; every run is bounded by wrk's -d. The RSA key is generated in a temp folder.
set -u -o pipefail
BIN="${1:-.build/release/portcullis}"
ROUNDS="${ROUNDS:-3}"; DUR="${DUR:-5}"; CONNS="${CONNS:-64}"; PORT="${PORT:-28400}"; PIN="${PIN:-1}"
ORIGIN_PORT=$((PORT + 1))
work="$(mktemp -d)"
server=(); client=()
if [ "$PIN" = 1 ] && command -v taskset >/dev/null; then server=(taskset -c 0); client=(taskset -c 1); fi

openssl genrsa -out "$work/key.pem" 2048 2>/dev/null
modulus=$(openssl rsa -in "$work/key.pem" -noout -modulus | cut -d= -f2)
TOKEN=$(python3 - "$modulus" "$work/key.pem" "$work/jwks.json" <<'PY'
import base64, json, subprocess, sys, time
b64 = lambda b: base64.urlsafe_b64encode(b).rstrip(b"=").decode()
modulus, key, jwks = sys.argv[1], sys.argv[2], sys.argv[3]
json.dump({"keys": [{"kty": "RSA", "kid": "bench", "alg": "RS256", "n": b64(bytes.fromhex(modulus)), "e": "AQAB"}]}, open(jwks, "w"))
header = b64(json.dumps({"alg": "RS256", "kid": "bench", "typ": "JWT"}).encode())
claims = b64(json.dumps({"sub": "alice", "iss": "https://bench.example", "aud": "api", "exp": int(time.time()) + 3600}).encode())
signature = subprocess.run(["openssl", "dgst", "-sha256", "-sign", key], input=f"{header}.{claims}".encode(), capture_output=True).stdout
print(f"{header}.{claims}.{b64(signature)}")
PY
)
cat > "$work/gateway.yaml" <<YAML
workers: 1
listeners:
  - name: bench
    address: 127.0.0.1:$PORT
    routes:
      - match: { path_prefix: /filtered }
        cluster: origin
        filters:
          - auth: { jwt: { jwks_file: $work/jwks.json, algorithms: [RS256], issuer: https://bench.example, audience: api } }
          - rate_limit: { key: { metadata: auth.subject }, rate: 1000000/s, burst: 1000000 }
          - route_by: { rules: [ { match: { header: x-beta, exact: "1" }, cluster: beta } ] }
      - match: { path_prefix: / }
        cluster: origin
clusters:
  - name: origin
    endpoints: [ { address: "127.0.0.1:$ORIGIN_PORT" } ]
  - name: beta
    endpoints: [ { address: "127.0.0.1:$ORIGIN_PORT" } ]
YAML

"${server[@]}" "$BIN" echo --port "$ORIGIN_PORT" >/dev/null 2>&1 & origin=$!
"${server[@]}" "$BIN" run --config "$work/gateway.yaml" >/dev/null 2>"$work/gateway.err" & gateway=$!
trap 'kill $gateway $origin 2>/dev/null; rm -rf "$work"' EXIT
for _ in $(seq 50); do curl -sf "http://127.0.0.1:$PORT/plain" >/dev/null 2>&1 && break; sleep 0.1; done
code=$(curl -s -o /dev/null -w '%{http_code}' -H "authorization: Bearer $TOKEN" "http://127.0.0.1:$PORT/filtered")
denied=$(curl -s -o /dev/null -w '%{http_code}' "http://127.0.0.1:$PORT/filtered")
[ "$code" = 200 ] && [ "$denied" = 401 ] || { echo "smoke test failed: $code/$denied"; cat "$work/gateway.err"; exit 1; }

rate() { "${client[@]}" wrk -t1 -c"$CONNS" -d"${DUR}s" -H "authorization: Bearer $TOKEN" "http://127.0.0.1:$PORT$1" | awk '/Requests\/sec/ {print $2}'; }
rate /plain >/dev/null; rate /filtered >/dev/null    # warm-up
plain=(); filtered=()
for round in $(seq "$ROUNDS"); do
  if [ $((round % 2)) = 1 ]; then plain+=("$(rate /plain)"); filtered+=("$(rate /filtered)"); else filtered+=("$(rate /filtered)"); plain+=("$(rate /plain)"); fi
done
python3 - "${plain[*]}" "${filtered[*]}" <<'PY'
import statistics, sys
plain = [float(x) for x in sys.argv[1].split()]
filtered = [float(x) for x in sys.argv[2].split()]
mp, mf = statistics.median(plain), statistics.median(filtered)
print("| route | req/s per round | median |")
print("|---|---|---|")
print(f"| plain | {' / '.join(f'{x:,.0f}' for x in plain)} | {mp:,.0f} |")
print(f"| auth (JWT RS256) + rate_limit + route_by | {' / '.join(f'{x:,.0f}' for x in filtered)} | {mf:,.0f} |")
print(f"\nratio filtered/plain: {mf / mp:.3f}")
PY
