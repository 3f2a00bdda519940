#!/usr/bin/env bash
# scripts/run-demo.sh - the demo behind `make run`.
# Starts two built-in echo backends (127.0.0.1:9001 "echo-1", 127.0.0.1:9002 "echo-2"), then the gateway on
# config/portcullis.yaml. The gateway's output stays on this terminal and the script waits for it; Ctrl-C,
# SIGTERM to this script, or the gateway exiting stops the gateway and exactly the backends started here.
# Env: PORTCULLIS_BIN (default .build/release/portcullis), CONFIG (default config/portcullis.yaml).
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
BIN="${PORTCULLIS_BIN:-$ROOT/.build/release/portcullis}"
CONFIG="${CONFIG:-config/portcullis.yaml}"

[ -x "$BIN" ] || { echo "run-demo: $BIN not found; build first (make build)" >&2; exit 1; }
[ -f "$CONFIG" ] || { echo "run-demo: config $CONFIG not found" >&2; exit 1; }

port_open() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }
for p in 9001 9002 8080 8443; do
  if port_open "$p"; then echo "run-demo: port $p is already in use on 127.0.0.1; stop whatever holds it" >&2; exit 1; fi
done

PIDS=()
cleanup() {
  trap - EXIT INT TERM
  local p
  for p in "${PIDS[@]}"; do kill -TERM "$p" 2>/dev/null || true; done
  for p in "${PIDS[@]}"; do wait "$p" 2>/dev/null || true; done
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

"$BIN" echo --port 9001 --name echo-1 --host 127.0.0.1 & PIDS+=("$!")
"$BIN" echo --port 9002 --name echo-2 --host 127.0.0.1 & PIDS+=("$!")

# wait (bounded, 10 s) until both backends accept connections
for _ in $(seq 1 100); do
  port_open 9001 && port_open 9002 && break
  for p in "${PIDS[@]}"; do kill -0 "$p" 2>/dev/null || { echo "run-demo: an echo backend exited early" >&2; exit 1; }; done
  sleep 0.1
done
port_open 9001 && port_open 9002 || { echo "run-demo: echo backends did not come up within 10 s" >&2; exit 1; }
echo "run-demo: echo backends up on 127.0.0.1:9001 and :9002 (pids ${PIDS[*]})"
echo "run-demo: starting gateway: $BIN run --config $CONFIG   (try: curl localhost:8080/ ; Ctrl-C stops everything)"

"$BIN" run --config "$CONFIG" & GW=$!
PIDS+=("$GW")
rc=0
wait "$GW" || rc=$?
exit "$rc"
