#!/usr/bin/env bash
# bench/run.sh - interleaved side-by-side benchmark: direct origin vs nginx vs haproxy vs h2o [vs gateway].
#
# GATEWAY HOOK (contract). Set GATEWAY_CMD to a shell command that runs the Swift gateway in the
# FOREGROUND (no daemonizing); it is run with `bash -c` from this folder, inside its own process group,
# pinned like the peers (PIN=1: CPU 0). Before running it, run.sh exports:
#   GW_HTTP_PORT  plain HTTP/1.1 port on 127.0.0.1        GW_TLS_PORT  TLS port, ALPN must offer h2 and http/1.1
#   GW_BACKEND    127.0.0.1:PORT, plain HTTP/1.1 origin; proxy every path and method (GET /, GET /16k, POST /post)
#   GW_CERT GW_KEY  PEM self-signed cert/key (ECDSA P-256 unless CERT_KEY=rsa);  GW_CERT_BUNDLE  cert+key in one PEM
#   GW_WORKDIR    scratch folder;  GW_CONFIG  conf/gateway.conf.tmpl rendered with the same values ({{HTTP_PORT}}...)
# It must listen on both ports within 30 s, use 1 worker thread/event loop, and exit on SIGTERM (sent to its group).
#   GW_PLAIN_ONLY=1 (the default for now: the gateway has no TLS yet): for the gateway target only, GW_CONFIG is
#   rendered from conf/gateway-plain.conf.tmpl (plain listener only), run.sh waits only for GW_HTTP_PORT, skips the
#   TLS smoke check, and skips the TLS scenarios b and c (their table rows say n/a). GW_PLAIN_ONLY=0: full contract.
#   GW_ACCESS_LOG=1: the gateway writes its access log (to $WORK/gateway.stdout); by default it runs without one,
#   like the peers (nginx: access_log off; haproxy: no log directive).
#   GW_NO_H2=1 (with GW_PLAIN_ONLY=0): the gateway's TLS listener offers only http/1.1 (conf/gateway-h1tls.conf.tmpl);
#   its TLS smoke check expects HTTP/1.1 and scenario b (h2) is n/a for it.
#   Easiest: `make bench` from the project root. By hand, from the project root after `swift build -c release`:
#     GATEWAY_CMD="exec $PWD/.build/release/portcullis run --config \"\$GW_CONFIG\"" bench/run.sh
#   Harness check without the Swift gateway (from bench/): GATEWAY_CMD='exec conf/standin-gateway.sh' ./run.sh
#
# Knobs (env): ROUNDS=5 DUR=5 (seconds per run) SCENARIOS="a b c d e" TARGETS="direct nginx haproxy h2o"
#   PIN=1 (taskset: server side = proxy + origin on CPU 0, load generator alone on CPU 1; PIN=0: no pinning)
#   MEM=1 MEM_CONNS=10000 (idle keep-alive RSS figure; MEM=0 skips)  PORT_BASE=28100  OUT=<results folder>
#   CERT_KEY=ec (ECDSA P-256 cert; CERT_KEY=rsa: RSA-2048)  C_CONNS=8 (scenario c concurrency)
# Scenarios: a=HTTP/1.1 keep-alive GET 5 B (wrk -c64)   b=HTTP/2 over TLS (h2load -c16 -m32)
#   c=HTTP/1.1 over TLS, new connection per request (hey -disable-keepalive -c8)
#   d=HTTP/1.1 keep-alive GET 16 KiB (wrk -c64)        e=HTTP/1.1 keep-alive POST 64 KiB (wrk -c64)
# Order: smoke test (GET /, /16k, POST /post; h2 via ALPN) -> memory phase -> each scenario: 1 s warm-up per
#   target, then ROUNDS interleaved rounds, each round's start rotated (A B C, B C A, ...). The memory phase also
#   preconditions the proxies; with MEM=0 h2o stays "cold" and its 16 KiB figure drops ~35% (see RESULTS.md).
# Output: markdown tables on stdout; raw tool output, runs.tsv, mem.tsv, loadavg.log under $OUT.
# Needs: apt-get install wrk nghttp2-client hey nginx haproxy h2o curl openssl python3 (Debian 12).
# Only 127.0.0.1 is ever targeted; every load is bounded by -d/-D/-z and by `timeout`.
set -u -o pipefail

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
cd "$HERE"
ROUNDS="${ROUNDS:-5}"; DUR="${DUR:-5}"; SCENARIOS="${SCENARIOS:-a b c d e}"; PIN="${PIN:-1}"
MEM="${MEM:-1}"; MEM_CONNS="${MEM_CONNS:-10000}"; PORT_BASE="${PORT_BASE:-28100}"
C_CONNS="${C_CONNS:-8}"; GW_PLAIN_ONLY="${GW_PLAIN_ONLY:-1}"
TARGETS="${TARGETS:-direct nginx haproxy h2o}"
[ -n "${GATEWAY_CMD:-}" ] && [[ " $TARGETS " != *" gateway "* ]] && TARGETS="$TARGETS gateway"
SUT_CPU=0; GEN_CPU=1; HZ=$(getconf CLK_TCK)

for t in wrk h2load hey nginx haproxy h2o curl openssl python3 taskset; do
  command -v "$t" >/dev/null || { echo "missing tool: $t (apt-get install wrk nghttp2-client hey nginx haproxy h2o curl)" >&2; exit 2; }
done

WORK="$(mktemp -d "${TMPDIR:-/tmp}/bench.XXXXXX")"; chmod 755 "$WORK"
OUT="${OUT:-$WORK/out}"; mkdir -p "$OUT/raw" "$WORK/www" "$WORK/nginx-tmp" "$WORK/backend-tmp"
ulimit -n 65536 2>/dev/null || ulimit -n "$(ulimit -Hn)"

# ---- ports -------------------------------------------------------------------------------------
declare -A HP TP                          # plain / TLS port per target
HP[direct]=$PORT_BASE;            TP[direct]=$((PORT_BASE+1))
HP[nginx]=$((PORT_BASE+10));      TP[nginx]=$((PORT_BASE+11))
HP[haproxy]=$((PORT_BASE+20));    TP[haproxy]=$((PORT_BASE+21))
HP[h2o]=$((PORT_BASE+30));        TP[h2o]=$((PORT_BASE+31))
HP[gateway]=$((PORT_BASE+40));    TP[gateway]=$((PORT_BASE+41))
port_open() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }
plain_only() { [ "$1" = gateway ] && [ "$GW_PLAIN_ONLY" = 1 ]; }   # target without TLS (GW_PLAIN_ONLY=1)
no_h2() { [ "$1" = gateway ] && [ "${GW_NO_H2:-0}" = 1 ]; }           # TLS with HTTP/1.1 only (GW_NO_H2=1)
ports_of() { if plain_only "$1"; then echo "${HP[$1]}"; else echo "${HP[$1]} ${TP[$1]}"; fi; }
for t in $TARGETS; do for p in $(ports_of "$t"); do
  port_open "$p" && { echo "port $p already in use; set PORT_BASE" >&2; exit 2; }; done; done

# ---- cert, body, configs -----------------------------------------------------------------------
CERT="$WORK/cert.pem"; KEY="$WORK/key.pem"; CERT_BUNDLE="$WORK/bundle.pem"
if [ "${CERT_KEY:-ec}" = rsa ]; then KEYOPT=(-newkey rsa:2048); else KEYOPT=(-newkey ec -pkeyopt ec_paramgen_curve:prime256v1); fi
openssl req -x509 "${KEYOPT[@]}" -nodes -days 7 -subj /CN=localhost \
  -addext "subjectAltName=DNS:localhost,IP:127.0.0.1" -keyout "$KEY" -out "$CERT" >/dev/null 2>&1 || exit 2
cat "$CERT" "$KEY" > "$CERT_BUNDLE"; chmod 644 "$KEY" "$CERT_BUNDLE"
head -c 16384 /dev/zero | tr '\0' 'a' > "$WORK/www/16k"

render() { # template target -> rendered file path
  local out="$WORK/$(basename "${1%.tmpl}")"
  sed -e "s|{{WORK}}|$WORK|g" -e "s|{{CERT}}|$CERT|g" -e "s|{{KEY}}|$KEY|g" -e "s|{{CERT_BUNDLE}}|$CERT_BUNDLE|g" \
      -e "s|{{BACKEND_PORT}}|${HP[direct]}|g" -e "s|{{BACKEND_TLS_PORT}}|${TP[direct]}|g" \
      -e "s|{{HTTP_PORT}}|${HP[$2]}|g" -e "s|{{TLS_PORT}}|${TP[$2]}|g" \
      -e "s|{{ACCESS_LOG}}|$( [ "${GW_ACCESS_LOG:-0}" = 1 ] && echo true || echo false )|g" "$1" > "$out"
  echo "$out"
}

# ---- process control (only PIDs we start; each in its own process group) -----------------------
declare -A PID
cleanup() {
  for t in "${!PID[@]}"; do kill -TERM -- "-${PID[$t]}" 2>/dev/null; done
  sleep 1
  for t in "${!PID[@]}"; do kill -KILL -- "-${PID[$t]}" 2>/dev/null; done
  [ -n "${MEMPID:-}" ] && kill -KILL "$MEMPID" 2>/dev/null
}
trap cleanup EXIT; trap 'exit 130' INT TERM
pin() { if [ "$PIN" != 0 ]; then taskset -c "$1" "${@:2}"; else "${@:2}"; fi; }
gen() { pin "$GEN_CPU" timeout -k 5 $((DUR + 30)) "$@"; }
start() { # name cpu cmd...
  local name=$1 cpu=$2; shift 2
  setsid bash -c 'exec "$@"' _ $( [ "$PIN" != 0 ] && echo taskset -c "$cpu" ) "$@" >"$WORK/$name.stdout" 2>&1 &
  PID[$name]=$!
}
wait_ports() { # name ports...
  local name=$1 i; shift
  for i in $(seq 1 300); do
    local ok=1; for p in "$@"; do port_open "$p" || ok=0; done
    [ $ok = 1 ] && return 0
    kill -0 "${PID[$name]}" 2>/dev/null || break
    sleep 0.1
  done
  echo "$name did not come up on ports $*; output:" >&2; cat "$WORK/$name.stdout" "$WORK/$name.err" 2>/dev/null >&2; exit 3
}
grp_ticks() { # summed utime+stime (clock ticks) of every live process in a process group
  local p; for p in $(ps -e -o pgid=,pid= | awk -v g="$1" '$1==g {print $2}'); do
    sed 's/.*) //' "/proc/$p/stat" 2>/dev/null; done | awk '{s+=$12+$13} END {print s+0}'; }
rss_kib() { ps -e -o pgid=,rss= | awk -v g="$1" '$1==g {s+=$2} END {print s+0}'; }

start direct "$SUT_CPU" nginx -p "$WORK" -e "$WORK/backend.err" -c "$(render conf/backend-nginx.conf.tmpl direct)"
wait_ports direct "${HP[direct]}" "${TP[direct]}"
for t in $TARGETS; do
  case $t in
    direct) ;;
    nginx)   start nginx "$SUT_CPU" nginx -p "$WORK" -e "$WORK/nginx.err" -c "$(render conf/nginx.conf.tmpl nginx)" ;;
    haproxy) start haproxy "$SUT_CPU" haproxy -db -f "$(render conf/haproxy.cfg.tmpl haproxy)" ;;
    h2o)     start h2o "$SUT_CPU" h2o -c "$(render conf/h2o.conf.tmpl h2o)" ;;
    gateway)
      export GW_HTTP_PORT=${HP[gateway]} GW_TLS_PORT=${TP[gateway]} GW_BACKEND=127.0.0.1:${HP[direct]} \
             GW_CERT=$CERT GW_KEY=$KEY GW_CERT_BUNDLE=$CERT_BUNDLE GW_WORKDIR=$WORK/gateway
      mkdir -p "$GW_WORKDIR"
      gw_tmpl=conf/gateway.conf.tmpl; plain_only gateway && gw_tmpl=conf/gateway-plain.conf.tmpl
      no_h2 gateway && ! plain_only gateway && gw_tmpl=conf/gateway-h1tls.conf.tmpl
      [ -f "$gw_tmpl" ] && export GW_CONFIG="$(render "$gw_tmpl" gateway)"
      start gateway "$SUT_CPU" bash -c "$GATEWAY_CMD" ;;
    *) echo "unknown target $t" >&2; exit 2 ;;
  esac
done
for t in $TARGETS; do wait_ports "$t" $(ports_of "$t"); done

# smoke test: every target answers the three paths, and h2 is negotiated on TLS
for t in $TARGETS; do
  for path in / /16k; do
    c=$(curl -s -o /dev/null -w '%{http_code}' "http://127.0.0.1:${HP[$t]}$path"); [ "$c" = 200 ] || { echo "$t GET $path -> $c" >&2; exit 3; }
  done
  c=$(head -c 65536 /dev/zero | curl -s -o /dev/null -w '%{http_code}' --data-binary @- "http://127.0.0.1:${HP[$t]}/post")
  [ "$c" = 200 ] || { echo "$t POST /post -> $c" >&2; exit 3; }
  plain_only "$t" && { echo "$t: GW_PLAIN_ONLY=1, TLS smoke check skipped" >&2; continue; }
  want=2; no_h2 "$t" && want=1.1
  v=$(curl -sk -o /dev/null -w '%{http_version}' --http2 "https://127.0.0.1:${TP[$t]}/"); [ "$v" = "$want" ] || { echo "$t TLS negotiated HTTP/$v, expected $want" >&2; exit 3; }
done

{ echo "date: $(date -u +%FT%TZ)  host: $(nproc) cpus  PIN=$PIN CERT_KEY=${CERT_KEY:-ec} ROUNDS=$ROUNDS DUR=$DUR SCENARIOS=\"$SCENARIOS\" TARGETS=\"$TARGETS\"$([[ " $TARGETS " == *" gateway "* ]] && echo " GW_PLAIN_ONLY=$GW_PLAIN_ONLY")"
  echo "versions: $(nginx -v 2>&1 | sed 's/.*: //'), $(haproxy -v | head -1 | awk '{print "haproxy/"$3}'), $(h2o --version | head -1 | awk '{print "h2o/"$3}'), wrk $(wrk -v 2>&1 | head -1 | awk '{print $2}'), h2load $(h2load --version | awk '{print $NF}'), $(openssl version | awk '{print $1"/"$2}')"
} | tee "$OUT/meta.txt"
echo "work dir: $WORK" >&2

# ---- memory: RSS idle vs. holding MEM_CONNS idle keep-alive connections ------------------------
if [ "$MEM" = 1 ]; then
  : > "$OUT/mem.tsv"
  for t in $TARGETS; do
    curl -s -o /dev/null "http://127.0.0.1:${HP[$t]}/"; sleep 1
    idle=$(rss_kib "${PID[$t]}")
    pin "$GEN_CPU" timeout -k 5 120 python3 lib/idle_conns.py "${HP[$t]}" "$MEM_CONNS" 4 60 > "$WORK/mem-$t.out" 2>&1 &
    MEMPID=$!
    for i in $(seq 1 900); do grep -q READY "$WORK/mem-$t.out" && break; kill -0 $MEMPID 2>/dev/null || break; sleep 0.1; done
    sleep 1.5
    busy=$(rss_kib "${PID[$t]}")
    read -r opened failed < <(sed -n 's/READY opened=\([0-9]*\) failed=\([0-9]*\)/\1 \2/p' "$WORK/mem-$t.out")
    wait $MEMPID; MEMPID=
    printf '%s\t%s\t%s\t%s\t%s\n' "$t" "$idle" "$busy" "${opened:-0}" "${failed:-?}" | tee -a "$OUT/mem.tsv"
    sleep 2
  done
fi

# ---- throughput / latency rounds, interleaved ---------------------------------------------------
declare -A SNAME=([a]=a-h1-keepalive [b]=b-h2-tls-mux [c]=c-h1-tls-newconn [d]=d-h1-16KiB [e]=e-h1-post64KiB)
skipped() { { plain_only "$2" && [[ "$1" == [bc] ]]; } || { no_h2 "$2" && [[ "$1" == b ]]; }; }   # scenario target -> not applicable
load() { # scenario target outfile dur -> echoes parser kind
  local s=$1 t=$2 f=$3 d=$4 hp=${HP[$2]} tp=${TP[$2]}
  case $s in
    a) gen wrk -t1 -c64 -d"${d}s" --latency "http://127.0.0.1:$hp/" >"$f" 2>&1; echo wrk ;;
    b) gen h2load -t1 -c16 -m32 -D "$d" --warm-up-time=1 --log-file="$f.log" "https://127.0.0.1:$tp/" >"$f" 2>&1
       grep -q 'Application protocol: h2' "$f" || echo "WARN: $t did not negotiate h2" >&2; echo h2load ;;
    c) gen hey -z "${d}s" -c "$C_CONNS" -disable-keepalive -cpus "$([ "$PIN" != 0 ] && echo 1 || nproc)" \
         "https://127.0.0.1:$tp/" >"$f" 2>&1; echo hey ;;
    d) gen wrk -t1 -c64 -d"${d}s" --latency "http://127.0.0.1:$hp/16k" >"$f" 2>&1; echo wrk ;;
    e) gen wrk -t1 -c64 -d"${d}s" --latency -s conf/post64k.lua "http://127.0.0.1:$hp/post" >"$f" 2>&1; echo wrk ;;
  esac
}
read -r -a TA <<< "$TARGETS"; NT=${#TA[@]}
: > "$OUT/runs.tsv"
for s in $SCENARIOS; do
  for t in "${TA[@]}"; do   # warm-up, not recorded
    skipped "$s" "$t" && continue
    load "$s" "$t" "$WORK/warm" 1 >/dev/null
  done
  for r in $(seq 1 "$ROUNDS"); do
    echo "# $(date -u +%T) ${SNAME[$s]} round $r load: $(cut -d' ' -f1-3 /proc/loadavg)" >> "$OUT/loadavg.log"
    for k in $(seq 0 $((NT - 1))); do
      t=${TA[$(( (k + r - 1) % NT ))]}          # rotate the start of each round: A B C, B C A, C A B ...
      f="$OUT/raw/${SNAME[$s]}_r${r}_$t.txt"
      if skipped "$s" "$t"; then   # recorded as n/a; stats.py prints an n/a row
        printf '%s\t%s\t%s\tn/a\n' "${SNAME[$s]}" "$r" "$t" | tee -a "$OUT/runs.tsv"; continue
      fi
      t0=$(date +%s.%N); s0=$(grp_ticks "${PID[$t]}"); o0=$(grp_ticks "${PID[direct]}")
      kind=$(load "$s" "$t" "$f" "$DUR")
      t1=$(date +%s.%N); s1=$(grp_ticks "${PID[$t]}"); o1=$(grp_ticks "${PID[direct]}")
      res=$(python3 lib/stats.py parse "$kind" "$f")
      cpu=$(awk -v a="$s0" -v b="$s1" -v c="$o0" -v d="$o1" -v t0="$t0" -v t1="$t1" -v hz="$HZ" \
            'BEGIN {w = t1 - t0; printf "%.1f\t%.1f", (b-a)/hz/w*100, (d-c)/hz/w*100}')   # SUT and origin CPU %
      printf '%s\t%s\t%s\t%s\t%s\n' "${SNAME[$s]}" "$r" "$t" "$res" "$cpu" | tee -a "$OUT/runs.tsv"
      rm -f "$f.log"
    done
  done
done

{ echo; cat "$OUT/meta.txt"; echo
  [ "$MEM" = 1 ] && { echo "Idle keep-alive connections ($MEM_CONNS, HTTP/1.1, one GET each then idle):"; echo
                      python3 lib/stats.py memtable "$OUT/mem.tsv"; echo; }
  [ -s "$OUT/runs.tsv" ] && python3 lib/stats.py table "$OUT/runs.tsv"
} | tee "$OUT/results.md"
echo "raw outputs: $OUT" >&2
